using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage;
using Plexus.Storage.Writing;

namespace Plexus.Devices;

/// <summary>
/// The live state of every device: online, last seen, reported properties, last position and
/// dead-letter counts, kept in memory and backed by history in the store.
/// </summary>
/// <remarks>
/// Design note: the history is the truth, memory is a cache of it, and <c>_plexus.device_state</c> is a snapshot of
/// memory for SQL.
/// <code>
///   state message ─▶ compare with live values (per-device gate) ─▶ changed properties ─▶ state_history (durable)
///                                                                                     └▶ live values
///   connect/disconnect ─▶ state_history row "online" with reason ─▶ live online/last_seen
///   any device message ─▶ last_seen (memory only) ─┐
///                                                   └▶ dirty set ─▶ every FlushInterval: INSERT OR REPLACE into
///                                                      _plexus.device_state (view main.device_state)
///   start: latest per device/property from state_history, newest position from positions, dead letters per
///          device; devices last recorded online get online=false reason=server-restart
/// </code>
/// The history goes through the store's writer (group commit, fsync before the caller continues); the snapshot
/// table is written on this class's own connection, so SQL sees a change within one flush interval while
/// <see cref="Get"/> sees it at once. Nothing here throws into the broker: a failed write is logged.
/// </remarks>
public sealed class DeviceLiveState : IAsyncDisposable
{
    /// <summary>Dead-letter payloads are kept up to this many bytes (as text).</summary>
    public const int MaxDeadLetterPayloadBytes = 1024;

    private const int MaxReasonChars = 1024;

    private static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    private readonly PlexusStore _store;
    private readonly IPointWriter _writer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MetadataConnection _connection;
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _flushGate = new(1, 1);
    private Task _flushLoop = Task.CompletedTask;
    private long _deadLettersTotal;
    private int _stopping;
    private int _disposed;

    private DeviceLiveState(PlexusStore store, IPointWriter writer, TimeProvider time, ILogger logger, TimeSpan flushInterval)
    {
        _store = store;
        _writer = writer;
        _time = time;
        _logger = logger;
        FlushInterval = flushInterval;
        _connection = store.OpenMetadataConnection();
    }

    /// <summary>How often changes reach <c>main.device_state</c> in SQL.</summary>
    public TimeSpan FlushInterval { get; }

    /// <summary>
    /// The registry's measurement allow-lists, which the broker applies to the device data it is given with this
    /// state (it knows the registry through nothing else); null lets every device write any measurement.
    /// </summary>
    public MeasurementAllowLists? AllowLists { get; set; }

    /// <summary>Dead letters recorded since the database was created.</summary>
    public long DeadLettersTotal => Interlocked.Read(ref _deadLettersTotal);

    /// <summary>
    /// Creates the snapshot table and the <c>main.device_state</c> view, loads the live state from history and
    /// records <c>online=false reason=server-restart</c> for devices the last run left online. Call after the
    /// registry is open (the view joins it) and before the broker accepts connections.
    /// </summary>
    /// <param name="writer">The store's writer, not one that refuses the reserved names this class writes.</param>
    public static async Task<DeviceLiveState> OpenAsync(PlexusStore store, IPointWriter writer, TimeProvider? time = null, ILogger? logger = null, TimeSpan? flushInterval = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(writer);
        var state = new DeviceLiveState(store, writer, time ?? TimeProvider.System, logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, flushInterval ?? TimeSpan.FromSeconds(1));
        try
        {
            state.EnsureCreated();
            state.Load();
            await state.MarkRestartedOfflineAsync();
            state.RewriteSnapshot();
            state._flushLoop = state.FlushLoopAsync();
            return state;
        }
        catch
        {
            state._connection.Dispose();
            throw;
        }
    }

    /// <summary>Known devices: those seen since the database was created (registered or not).</summary>
    public int Count => _entries.Count;

    public DeviceStateSnapshot? Get(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!_entries.TryGetValue(device, out var entry))
        {
            return null;
        }

        lock (entry.Sync)
        {
            var properties = new SortedDictionary<string, PropertySnapshot>(StringComparer.Ordinal);
            foreach (var (name, value) in entry.Properties)
            {
                properties[name] = new PropertySnapshot(value.Value, value.Number, value.Kind, FromNanoseconds(value.TimeNs));
            }

            return new DeviceStateSnapshot(
                device,
                entry.Online,
                entry.LastSeenNs == 0 ? null : FromNanoseconds(entry.LastSeenNs),
                entry.LastReason,
                entry.LastReasonNs == 0 ? null : FromNanoseconds(entry.LastReasonNs),
                properties,
                entry.HasPosition ? new PositionSnapshot(entry.Lat, entry.Lon, FromNanoseconds(entry.PositionNs)) : null,
                entry.DeadLetters);
        }
    }

    /// <summary>The last value and time of every field of every measurement in <c>main</c> carrying the device (SQL, by time).</summary>
    public IReadOnlyList<LastValue> LastValues(string device) => DeviceLastValues.Query(_store, device);

    /// <summary>Dead letters per device, highest first.</summary>
    public IReadOnlyList<KeyValuePair<string, long>> DeadLettersPerDevice() =>
        [.. _entries.Where(e => Volatile.Read(ref e.Value.DeadLetters) > 0)
            .Select(e => new KeyValuePair<string, long>(e.Key, Volatile.Read(ref e.Value.DeadLetters)))
            .OrderByDescending(e => e.Value).ThenBy(e => e.Key, StringComparer.Ordinal)];

    /// <summary>A message from the device arrived: last_seen moves. Memory only; reaches SQL with the next flush.</summary>
    public void Touch(string device)
    {
        var entry = EntryOf(device);
        Volatile.Write(ref entry.LastSeenNs, Now());
        MarkDirty(device);
    }

    /// <summary>Keeps the newest position by its own time, so late positions do not move the device backwards.</summary>
    public void NotePosition(string device, double lat, double lon, long timeNs)
    {
        var entry = EntryOf(device);
        lock (entry.Sync)
        {
            if (entry.HasPosition && timeNs < entry.PositionNs)
            {
                return;
            }

            entry.HasPosition = true;
            entry.Lat = lat;
            entry.Lon = lon;
            entry.PositionNs = timeNs;
        }

        MarkDirty(device);
    }

    /// <summary>
    /// Merges reported properties into the live state and records each change in <c>state_history</c>; completes
    /// after the history is durable. A property reported with a time older than its live value goes to history only.
    /// Throws the store's exception when the commit fails (the live values are then unchanged).
    /// </summary>
    public async Task<StateChangeResult> ApplyReportedAsync(string device, IReadOnlyList<ReportedProperty> properties, long? timeNs)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(properties);
        var entry = EntryOf(device);
        long now = Now();
        Volatile.Write(ref entry.LastSeenNs, now);
        await entry.Gate.WaitAsync();
        try
        {
            long time = timeNs ?? NextTime(entry, now);
            var changed = new List<ReportedProperty>();
            lock (entry.Sync)
            {
                foreach (var property in properties)
                {
                    if (!entry.Properties.TryGetValue(property.Name, out var live) || !SameValue(live, property))
                    {
                        changed.Add(property);
                    }
                }
            }

            if (changed.Count > 0)
            {
                var batch = new PointBatch(changed.Count);
                foreach (var property in changed)
                {
                    AddHistoryPoint(batch, device, property.Name, property.Value, property.Number, reason: null, time);
                }

                await WriteAsync(batch);
                lock (entry.Sync)
                {
                    foreach (var property in changed)
                    {
                        if (!entry.Properties.TryGetValue(property.Name, out var live) || time >= live.TimeNs)
                        {
                            entry.Properties[property.Name] = new LiveProperty(property.Value, property.Number, property.Kind, time);
                        }
                    }

                    entry.LastHistoryNs = Math.Max(entry.LastHistoryNs, time);
                }
            }

            MarkDirty(device);
            return new StateChangeResult(properties.Count, changed.Count, null);
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>A device connection was accepted: <c>online=true reason=connect</c>. Never throws.</summary>
    public Task RecordConnectedAsync(string device) => RecordConnectivityAsync(device, +1, ConnectivityReasons.Connect);

    /// <summary>
    /// A device connection ended. The row's value is whether the device is still online (another connection may
    /// remain); while the server stops the reason is <c>server-stop</c>. Never throws.
    /// </summary>
    public Task RecordDisconnectedAsync(string device, string reason) =>
        RecordConnectivityAsync(device, -1, Volatile.Read(ref _stopping) != 0 ? ConnectivityReasons.ServerStop : reason);

    /// <summary>From now on disconnections are recorded as <c>server-stop</c>. Call before the broker stops.</summary>
    public void MarkStopping() => Volatile.Write(ref _stopping, 1);

    /// <summary>
    /// Records an undecodable or refused device message: a row in <c>dead_letters</c> and the counters. Never throws:
    /// a failed write is logged and the counters still count.
    /// </summary>
    public async Task RecordDeadLetterAsync(string device, string topic, string reason, ReadOnlySequence<byte> payload, string? contentType)
    {
        try
        {
            Interlocked.Increment(ref _deadLettersTotal);
            var entry = EntryOf(device);
            Interlocked.Increment(ref entry.DeadLetters);
            Volatile.Write(ref entry.LastSeenNs, Now());
            MarkDirty(device);

            var batch = new PointBatch(1);
            batch.BeginPoint(Encoding.UTF8.GetBytes(DeviceDataNames.DeadLetters), 1);
            AddTag(batch, "device", device);
            AddString(batch, "topic", topic);
            AddString(batch, "reason", reason.Length > MaxReasonChars ? reason[..MaxReasonChars] + "…" : reason);
            AddString(batch, "payload", PayloadText(payload));
            AddString(batch, "content_type", contentType ?? string.Empty);
            batch.EndPoint(Now());
            await WriteAsync(batch);
        }
        catch (Exception error)
        {
            DeviceStateLog.DeadLetterFailed(_logger, error, device, topic);
        }
    }

    /// <summary>Writes the dirty devices to <c>_plexus.device_state</c> now (the flush loop does it every interval).</summary>
    public void Flush()
    {
        _flushGate.Wait();
        try
        {
            FlushDirty();
        }
        finally
        {
            _flushGate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Connections the broker closed while stopping are not reported by MQTTnet; close their history here.
        try
        {
            await MarkOfflineAsync(ConnectivityReasons.ServerStop);
        }
        catch (Exception error)
        {
            DeviceStateLog.ConnectivityFailed(_logger, error, "(all online)", ConnectivityReasons.ServerStop);
        }

        await _stop.CancelAsync();
        try
        {
            await _flushLoop;
        }
        catch (OperationCanceledException)
        {
        }

        try
        {
            Flush();
        }
        catch (Exception error) when (error is DuckDBException or InvalidOperationException)
        {
            DeviceStateLog.FlushFailed(_logger, error);
        }

        _connection.Dispose();
        _stop.Dispose();
        _flushGate.Dispose();
    }

    private async Task RecordConnectivityAsync(string device, int delta, string reason)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        try
        {
            var entry = EntryOf(device);
            long now = Now();
            await entry.Gate.WaitAsync();
            try
            {
                bool online;
                lock (entry.Sync)
                {
                    entry.Connections = Math.Max(0, entry.Connections + delta);
                    online = entry.Connections > 0;
                }

                long time = NextTime(entry, now);
                var batch = new PointBatch(1);
                string value = online ? "true" : "false";
                AddHistoryPoint(batch, device, DeviceDataNames.OnlineProperty, value, online ? 1 : 0, reason, time);
                await WriteAsync(batch);
                lock (entry.Sync)
                {
                    entry.Online = online;
                    entry.LastReason = reason;
                    entry.LastReasonNs = time;
                    entry.LastHistoryNs = time;
                    entry.LastSeenNs = Math.Max(entry.LastSeenNs, delta > 0 ? now : entry.LastSeenNs);
                }

                MarkDirty(device);
            }
            finally
            {
                entry.Gate.Release();
            }
        }
        catch (Exception error)
        {
            DeviceStateLog.ConnectivityFailed(_logger, error, device, reason);
        }
    }

    private async Task WriteAsync(PointBatch batch)
    {
        var result = await _writer.WriteAsync(DeviceDataNames.Namespace, batch, CancellationToken.None);
        if (result.Rejected.Count > 0)
        {
            // Only a schema someone else forced on these measurements gets here (they are reserved for this class).
            throw new InvalidOperationException($"the store refused device state: {result.Rejected[0].Reason}");
        }
    }

    private Entry EntryOf(string device) => _entries.GetOrAdd(device, static _ => new Entry());

    private void MarkDirty(string device) => _dirty.TryAdd(device, 0);

    private long Now() => (_time.GetUtcNow() - Epoch).Ticks * 100;

    /// <summary>History rows of one device get strictly increasing times, so the latest row is the latest event.</summary>
    private static long NextTime(Entry entry, long now)
    {
        lock (entry.Sync)
        {
            return now > entry.LastHistoryNs ? now : entry.LastHistoryNs + 1;
        }
    }

    private static bool SameValue(LiveProperty live, ReportedProperty reported) =>
        live.Number is { } a && reported.Number is { } b && live.Kind == reported.Kind
            ? a.Equals(b)
            : live.Kind == reported.Kind && string.Equals(live.Value, reported.Value, StringComparison.Ordinal);

    private static void AddHistoryPoint(PointBatch batch, string device, string property, string value, double? number, string? reason, long time)
    {
        batch.BeginPoint(Encoding.UTF8.GetBytes(DeviceDataNames.StateHistory), 1);
        AddTag(batch, "device", device);
        AddTag(batch, "property", property);
        AddString(batch, "value", value);
        if (number is { } n)
        {
            batch.AddFloat(batch.AppendText("value_num"u8), n);
        }

        if (reason is not null)
        {
            AddString(batch, "reason", reason);
        }

        batch.EndPoint(time);
    }

    private static void AddTag(PointBatch batch, string key, string value) =>
        batch.AddTag(batch.AppendText(Encoding.UTF8.GetBytes(key)), batch.AppendText(Encoding.UTF8.GetBytes(value)));

    private static void AddString(PointBatch batch, string key, string value) =>
        batch.AddString(batch.AppendText(Encoding.UTF8.GetBytes(key)), batch.AppendText(Encoding.UTF8.GetBytes(value)));

    /// <summary>The first bytes of the payload as text: invalid UTF-8 becomes U+FFFD, control characters '?'.</summary>
    internal static string PayloadText(ReadOnlySequence<byte> payload)
    {
        int length = (int)Math.Min(payload.Length, MaxDeadLetterPayloadBytes);
        byte[] bytes = payload.Slice(0, length).ToArray();
        var text = new StringBuilder(Encoding.UTF8.GetString(bytes));
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsControl(text[i]) && text[i] is not ('\n' or '\r' or '\t'))
            {
                text[i] = '?';
            }
        }

        if (payload.Length > length)
        {
            text.Append('…');
        }

        return text.ToString();
    }

    private void EnsureCreated()
    {
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {DeviceDataNames.DeviceStateTable} (
                device VARCHAR PRIMARY KEY,
                online BOOLEAN NOT NULL,
                last_seen TIMESTAMP,
                properties VARCHAR NOT NULL,
                lat DOUBLE,
                lon DOUBLE,
                position_time TIMESTAMP)
            """);

        // One row per registered or seen device; properties as MAP(VARCHAR, VARCHAR) so SQL can say properties['firmware'].
        _connection.Execute($$"""
            CREATE OR REPLACE VIEW {{DeviceDataNames.Namespace}}.{{DeviceDataNames.DeviceState}} AS
            SELECT coalesce(s.device, d.id) AS device,
                   coalesce(s.online, false) AS online,
                   s.last_seen,
                   CAST(json(coalesce(s.properties, '{}')) AS MAP(VARCHAR, VARCHAR)) AS properties,
                   s.lat, s.lon, s.position_time
            FROM {{DeviceDataNames.DeviceStateTable}} s FULL OUTER JOIN {{DeviceRegistry.TableName}} d ON d.id = s.device
            """);
    }

    private void Load()
    {
        var views = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _connection.Query($"SELECT view_name FROM duckdb_views() WHERE schema_name = '{DeviceDataNames.Namespace}' AND NOT internal", r => views.Add(r.GetString(0)));
        _connection.Query($"SELECT column_name FROM duckdb_columns() WHERE schema_name = '{DeviceDataNames.Namespace}' AND table_name = '{DeviceDataNames.StateHistory}'", r => columns.Add(r.GetString(0)));

        if (views.Contains(DeviceDataNames.StateHistory) && columns.Contains("device") && columns.Contains("property") && columns.Contains("value"))
        {
            string number = columns.Contains("value_num") ? "arg_max(value_num, time)" : "NULL::DOUBLE";
            string reason = columns.Contains("reason") ? "arg_max(reason, time)" : "NULL::VARCHAR";
            _connection.Query(
                $"SELECT device, property, arg_max(value, time), {number}, {reason}, epoch_ns(max(time)) FROM {DeviceDataNames.Namespace}.{DeviceDataNames.StateHistory} " +
                "WHERE device IS NOT NULL AND property IS NOT NULL AND value IS NOT NULL GROUP BY ALL",
                r =>
                {
                    var entry = EntryOf(r.GetString(0));
                    string property = r.GetString(1);
                    string value = r.GetString(2);
                    double? num = r.IsDBNull(3) ? null : r.GetDouble(3);
                    long time = r.GetInt64(5);
                    entry.LastHistoryNs = Math.Max(entry.LastHistoryNs, time);
                    entry.LastSeenNs = Math.Max(entry.LastSeenNs, time);
                    if (string.Equals(property, DeviceDataNames.OnlineProperty, StringComparison.Ordinal))
                    {
                        entry.Online = string.Equals(value, "true", StringComparison.Ordinal);
                        entry.LastReason = r.IsDBNull(4) ? null : r.GetString(4);
                        entry.LastReasonNs = time;
                    }
                    else
                    {
                        entry.Properties[property] = new LiveProperty(value, num, KindOf(value, num), time);
                    }
                });
        }

        if (views.Contains(DeviceDataNames.Positions) && HasColumns(DeviceDataNames.Positions, "device", "lat", "lon"))
        {
            _connection.Query(
                $"SELECT device, arg_max(lat, time), arg_max(lon, time), epoch_ns(max(time)) FROM {DeviceDataNames.Namespace}.{DeviceDataNames.Positions} " +
                "WHERE device IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL GROUP BY ALL",
                r =>
                {
                    var entry = EntryOf(r.GetString(0));
                    entry.HasPosition = true;
                    entry.Lat = r.GetDouble(1);
                    entry.Lon = r.GetDouble(2);
                    entry.PositionNs = r.GetInt64(3);
                });
        }

        if (views.Contains(DeviceDataNames.DeadLetters) && HasColumns(DeviceDataNames.DeadLetters, "device"))
        {
            _connection.Query($"SELECT device, count(*) FROM {DeviceDataNames.Namespace}.{DeviceDataNames.DeadLetters} WHERE device IS NOT NULL GROUP BY ALL", r =>
            {
                long count = r.GetInt64(1);
                EntryOf(r.GetString(0)).DeadLetters = count;
                _deadLettersTotal += count;
            });
        }

        // last_seen of plain telemetry is not in any history: the previous run's snapshot keeps it.
        _connection.Query($"SELECT device, epoch_ns(last_seen) FROM {DeviceDataNames.DeviceStateTable} WHERE last_seen IS NOT NULL", r =>
        {
            var entry = EntryOf(r.GetString(0));
            entry.LastSeenNs = Math.Max(entry.LastSeenNs, r.GetInt64(1));
        });
    }

    private bool HasColumns(string view, params string[] names)
    {
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _connection.Query($"SELECT column_name FROM duckdb_columns() WHERE schema_name = '{DeviceDataNames.Namespace}' AND table_name = '{view}'", r => columns.Add(r.GetString(0)));
        return names.All(columns.Contains);
    }

    private static ReportedKind KindOf(string value, double? number) => (value, number) switch
    {
        ("true" or "false", not null) => ReportedKind.Boolean,
        (_, not null) => ReportedKind.Number,
        ("null", null) => ReportedKind.Null,
        _ when value.StartsWith('[') => ReportedKind.Json,
        _ => ReportedKind.String,
    };

    private Task MarkRestartedOfflineAsync() => MarkOfflineAsync(ConnectivityReasons.ServerRestart);

    private async Task MarkOfflineAsync(string reason)
    {
        var online = _entries.Where(e => e.Value.Online).Select(e => e.Key).Order(StringComparer.Ordinal).ToList();
        if (online.Count == 0)
        {
            return;
        }

        long now = Now();
        var batch = new PointBatch(online.Count);
        foreach (string device in online)
        {
            var entry = _entries[device];
            long time = NextTime(entry, now);
            AddHistoryPoint(batch, device, DeviceDataNames.OnlineProperty, "false", 0, reason, time);
            entry.Online = false;
            entry.Connections = 0;
            entry.LastReason = reason;
            entry.LastReasonNs = time;
            entry.LastHistoryNs = time;
        }

        await WriteAsync(batch);
        foreach (string device in online)
        {
            MarkDirty(device);
        }

        DeviceStateLog.MarkedOffline(_logger, online.Count, reason);
    }

    private void RewriteSnapshot()
    {
        _connection.InTransaction(() =>
        {
            _connection.Execute($"DELETE FROM {DeviceDataNames.DeviceStateTable}");
            foreach (string device in _entries.Keys)
            {
                Upsert(device);
            }
        });
        _dirty.Clear();
    }

    private async Task FlushLoopAsync()
    {
        using var timer = new PeriodicTimer(FlushInterval, _time);
        while (await timer.WaitForNextTickAsync(_stop.Token))
        {
            if (_dirty.IsEmpty)
            {
                continue;
            }

            try
            {
                Flush();
            }
            catch (Exception error) when (error is DuckDBException or InvalidOperationException)
            {
                DeviceStateLog.FlushFailed(_logger, error);
            }
        }
    }

    private void FlushDirty()
    {
        if (_dirty.IsEmpty)
        {
            return;
        }

        var devices = _dirty.Keys.ToList();
        foreach (string device in devices)
        {
            _dirty.TryRemove(device, out _);
        }

        try
        {
            _connection.InTransaction(() =>
            {
                foreach (string device in devices)
                {
                    Upsert(device);
                }
            });
        }
        catch
        {
            // Tried again with the next flush.
            foreach (string device in devices)
            {
                MarkDirty(device);
            }

            throw;
        }
    }

    private void Upsert(string device)
    {
        var entry = _entries[device];
        bool online;
        long lastSeen;
        string properties;
        object lat, lon, positionTime;
        lock (entry.Sync)
        {
            online = entry.Online;
            lastSeen = entry.LastSeenNs;
            properties = PropertiesJson(entry);
            lat = entry.HasPosition ? entry.Lat : DBNull.Value;
            lon = entry.HasPosition ? entry.Lon : DBNull.Value;
            positionTime = entry.HasPosition ? FromNanoseconds(entry.PositionNs).UtcDateTime : DBNull.Value;
        }

        _connection.Execute(
            $"INSERT OR REPLACE INTO {DeviceDataNames.DeviceStateTable} VALUES ($1, $2, $3, $4, $5, $6, $7)",
            device, online, lastSeen == 0 ? null : FromNanoseconds(lastSeen).UtcDateTime, properties, lat, lon, positionTime);
    }

    private static string PropertiesJson(Entry entry)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            foreach (var (name, value) in entry.Properties.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                json.WriteString(name, value.Value);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static DateTimeOffset FromNanoseconds(long ns) => Epoch.AddTicks(ns / 100);

    private sealed record LiveProperty(string Value, double? Number, ReportedKind Kind, long TimeNs);

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "A SemaphoreSlim holds no OS handle unless AvailableWaitHandle is used; entries live as long as the server.")]
    private sealed class Entry
    {
        public readonly Lock Sync = new();
        public readonly SemaphoreSlim Gate = new(1, 1);
        public readonly Dictionary<string, LiveProperty> Properties = new(StringComparer.Ordinal);
        public bool Online;
        public int Connections;
        public long LastSeenNs;
        public long LastHistoryNs;
        public string? LastReason;
        public long LastReasonNs;
        public bool HasPosition;
        public double Lat;
        public double Lon;
        public long PositionNs;
        public long DeadLetters;
    }
}

internal static partial class DeviceStateLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "Dead letter of device {Device} on {Topic} could not be stored")]
    public static partial void DeadLetterFailed(ILogger logger, Exception error, string device, string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Connectivity of device {Device} ({Reason}) could not be recorded")]
    public static partial void ConnectivityFailed(ILogger logger, Exception error, string device, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device state snapshot could not be written; retried with the next flush")]
    public static partial void FlushFailed(ILogger logger, Exception error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} devices were online; recorded online=false reason={Reason}")]
    public static partial void MarkedOffline(ILogger logger, int count, string reason);
}
