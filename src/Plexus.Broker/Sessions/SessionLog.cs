using Microsoft.Extensions.Logging;

namespace Plexus.Broker.Sessions;

internal static partial class SessionLog
{
    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "MQTT session file {Path} is damaged at byte {Offset} ({Detail}); the sessions before it are restored, the rest are lost, and the next save rewrites the file")]
    public static partial void FileDamaged(ILogger logger, string path, long offset, string detail);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Information, Message = "Restored {Sessions} persistent MQTT sessions with {Messages} queued messages from {Path} ({Expired} had expired)")]
    public static partial void Restored(ILogger logger, int sessions, int messages, string path, int expired);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Warning, Message = "MQTT sessions over --mqtt-max-session-store-bytes ({MaxBytes} bytes): {Sessions} sessions and {Messages} queued messages are not saved and would not survive a restart; raise the option or let subscribers catch up")]
    public static partial void OverLimit(ILogger logger, long maxBytes, int sessions, int messages);

    [LoggerMessage(EventId = 2404, Level = LogLevel.Error, Message = "MQTT sessions could not be saved to {Path}; the sessions are live, and the next save tries again")]
    public static partial void SaveFailed(ILogger logger, Exception error, string path);

    [LoggerMessage(EventId = 2405, Level = LogLevel.Warning, Message = "Persistent MQTT session {ClientId} not restored: {Reason}")]
    public static partial void NotRestored(ILogger logger, string clientId, string reason);
}
