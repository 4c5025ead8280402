namespace Plexus.Devices.Twin;

/// <summary>Where a command is: sent and waiting, queued for the device's session, or done one of three ways.</summary>
public enum CommandStatus
{
    /// <summary>Recorded and being published.</summary>
    Pending,

    /// <summary>Queued for an MQTT session of the device (connected, or persistent and offline); waiting for its answer.</summary>
    Delivered,

    /// <summary>The device answered, and did not say <c>"status": "failed"</c>.</summary>
    Succeeded,

    /// <summary>The device answered <c>"status": "failed"</c>, or the command could not be delivered (see the error).</summary>
    Failed,

    /// <summary>No answer within the command's timeout.</summary>
    TimedOut,
}

/// <summary>One command to a device and its outcome, as <c>GET /api/v1/devices/{id}/commands/{commandId}</c> and <c>main.device_commands</c> show it.</summary>
public sealed record DeviceCommand(
    string Id,
    string Device,
    string Name,
    string Payload,
    CommandStatus Status,
    DateTimeOffset SentAt,
    TimeSpan Timeout,
    DateTimeOffset? DeliveredAt,
    DateTimeOffset? CompletedAt,
    string? Response,
    string? Error)
{
    public bool IsDone => Status is CommandStatus.Succeeded or CommandStatus.Failed or CommandStatus.TimedOut;

    public DateTimeOffset ExpiresAt => SentAt + Timeout;

    public string ResponseTopic => TwinTopics.Response(Device, Id);

    /// <summary>The status as the API and SQL write it: <c>pending</c>, <c>delivered</c>, <c>succeeded</c>, <c>failed</c>, <c>timed_out</c>.</summary>
    public static string StatusName(CommandStatus status) => status switch
    {
        CommandStatus.Pending => "pending",
        CommandStatus.Delivered => "delivered",
        CommandStatus.Succeeded => "succeeded",
        CommandStatus.Failed => "failed",
        _ => "timed_out",
    };

    public static CommandStatus ParseStatus(string name) => name switch
    {
        "pending" => CommandStatus.Pending,
        "delivered" => CommandStatus.Delivered,
        "succeeded" => CommandStatus.Succeeded,
        "failed" => CommandStatus.Failed,
        _ => CommandStatus.TimedOut,
    };
}

/// <summary>The limits of commands; each is a <c>plexus serve</c> option (docs/configuration.md).</summary>
public sealed record DeviceCommandOptions
{
    public const int DefaultMaxBytes = 64 * 1024;
    public const int DefaultMaxPendingPerDevice = 100;
    public static readonly TimeSpan DefaultHistoryRetention = TimeSpan.FromDays(30);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultMaxTimeout = TimeSpan.FromHours(1);

    /// <summary>The largest command payload and recorded response, in bytes (<c>--max-command-bytes</c>).</summary>
    public int MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>The longest timeout a command may ask for (<c>--max-command-timeout</c>); 30 s when it asks for none.</summary>
    public TimeSpan MaxTimeout { get; init; } = DefaultMaxTimeout;

    /// <summary>Commands of one device waiting for an answer at once (<c>--max-pending-commands</c>).</summary>
    public int MaxPendingPerDevice { get; init; } = DefaultMaxPendingPerDevice;

    /// <summary>How long a finished command stays in <c>main.device_commands</c> after it finished (<c>--command-history-retention</c>).</summary>
    public TimeSpan HistoryRetention { get; init; } = DefaultHistoryRetention;
}
