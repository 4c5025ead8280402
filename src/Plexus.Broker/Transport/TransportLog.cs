using Microsoft.Extensions.Logging;

namespace Plexus.Broker.Transport;

/// <summary>Log messages of the MQTT listeners and the input limits; the unauthenticated ones are rate-limited by their callers.</summary>
internal static partial class TransportLog
{
    [LoggerMessage(EventId = 2232, Level = LogLevel.Warning, Message = "MQTT {Transport} connection from {Remote} refused at accept: {Reason}; {Suppressed} more refused since the last message")]
    public static partial void ConnectionRefused(ILogger logger, string transport, string remote, string reason, long suppressed);

    [LoggerMessage(EventId = 2233, Level = LogLevel.Warning, Message = "MQTT connection from {Remote} closed before its CONNECT: {Reason}; {Suppressed} more closed so since the last message")]
    public static partial void ClosedBeforeConnect(ILogger logger, string remote, string reason, long suppressed);

    [LoggerMessage(EventId = 2234, Level = LogLevel.Debug, Message = "MQTT over TLS: handshake with {Remote} failed: {Reason}")]
    public static partial void TlsHandshakeFailed(ILogger logger, string remote, string reason);
}
