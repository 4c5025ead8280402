using Microsoft.Extensions.Logging;

namespace Plexus.Broker.Retained;

internal static partial class RetainedLog
{
    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Migrated {Count} retained MQTT messages from {LegacyPath} to the journal {Path}")]
    public static partial void Migrated(ILogger logger, int count, string legacyPath, string path);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Warning, Message = "Retained-message journal {Path}: dropped a torn last record at byte {Offset} ({Length} bytes); it was being written when the server stopped and was never acknowledged")]
    public static partial void TornRecordDropped(ILogger logger, string path, long offset, long length);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Retained MQTT message refused (client {ClientId}, topic {Topic}): {Reason}")]
    public static partial void Refused(ILogger logger, string clientId, string topic, string reason);

    [LoggerMessage(EventId = 2304, Level = LogLevel.Error, Message = "Retained MQTT message could not be saved to {Path} (client {ClientId}, topic {Topic}); it is neither retained nor forwarded, and the publisher is told so")]
    public static partial void SaveFailed(ILogger logger, Exception error, string path, string clientId, string topic);

    [LoggerMessage(EventId = 2305, Level = LogLevel.Error, Message = "Retained-message journal {Path} could not be compacted; it keeps growing until the next try")]
    public static partial void CompactionFailed(ILogger logger, Exception error, string path);

    [LoggerMessage(EventId = 2306, Level = LogLevel.Warning, Message = "The {Count} retained MQTT messages loaded ({Bytes} bytes) exceed the limits ({MaxCount} messages, {MaxBytes} bytes: --mqtt-max-retained-messages, --mqtt-max-retained-bytes); new retained messages are refused until there is room")]
    public static partial void OverLimitAtLoad(ILogger logger, int count, long bytes, int maxCount, long maxBytes);
}
