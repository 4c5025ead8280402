using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Devices.Twin;

/// <summary>
/// One-off commands to devices and their outcome (docs/devices.md#desired-properties-and-commands): recorded in
/// <c>_plexus.device_commands</c> (the SQL view <c>main.device_commands</c>), published on
/// <c>devices/&lt;id&gt;/commands/&lt;name&gt;</c>, answered by the device on <c>devices/&lt;id&gt;/responses/&lt;command id&gt;</c>.
/// </summary>
/// <remarks>
/// Design note: each command moves through its states once, under one lock, and each move is written to the table
/// before it is seen:
/// <code>
///   send ─▶ pending ─▶ (publish) ─▶ delivered ─▶ succeeded | failed   (the device's answer)
///              │           │            └──────▶ timed_out            (the timer of the injected TimeProvider)
///              │           └─ no session of the device took it ─▶ failed at once
///              └─ the broker is off ─▶ refused, not recorded
/// </code>
/// A command goes to every MQTT session of the device subscribed to its topic, connected or persistent and offline
/// (then it waits there until the device reconnects, within its timeout: MQTT 5 sessions drop it when it expires).
/// When no session of the device takes it, it fails at once rather than waiting out its timeout for nobody.
/// Only waiting commands are in memory; the rest are read from the table. At start, waiting commands of the previous
/// run get their timers again with the time they have left.
/// </remarks>
public sealed class DeviceCommands : IDisposable
{
    public const string TableName = "_plexus.device_commands";

    /// <summary>The SQL view (namespace main); the measurement name is therefore reserved.</summary>
    public const string ViewName = "device_commands";

    public const int MaxNameLength = 64;

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Waiting> _waiting = new(StringComparer.Ordinal);
    private ITimer? _sweeper;
    private int _disposed;

    private DeviceCommands(MetadataConnection connection, DeviceCommandOptions options, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        Options = options;
        _time = time;
        _logger = logger;
    }

    public DeviceCommandOptions Options { get; }

    /// <summary>
    /// Publishes a command (the broker): the envelope on <c>devices/&lt;id&gt;/commands/&lt;name&gt;</c>, with MQTT 5's
    /// response topic and correlation data; while it runs, the broker calls <see cref="MarkDelivered"/> for each session
    /// of the device that takes it. Null while MQTT is off: commands are then refused.
    /// </summary>
    public Func<DeviceCommand, byte[], Task>? Publisher { get; set; }

    /// <summary>Commands waiting for an answer now, for tests and metrics.</summary>
    public int WaitingCount
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    public static DeviceCommands Open(PlexusStore store, DeviceCommandOptions? options = null, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            var commands = new DeviceCommands(connection, options ?? new DeviceCommandOptions(), time ?? TimeProvider.System, logger ?? NullLogger.Instance);
            commands.EnsureCreated();
            commands.ResumeWaiting();
            var every = SweepInterval(commands.Options.HistoryRetention);
            commands._sweeper = commands._time.CreateTimer(static state => ((DeviceCommands)state!).RemoveFinishedBefore(), commands, every, every);
            return commands;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Records a command and publishes it. Answers the command as it is after the publish: delivered (waiting for the
    /// answer), already answered, or failed because no session of the device took it.
    /// </summary>
    /// <param name="payload">The payload as JSON text (any JSON value), null for none.</param>
    /// <exception cref="RegistryException">Invalid name, payload or timeout; Conflict when MQTT is off or the device has too many commands waiting.</exception>
    public async Task<DeviceCommand> SendAsync(string device, string name, string? payload, TimeSpan? timeout)
    {
        DeviceValidation.RequireId(device);
        CheckName(name);
        payload ??= "null";
        int payloadBytes = Encoding.UTF8.GetByteCount(payload);
        if (payloadBytes > Options.MaxBytes)
        {
            throw RegistryException.TooLarge("payload", $"the payload takes {payloadBytes} bytes of JSON, the limit is {Options.MaxBytes} (--max-command-bytes); send a smaller payload or raise the limit");
        }

        var wait = timeout ?? (DeviceCommandOptions.DefaultTimeout < Options.MaxTimeout ? DeviceCommandOptions.DefaultTimeout : Options.MaxTimeout);
        if (wait < TimeSpan.FromSeconds(1) || wait > Options.MaxTimeout)
        {
            throw RegistryException.Invalid("timeout", $"the timeout must be between 1s and {Options.MaxTimeout.TotalSeconds}s (--max-command-timeout), not {wait.TotalSeconds}s");
        }

        var publish = Publisher ?? throw RegistryException.Conflict(null, "commands travel over MQTT, and this server runs with --mqtt off");
        var command = new DeviceCommand(NewId(), device, name, payload, CommandStatus.Pending, _time.GetUtcNow(), wait, null, null, null, null);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            int waitingForDevice = _waiting.Values.Count(w => string.Equals(w.Command.Device, device, StringComparison.Ordinal));
            if (waitingForDevice >= Options.MaxPendingPerDevice)
            {
                throw RegistryException.Conflict(null, $"device \"{device}\" already has {waitingForDevice} commands waiting for an answer, the limit is {Options.MaxPendingPerDevice} (--max-pending-commands); wait for them to finish or time out");
            }

            _connection.Execute(
                $"INSERT INTO {TableName} (id, device, name, payload, status, sent_at, timeout_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                command.Id, device, name, payload, DeviceCommand.StatusName(command.Status), command.SentAt.UtcDateTime, (long)wait.TotalMilliseconds);
            _waiting[command.Id] = new Waiting(command, _time.CreateTimer(static state => ((Expiry)state!).Fire(), new Expiry(this, command.Id), wait, Timeout.InfiniteTimeSpan));
        }

        string? error = null;
        try
        {
            await publish(command, Envelope(command));
        }
        catch (Exception failure) when (failure is not OutOfMemoryException)
        {
            _logger.LogWarning(failure, "Publishing command {Command} to device {Device} failed", command.Id, device);
            error = "the command could not be published: " + failure.Message;
        }

        lock (_lock)
        {
            if (_waiting.TryGetValue(command.Id, out var waiting) && waiting.Command.Status == CommandStatus.Pending)
            {
                Finish(waiting, CommandStatus.Failed, null, error ?? $"not delivered: no MQTT session of device \"{device}\" subscribes to {TwinTopics.Command(device, name)} (the device is offline without a persistent session, or has not subscribed)");
            }
        }

        return Get(device, command.Id)!;
    }

    /// <summary>A session of the device took the command (called by the broker while it publishes it).</summary>
    public void MarkDelivered(string device, string commandId)
    {
        lock (_lock)
        {
            if (_waiting.TryGetValue(commandId, out var waiting) && waiting.Command.Status == CommandStatus.Pending
                && string.Equals(waiting.Command.Device, device, StringComparison.Ordinal))
            {
                var delivered = waiting.Command with { Status = CommandStatus.Delivered, DeliveredAt = _time.GetUtcNow() };
                TryWrite(() => _connection.Execute($"UPDATE {TableName} SET status = $2, delivered_at = $3 WHERE id = $1", delivered.Id, DeviceCommand.StatusName(delivered.Status), delivered.DeliveredAt!.Value.UtcDateTime));
                waiting.Command = delivered;
            }
        }
    }

    /// <summary>
    /// The device's answer on its response topic: the command succeeds, or fails when the answer is a JSON object
    /// with <c>"status": "failed"</c>. False when the command is not this device's, unknown, or no longer waiting.
    /// </summary>
    public bool Answer(string device, string commandId, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(commandId);
        bool tooLarge = payload.Length > Options.MaxBytes;
        string? response = tooLarge ? null : Encoding.UTF8.GetString(payload);
        var status = tooLarge || SaysFailed(payload) ? CommandStatus.Failed : CommandStatus.Succeeded;
        lock (_lock)
        {
            if (!_waiting.TryGetValue(commandId, out var waiting) || !string.Equals(waiting.Command.Device, device, StringComparison.Ordinal))
            {
                return false;
            }

            Finish(waiting, status, response, tooLarge ? $"the answer took {payload.Length} bytes, the limit is {Options.MaxBytes} (--max-command-bytes); it was not kept" : null);
            return true;
        }
    }

    /// <summary>The device's command, waiting or done; null when the device has no command with that id.</summary>
    public DeviceCommand? Get(string device, string commandId)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(commandId);
        lock (_lock)
        {
            if (_waiting.TryGetValue(commandId, out var waiting))
            {
                return string.Equals(waiting.Command.Device, device, StringComparison.Ordinal) ? waiting.Command : null;
            }

            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            DeviceCommand? found = null;
            _connection.Query(
                $"SELECT id, device, name, payload, status, sent_at, timeout_ms, delivered_at, completed_at, response, error FROM {TableName} WHERE id = $1 AND device = $2",
                row => found = Read(row),
                commandId,
                device);
            return found;
        }
    }

    /// <summary>The command once it is done, or as it is when <paramref name="cancellationToken"/> ends the wait first.</summary>
    public async Task<DeviceCommand?> WaitAsync(string device, string commandId, CancellationToken cancellationToken)
    {
        Task<DeviceCommand>? done;
        lock (_lock)
        {
            done = _waiting.TryGetValue(commandId, out var waiting) && string.Equals(waiting.Command.Device, device, StringComparison.Ordinal) ? waiting.Done.Task : null;
        }

        if (done is not null)
        {
            try
            {
                return await done.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The caller stopped waiting (the client went away, or the server stops): answer what there is.
            }
        }

        return Get(device, commandId);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _sweeper?.Dispose();
            foreach (var waiting in _waiting.Values)
            {
                waiting.Timer.Dispose();
                waiting.Done.TrySetCanceled();
            }

            _waiting.Clear();
            _connection.Dispose();
        }
    }

    /// <summary>
    /// Removes the commands that finished (succeeded, failed, timed out) longer than <c>--command-history-retention</c>
    /// ago; waiting ones stay whatever their age. Run by a timer of the injected clock (<see cref="SweepInterval"/>).
    /// </summary>
    public void RemoveFinishedBefore()
    {
        lock (_lock)
        {
            if (_disposed != 0)
            {
                return;
            }

            var cutoff = _time.GetUtcNow() - Options.HistoryRetention;
            TryWrite(() => _connection.Execute(
                $"DELETE FROM {TableName} WHERE status IN ('succeeded', 'failed', 'timed_out') AND completed_at < $1",
                cutoff.UtcDateTime));
        }
    }

    /// <summary>How often finished commands are looked for: a tenth of the retention, between a second and an hour.</summary>
    public static TimeSpan SweepInterval(TimeSpan retention) =>
        TimeSpan.FromTicks(Math.Clamp(retention.Ticks / 10, TimeSpan.TicksPerSecond, TimeSpan.TicksPerHour));

    /// <summary>What the device receives: <c>{"id", "name", "payload", "response_topic", "sent_at", "expires_at"}</c>.</summary>
    public static byte[] Envelope(DeviceCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("id", command.Id);
            json.WriteString("name", command.Name);
            json.WritePropertyName("payload");
            json.WriteRawValue(command.Payload, skipInputValidation: true);
            json.WriteString("response_topic", command.ResponseTopic);
            json.WriteString("sent_at", command.SentAt);
            json.WriteString("expires_at", command.ExpiresAt);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Letters, digits, <c>_ - .</c>: a command name is one MQTT topic level.</summary>
    public static void CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength)
        {
            throw RegistryException.Invalid("name", $"the command name must be 1–{MaxNameLength} characters, like \"reboot\"");
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                throw RegistryException.Invalid("name", $"the command name \"{name}\" holds '{c}'; use letters, digits, '_', '-' and '.' only (it is an MQTT topic level)");
            }
        }
    }

    private static bool SaysFailed(ReadOnlySpan<byte> payload)
    {
        try
        {
            var reader = new Utf8JsonReader(payload);
            using var document = JsonDocument.ParseValue(ref reader);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("status", out var status)
                && status.ValueKind == JsonValueKind.String
                && status.ValueEquals("failed");
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    /// <summary>Ends a waiting command: written, out of memory, its waiters answered. Under the lock.</summary>
    private void Finish(Waiting waiting, CommandStatus status, string? response, string? error)
    {
        var done = waiting.Command with { Status = status, CompletedAt = _time.GetUtcNow(), Response = response, Error = error };
        TryWrite(() => _connection.Execute(
            $"UPDATE {TableName} SET status = $2, completed_at = $3, response = $4, error = $5 WHERE id = $1",
            done.Id, DeviceCommand.StatusName(done.Status), done.CompletedAt!.Value.UtcDateTime, response, error));
        waiting.Command = done;
        waiting.Timer.Dispose();
        _waiting.Remove(done.Id);
        waiting.Done.TrySetResult(done);
    }

    private void Expire(string commandId)
    {
        lock (_lock)
        {
            if (_disposed == 0 && _waiting.TryGetValue(commandId, out var waiting))
            {
                Finish(waiting, CommandStatus.TimedOut, null, $"no answer within {waiting.Command.Timeout.TotalSeconds}s");
            }
        }
    }

    // An outcome the table cannot take (the disk is full...) is still the outcome in memory and to the waiters; the
    // table keeps the previous status, which a restart then times out.
    private void TryWrite(Action write)
    {
        try
        {
            write();
        }
        catch (Exception error) when (error is not OutOfMemoryException and not ObjectDisposedException)
        {
            _logger.LogWarning(error, "Recording a command's status failed");
        }
    }

    private void EnsureCreated()
    {
        _connection.Execute("CREATE SCHEMA IF NOT EXISTS _plexus");
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {TableName} (
                id VARCHAR PRIMARY KEY,
                device VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                payload VARCHAR NOT NULL,
                status VARCHAR NOT NULL,
                sent_at TIMESTAMP NOT NULL,
                timeout_ms BIGINT NOT NULL,
                delivered_at TIMESTAMP,
                completed_at TIMESTAMP,
                response VARCHAR,
                error VARCHAR)
            """);
        _connection.Execute($"""
            CREATE OR REPLACE VIEW {DeviceDataNames.Namespace}.{ViewName} AS
            SELECT id, device, name, payload, status, sent_at, to_milliseconds(timeout_ms) AS timeout,
                   delivered_at, completed_at, response, error
            FROM {TableName}
            """);
    }

    private void ResumeWaiting()
    {
        var waiting = new List<DeviceCommand>();
        _connection.Query(
            $"SELECT id, device, name, payload, status, sent_at, timeout_ms, delivered_at, completed_at, response, error FROM {TableName} WHERE status IN ('pending', 'delivered')",
            row => waiting.Add(Read(row)));
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            // Under the lock: a timer already due fires at once, and must find its command.
            foreach (var command in waiting)
            {
                var left = command.ExpiresAt - now;
                _waiting[command.Id] = new Waiting(command, _time.CreateTimer(static state => ((Expiry)state!).Fire(), new Expiry(this, command.Id), left > TimeSpan.Zero ? left : TimeSpan.Zero, Timeout.InfiniteTimeSpan));
            }
        }
    }

    private static DeviceCommand Read(System.Data.Common.DbDataReader row)
    {
        static DateTimeOffset Utc(DateTime time) => new(DateTime.SpecifyKind(time, DateTimeKind.Utc));
        return new DeviceCommand(
            row.GetString(0),
            row.GetString(1),
            row.GetString(2),
            row.GetString(3),
            DeviceCommand.ParseStatus(row.GetString(4)),
            Utc(row.GetDateTime(5)),
            TimeSpan.FromMilliseconds(row.GetInt64(6)),
            row.IsDBNull(7) ? null : Utc(row.GetDateTime(7)),
            row.IsDBNull(8) ? null : Utc(row.GetDateTime(8)),
            row.IsDBNull(9) ? null : row.GetString(9),
            row.IsDBNull(10) ? null : row.GetString(10));
    }

    private sealed class Waiting(DeviceCommand command, ITimer timer)
    {
        public DeviceCommand Command { get; set; } = command;

        public ITimer Timer { get; } = timer;

        public TaskCompletionSource<DeviceCommand> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Expiry(DeviceCommands commands, string commandId)
    {
        public void Fire() => commands.Expire(commandId);
    }
}
