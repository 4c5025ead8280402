using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Storage;

namespace Plexus.Devices.Twin;

/// <summary>A device's desired properties: the JSON object, its version (1 at the first change, +1 at each) and when it last changed.</summary>
public sealed record DesiredState(string Device, string Properties, long Version, DateTimeOffset UpdatedAt);

/// <summary>One desired key whose reported value differs or is missing (<c>delta</c> of <c>GET /api/v1/devices/{id}</c>).</summary>
public sealed record DesiredDifference(string Key, string Desired, string? Reported);

/// <summary>
/// Desired properties of every device (docs/devices.md#desired-properties-and-commands): durable in
/// <c>_plexus.device_desired</c> (the document and version) and <c>_plexus.device_desired_keys</c> (its flattened keys,
/// for the SQL view <c>main.device_desired</c> that sets them beside the reported values), kept in memory, and
/// delivered to the device as a retained MQTT message on <c>devices/&lt;id&gt;/desired</c>.
/// </summary>
/// <remarks>
/// Design note: the table is the truth. A change is committed (both tables in one transaction), then the memory map
/// is changed, then <see cref="Publisher"/> publishes the new document retained; changes are serialized by one async
/// gate from commit to publish, so the retained message is always the newest version, never an older one published
/// late. At start the broker takes every document as a retained message (<see cref="RetainedMessages"/>), so a device
/// that subscribes after a restart still gets its latest desired state; the broker's own retained journal does not
/// keep these messages, the table does.
/// </remarks>
public sealed class DesiredProperties : IDisposable
{
    public const string TableName = "_plexus.device_desired";
    public const string KeysTableName = "_plexus.device_desired_keys";

    /// <summary>The SQL view (namespace main); the measurement name is therefore reserved.</summary>
    public const string ViewName = "device_desired";

    public const int DefaultMaxBytes = 64 * 1024;

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _changeGate = new(1, 1);
    private readonly Dictionary<string, DesiredState> _states = new(StringComparer.Ordinal);
    private int _disposed;

    private DesiredProperties(MetadataConnection connection, int maxBytes, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        MaxBytes = maxBytes;
        _time = time;
        _logger = logger;
    }

    /// <summary>The largest desired document of one device, in bytes of compact JSON (<c>--max-desired-bytes</c>).</summary>
    public int MaxBytes { get; }

    /// <summary>
    /// Publishes a device's desired message retained on <c>devices/&lt;id&gt;/desired</c> (the broker); an empty
    /// payload clears the retained message. Null while MQTT is off: the state is still kept and shown.
    /// </summary>
    public Func<string, byte[], Task>? Publisher { get; set; }

    /// <summary>
    /// Creates the tables and the view if needed and loads every document. Open after the live state: the view
    /// joins <c>main.device_state</c>.
    /// </summary>
    public static DesiredProperties Open(PlexusStore store, int maxBytes = DefaultMaxBytes, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 2);
        var connection = store.OpenMetadataConnection();
        try
        {
            var desired = new DesiredProperties(connection, maxBytes, time ?? TimeProvider.System, logger ?? NullLogger.Instance);
            desired.EnsureCreated();
            desired.Load();
            return desired;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public DesiredState? Get(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        lock (_lock)
        {
            return _states.GetValueOrDefault(device);
        }
    }

    /// <summary>Every device's desired message, for the broker's retained messages at start.</summary>
    public IReadOnlyList<(string Topic, byte[] Payload)> RetainedMessages()
    {
        lock (_lock)
        {
            return [.. _states.Values.Select(state => (TwinTopics.Desired(state.Device), Message(state)))];
        }
    }

    /// <summary>
    /// Merges <paramref name="patch"/> into the device's desired properties (JSON merge patch), commits, and publishes
    /// the result. A patch that changes nothing keeps the version and publishes nothing.
    /// </summary>
    /// <exception cref="Core.RegistryException">Invalid: what is wrong with the patch, naming the field.</exception>
    public async Task<DesiredState> PatchAsync(string device, JsonElement patch, CancellationToken cancellationToken = default)
    {
        DeviceValidation.RequireId(device);
        await _changeGate.WaitAsync(cancellationToken);
        try
        {
            DesiredState? current = Get(device);
            string properties = DesiredDocument.Apply(current?.Properties, patch, MaxBytes);
            if (current is not null && string.Equals(properties, current.Properties, StringComparison.Ordinal))
            {
                return current;
            }

            var changed = new DesiredState(device, properties, (current?.Version ?? 0) + 1, _time.GetUtcNow());
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed != 0, this);
                _connection.InTransaction(() =>
                {
                    _connection.Execute($"INSERT OR REPLACE INTO {TableName} (device, properties, version, updated_at) VALUES ($1, $2, $3, $4)", device, properties, changed.Version, changed.UpdatedAt.UtcDateTime);
                    WriteKeys(device, properties);
                });
                _states[device] = changed;
            }

            await PublishAsync(device, Message(changed));
            return changed;
        }
        finally
        {
            _changeGate.Release();
        }
    }

    /// <summary>Forgets a removed device's desired properties and clears its retained message. False when it had none.</summary>
    public async Task<bool> RemoveAsync(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        await _changeGate.WaitAsync();
        try
        {
            lock (_lock)
            {
                if (_disposed != 0 || !_states.Remove(device))
                {
                    return false;
                }

                _connection.InTransaction(() =>
                {
                    _connection.Execute($"DELETE FROM {TableName} WHERE device = $1", device);
                    _connection.Execute($"DELETE FROM {KeysTableName} WHERE device = $1", device);
                });
            }

            await PublishAsync(device, []);
            return true;
        }
        finally
        {
            _changeGate.Release();
        }
    }

    /// <summary>
    /// The desired keys whose reported value differs or is missing; <paramref name="reported"/> gives a reported
    /// property's text or null. Numbers compare by value (<c>5</c> and <c>5.0</c> agree), everything else as text.
    /// </summary>
    public static IReadOnlyList<DesiredDifference> Delta(DesiredState state, Func<string, string?> reported)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(reported);
        var delta = new List<DesiredDifference>();
        foreach (var (key, desired) in DesiredDocument.Flatten(state.Properties))
        {
            string? value = reported(key);
            if (value is null || !SameValue(desired, value))
            {
                delta.Add(new DesiredDifference(key, desired, value));
            }
        }

        return delta;
    }

    /// <summary>What the device receives: <c>{"version": 3, "updated_at": "…", "properties": {…}}</c>.</summary>
    public static byte[] Message(DesiredState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("version", state.Version);
            json.WriteString("updated_at", state.UpdatedAt);
            json.WritePropertyName("properties");
            json.WriteRawValue(state.Properties, skipInputValidation: true);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _connection.Dispose();
            }
        }
    }

    private static bool SameValue(string desired, string reported) =>
        string.Equals(desired, reported, StringComparison.Ordinal)
        || (double.TryParse(desired, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double a)
            && double.TryParse(reported, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double b)
            && a == b);

    private async Task PublishAsync(string device, byte[] payload)
    {
        if (Publisher is not { } publish)
        {
            return;
        }

        try
        {
            await publish(device, payload);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // The change is committed: the broker takes it as a retained message at its next start. Until then a
            // device that subscribes gets the previous version, which its version number shows to be old.
            _logger.LogWarning(error, "Publishing the desired properties of device {Device} failed; the change is stored and is delivered after the next restart", device);
        }
    }

    private void WriteKeys(string device, string properties)
    {
        _connection.Execute($"DELETE FROM {KeysTableName} WHERE device = $1", device);
        foreach (var (key, value) in DesiredDocument.Flatten(properties))
        {
            _connection.Execute($"INSERT INTO {KeysTableName} (device, key, value) VALUES ($1, $2, $3)", device, key, value);
        }
    }

    private void EnsureCreated()
    {
        _connection.Execute("CREATE SCHEMA IF NOT EXISTS _plexus");
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {TableName} (
                device VARCHAR PRIMARY KEY,
                properties VARCHAR NOT NULL,
                version BIGINT NOT NULL,
                updated_at TIMESTAMP NOT NULL)
            """);
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {KeysTableName} (
                device VARCHAR NOT NULL,
                key VARCHAR NOT NULL,
                value VARCHAR NOT NULL,
                PRIMARY KEY (device, key))
            """);

        // One row per desired key: the reported value beside it (main.device_state's text, within one flush of the
        // live state) and whether they agree, numbers by value.
        _connection.Execute($"""
            CREATE OR REPLACE VIEW {DeviceDataNames.Namespace}.{ViewName} AS
            SELECT k.device, k.key, k.value AS desired, s.properties[k.key] AS reported,
                   coalesce(TRY_CAST(k.value AS DOUBLE) = TRY_CAST(s.properties[k.key] AS DOUBLE) OR k.value = s.properties[k.key], false) AS in_sync,
                   d.version, d.updated_at
            FROM {KeysTableName} k
            JOIN {TableName} d ON d.device = k.device
            LEFT JOIN {DeviceDataNames.Namespace}.{DeviceDataNames.DeviceState} s ON s.device = k.device
            """);
    }

    private void Load()
    {
        _connection.Query(
            $"SELECT device, properties, version, updated_at FROM {TableName}",
            row =>
            {
                var state = new DesiredState(row.GetString(0), row.GetString(1), row.GetInt64(2), new DateTimeOffset(DateTime.SpecifyKind(row.GetDateTime(3), DateTimeKind.Utc)));
                _states[state.Device] = state;
            });
    }
}
