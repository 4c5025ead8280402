using Microsoft.Extensions.Logging;

namespace Plexus.Broker;

internal static partial class BrokerLog
{
    [LoggerMessage(1, LogLevel.Information, "MQTT broker listening on {Endpoint}")]
    public static partial void Listening(ILogger logger, string endpoint);

    [LoggerMessage(2, LogLevel.Warning, "MQTT connection refused ({Reason}): client {ClientId}, user {UserName}, from {RemoteEndPoint}")]
    public static partial void ConnectionRefused(ILogger logger, string reason, string clientId, string? userName, string? remoteEndPoint);

    [LoggerMessage(3, LogLevel.Warning, "MQTT message not stored: device {DeviceId}, topic {Topic}, client {ClientId}: {Reason}")]
    public static partial void MessageRejected(ILogger logger, string deviceId, string topic, string? clientId, string reason);

    [LoggerMessage(4, LogLevel.Warning, "MQTT message partly stored ({Written} points; {Refused} refused): device {DeviceId}, topic {Topic}: {Reason}")]
    public static partial void MessagePartlyStored(ILogger logger, int written, int refused, string deviceId, string topic, string? reason);

    [LoggerMessage(5, LogLevel.Error, "MQTT message could not be stored (not acknowledged; the connection is closed so the client resends): device {DeviceId}, topic {Topic}")]
    public static partial void StoreFailed(ILogger logger, Exception error, string deviceId, string topic);

    [LoggerMessage(6, LogLevel.Warning, "MQTT subscriber {ClientId} fell {Limit} messages behind: dropped its oldest queued message (topic {Topic}); {Total} dropped since start")]
    public static partial void MessageDropped(ILogger logger, string clientId, int limit, string topic, long total);

    [LoggerMessage(7, LogLevel.Information, "MQTT broker stopping: waiting for {InFlight} device messages being stored")]
    public static partial void Stopping(ILogger logger, int inFlight);

    [LoggerMessage(8, LogLevel.Information, "MQTT broker stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(9, LogLevel.Information, "MQTT publish refused while stopping (not acknowledged): client {ClientId}, topic {Topic}")]
    public static partial void RefusedWhileStopping(ILogger logger, string? clientId, string topic);

    [LoggerMessage(10, LogLevel.Error, "Retained MQTT messages could not be saved to {Path}; the change is live but will not survive a restart")]
    public static partial void RetainedSaveFailed(ILogger logger, Exception error, string path);

    [LoggerMessage(11, LogLevel.Information, "Loaded {Count} retained MQTT messages from {Path}")]
    public static partial void RetainedLoaded(ILogger logger, int count, string path);
}
