using System.Buffers;
using System.Collections.Concurrent;
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
///   stored main.positions ─▶ newest position ───────┤  (NotePosition, from the pipeline's live-state observer)
///                                                   └▶ dirty set ─▶ every FlushInterval: INSERT OR REPLACE into
///                                                      _plexus.device_state (view main.device_state)
///   start: latest per device/property from state_history, newest position from positions, dead letters per
///          device; devices last recorded online get online=false reason=server-restart
/// </code>
/// The history goes through the store's writer (group commit, fsync before the caller continues); the snapshot
/// table is written on this class's own connection, so SQL sees a change within one flush interval while
/// <see cref="Get"/> sees it at once. Nothing here throws into the broker: a failed write is logged.
/// This class keeps the devices in memory and decides what changes; its collaborators are
/// <see cref="LiveDevice"/> (one device's entry), <see cref="LiveStateLoader"/> (start), <see cref="LiveStateSnapshot"/>
/// (the table for SQL and its flush loop) and <see cref="DeviceHistoryPoints"/> (the rows it writes).
/// </remarks>
public sealed class DeviceLiveState : IAsyncDisposable
{
    /// <summary>Dead-letter payloads are kept up to this many bytes (as text).</summary>
    public const int MaxDeadLetterPayloadBytes = DeviceHistoryPoints.MaxDeadLetterPayloadBytes;

    private readonly PlexusStore _store;
    private readonly DeviceFieldCatalog _fieldCatalog;
    private readonly IPointWriter _writer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MetadataConnection _connection;
    private readonly ConcurrentDictionary<string, LiveDevice> _entries = new(StringComparer.Ordinal);
    private readonly LiveStateSnapshot _snapshot;
    private long _deadLettersTotal;
    private int _stopping;
    private int _disposed;

    private DeviceLiveState(PlexusStore store, IPointWriter writer, TimeProvider time, ILogger logger, TimeSpan flushInterval)
    {
        _store = store;
        _fieldCatalog = new DeviceFieldCatalog(store);
        _writer = writer;
        _time = time;
        _logger = logger;
        FlushInterval = flushInterval;
        _connection = store.OpenMetadataConnection();
        _snapshot = new LiveStateSnapshot(_connection, _entries, logger);
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
            state._snapshot.EnsureCreated();
            state._deadLettersTotal = LiveStateLoader.Load(state._connection, state._entries);
            await state.MarkOfflineAsync(ConnectivityReasons.ServerRestart);
            DeviceHistoryPoints.CreateEmptyViews(state._connection);
            state._snapshot.Rewrite();
            state._snapshot.Start(state.FlushInterval, state._time);
            return state;
        }
        catch
        {
            state._snapshot.Dispose();
            state._connection.Dispose();
            throw;
        }
    }

    /// <summary>Known devices: those seen since the database was created (registered or not).</summary>
    public int Count => _entries.Count;

    /// <summary>Whether the device is connected now, without copying its state: for lists of thousands of devices.</summary>
    public bool IsOnline(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!_entries.TryGetValue(device, out var entry))
        {
            return false;
        }

        lock (entry.Sync)
        {
            return entry.Online;
        }
    }

    /// <summary>When the device last sent data or connected; null if never.</summary>
    public DateTimeOffset? LastSeen(string device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!_entries.TryGetValue(device, out var entry))
        {
            return null;
        }

        lock (entry.Sync)
        {
            return entry.LastSeenNs == 0 ? null : LiveDevice.TimeOf(entry.LastSeenNs);
        }
    }

    /// <summary>Every known device's newest position: for the console's map.</summary>
    public IReadOnlyList<(string Device, bool Online, PositionSnapshot Position)> Positions()
    {
        var positions = new List<(string, bool, PositionSnapshot)>();
        foreach (var (device, entry) in _entries)
        {
            lock (entry.Sync)
            {
                if (entry.HasPosition)
                {
                    positions.Add((device, entry.Online, new PositionSnapshot(entry.Lat, entry.Lon, LiveDevice.TimeOf(entry.PositionNs))));
                }
            }
        }

        return positions;
    }

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
                properties[name] = new PropertySnapshot(value.Value, value.Number, value.Kind, LiveDevice.TimeOf(value.TimeNs));
            }

            return new DeviceStateSnapshot(
                device,
                entry.Online,
                entry.LastSeenNs == 0 ? null : LiveDevice.TimeOf(entry.LastSeenNs),
                entry.LastReason,
                entry.LastReasonNs == 0 ? null : LiveDevice.TimeOf(entry.LastReasonNs),
                properties,
                entry.HasPosition ? new PositionSnapshot(entry.Lat, entry.Lon, LiveDevice.TimeOf(entry.PositionNs)) : null,
                entry.DeadLetters);
        }
    }

    /// <summary>One reported property without copying the device's state: for rules, which read it per point.</summary>
    public bool TryGetReported(string device, string property, out ReportedKind kind, out string value, out double? number)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(property);
        if (_entries.TryGetValue(device, out var entry))
        {
            lock (entry.Sync)
            {
                if (entry.Properties.TryGetValue(property, out var reported))
                {
                    (kind, value, number) = (reported.Kind, reported.Value, reported.Number);
                    return true;
                }
            }
        }

        (kind, value, number) = (ReportedKind.Null, string.Empty, null);
        return false;
    }

    /// <summary>The device's newest position without copying its state: for rules, which read it per point.</summary>
    public bool TryGetPosition(string device, out double lat, out double lon)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (_entries.TryGetValue(device, out var entry))
        {
            lock (entry.Sync)
            {
                (lat, lon) = (entry.Lat, entry.Lon);
                return entry.HasPosition;
            }
        }

        (lat, lon) = (0, 0);
        return false;
    }

    /// <summary>The last value and time of every field of every measurement in <c>main</c> carrying the device (SQL, by time).</summary>
    public IReadOnlyList<LastValue> LastValues(string device) => DeviceLastValues.Query(_store, _fieldCatalog, device);

    /// <summary>One numeric field of the device decimated over a range; with no field given, its first numeric field (SQL).</summary>
    public DeviceHistoryAnswer History(string device, string? measurement, string? field, long fromNs, long toNs, int buckets) =>
        DeviceHistory.Query(_store, _fieldCatalog, device, measurement, field, fromNs, toNs, buckets);

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
    /// A delete removed rows of <c>main.positions</c>: each device's live position goes back to the newest one still
    /// stored, or to none. Called on the store writer's thread (its delete observer), which must not wait for the store:
    /// a drop of the measurement clears the positions at once, a partial delete re-reads the newest positions on a task
    /// of its own (a position stored meanwhile is read with them, since reading waits for acknowledged writes).
    /// </summary>
    /// <returns>The task that re-reads them, for tests; completed at once after a drop.</returns>
    public Task PositionsDeleted(bool dropped)
    {
        if (dropped)
        {
            ResetPositions(new Dictionary<string, (double, double, long)>(StringComparer.Ordinal));
            return Task.CompletedTask;
        }

        return Task.Run(() =>
        {
            try
            {
                var newest = new Dictionary<string, (double, double, long)>(StringComparer.Ordinal);
                using var connection = _store.OpenMetadataConnection();
                LiveStateLoader.ReadNewestPositions(connection, (device, lat, lon, timeNs) => newest[device] = (lat, lon, timeNs));
                ResetPositions(newest);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                _logger.LogWarning(error, "Re-reading the devices' newest positions after a delete of main.positions failed; live positions may show deleted rows until the next position or restart");
            }
        });
    }

    private void ResetPositions(Dictionary<string, (double Lat, double Lon, long TimeNs)> newest)
    {
        foreach (var (device, entry) in _entries)
        {
            lock (entry.Sync)
            {
                if (newest.TryGetValue(device, out var position))
                {
                    (entry.HasPosition, entry.Lat, entry.Lon, entry.PositionNs) = (true, position.Lat, position.Lon, position.TimeNs);
                }
                else if (entry.HasPosition)
                {
                    (entry.HasPosition, entry.Lat, entry.Lon, entry.PositionNs) = (false, 0, 0, 0);
                }
                else
                {
                    continue;
                }
            }

            MarkDirty(device);
        }
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
            long time = timeNs ?? entry.NextHistoryTime(now);
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
                    DeviceHistoryPoints.AddStateHistory(batch, device, property.Name, property.Value, property.Number, reason: null, time);
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
            DeviceHistoryPoints.AddDeadLetter(batch, device, topic, reason, payload, contentType, Now());
            await WriteAsync(batch);
        }
        catch (Exception error)
        {
            DeviceStateLog.DeadLetterFailed(_logger, error, device, topic);
        }
    }

    /// <summary>Writes the dirty devices to <c>_plexus.device_state</c> now (the flush loop does it every interval).</summary>
    public void Flush() => _snapshot.Flush();

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

        await _snapshot.StopAsync();
        _snapshot.Dispose();
        _connection.Dispose();
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

                long time = entry.NextHistoryTime(now);
                var batch = new PointBatch(1);
                string value = online ? "true" : "false";
                DeviceHistoryPoints.AddStateHistory(batch, device, DeviceDataNames.OnlineProperty, value, online ? 1 : 0, reason, time);
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

    private LiveDevice EntryOf(string device) => LiveDevice.Of(_entries, device);

    private void MarkDirty(string device) => _snapshot.MarkDirty(device);

    private long Now() => (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;

    private static bool SameValue(LiveProperty live, ReportedProperty reported) =>
        live.Number is { } a && reported.Number is { } b && live.Kind == reported.Kind
            ? a.Equals(b)
            : live.Kind == reported.Kind && string.Equals(live.Value, reported.Value, StringComparison.Ordinal);

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
            long time = entry.NextHistoryTime(now);
            DeviceHistoryPoints.AddStateHistory(batch, device, DeviceDataNames.OnlineProperty, "false", 0, reason, time);
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
