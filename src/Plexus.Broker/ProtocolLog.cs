using Microsoft.Extensions.Logging;

namespace Plexus.Broker;

internal static partial class ProtocolLog
{
    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "MQTT over TLS listening on {Endpoint}")]
    public static partial void TlsListening(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "MQTT packet too large from client {ClientId} ({Remote}): {Size} bytes announced, the limit is {Limit} (--mqtt-max-message-size); the client is disconnected before the packet is read")]
    public static partial void PacketTooLarge(ILogger logger, string clientId, string remote, long size, int limit);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "MQTT client {ClientId} publishes faster than {Rate} messages/s (--mqtt-max-rate): its QoS 1/2 messages are delayed, QoS 0 dropped ({Dropped} dropped, {Delayed} delayed in total); logged at most every 10 s per client")]
    public static partial void Throttled(ILogger logger, string clientId, double rate, long dropped, long delayed);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Debug, Message = "MQTT client {ClientId} disconnect failed: {Reason}")]
    public static partial void DisconnectFailed(ILogger logger, string clientId, string reason);

    [LoggerMessage(EventId = 2205, Level = LogLevel.Debug, Message = "MQTT client {ClientId} joined shared subscription group {Group} for {Filter}")]
    public static partial void SharedSubscribed(ILogger logger, string clientId, string group, string filter);

    [LoggerMessage(EventId = 2206, Level = LogLevel.Debug, Message = "MQTT message not sent to client {ClientId} (topic {Topic}): its message expiry interval ran out while queued")]
    public static partial void ExpiredNotSent(ILogger logger, string clientId, string? topic);

    [LoggerMessage(EventId = 2207, Level = LogLevel.Debug, Message = "MQTT message not sent to client {ClientId} (topic {Topic}): larger than the {Maximum} bytes the client accepts")]
    public static partial void TooLargeForClient(ILogger logger, string clientId, string? topic, uint maximum);

    [LoggerMessage(EventId = 2208, Level = LogLevel.Warning, Message = "MQTT client {ClientId} ({Remote}) disconnected with {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, string clientId, string remote, string reason);
}
