using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Rules.Alarms;

/// <summary>
/// Alarms and their history: rows of <c>_plexus.alarms</c> and <c>_plexus.alarm_history</c>, shown in SQL as
/// <c>main.alarms</c> (with the device's asset) and <c>main.alarm_history</c>. At most one alarm is open (active or
/// acknowledged) per rule and device: raising it again counts a repeat on it. Every transition is written, with its
/// history row, in one transaction before it is announced (<see cref="Transition"/>); repeats are written per batch
/// (<see cref="Repeat"/>). The rules engine opens a write batch (<see cref="BeginBatch"/>) around each write it evaluates:
/// every transition of that write then commits in one transaction, announced after it, so a rule that fires for
/// thousands of series costs one commit, not thousands. Open alarms are loaded at start, so the engine picks them up
/// after a restart.
/// </summary>
public sealed partial class AlarmStore : IDisposable
{
    public const string Table = "_plexus.alarms";
    public const string HistoryTable = "_plexus.alarm_history";
    public const string View = "main.alarms";
    public const string HistoryView = "main.alarm_history";

    /// <summary>Who clears an alarm whose rule's clear condition held.</summary>
    public const string ClearedByRule = "rule";

    private const string Columns = "id, rule, device, severity, status, raised_value, last_value, count, raised_at, event_time, acknowledged_at, acknowledged_by, cleared_at, cleared_by, updated_at";

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Rule, string Device), Alarm> _open = [];
    private long _nextId;
    private int _disposed;

    // A write batch (see BeginBatch): the thread that opened it, the alarms it opened and the changes to others (each
    // alarm's final state), its history rows, and what it will announce once they commit.
    private int _batchThread;
    private readonly Dictionary<long, AlarmRecord> _batchOpened = [];
    private readonly Dictionary<long, AlarmRecord> _batchChanged = [];
    private readonly List<HistoryRow> _batchHistory = [];
    private readonly List<(AlarmTransition Transition, AlarmRecord Record)> _batchAnnouncements = [];
    private bool _changesTableMade;

    private AlarmStore(MetadataConnection connection, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _time = time;
        _logger = logger;
    }

    /// <summary>Called after each transition, outside the lock (the actions queue it).</summary>
    public Action<AlarmEvent>? Transition { get; set; }

    public static AlarmStore Open(PlexusStore store, TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    id BIGINT PRIMARY KEY, rule VARCHAR NOT NULL, device VARCHAR NOT NULL, severity VARCHAR NOT NULL,
                    status VARCHAR NOT NULL, raised_value VARCHAR NOT NULL, last_value VARCHAR NOT NULL, count BIGINT NOT NULL,
                    raised_at TIMESTAMP NOT NULL, event_time TIMESTAMP NOT NULL, acknowledged_at TIMESTAMP, acknowledged_by VARCHAR,
                    cleared_at TIMESTAMP, cleared_by VARCHAR, updated_at TIMESTAMP NOT NULL)
                """);
            connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {HistoryTable} (
                    alarm_id BIGINT NOT NULL, rule VARCHAR NOT NULL, device VARCHAR NOT NULL, status VARCHAR NOT NULL,
                    changed_at TIMESTAMP NOT NULL, changed_by VARCHAR, value VARCHAR)
                """);

            // The asset comes from the registry at query time, so alarms roll up the asset tree with device_ancestors.
            connection.Execute($"""
                CREATE OR REPLACE VIEW {View} AS
                SELECT a.id, a.rule, a.device, d.parent AS asset, a.severity, a.status, a.raised_value::JSON AS raised_value,
                       a.last_value::JSON AS last_value, a.count, a.raised_at, a.event_time, a.acknowledged_at, a.acknowledged_by,
                       a.cleared_at, a.cleared_by, a.updated_at
                FROM {Table} AS a LEFT JOIN _plexus.devices AS d ON d.id = a.device
                """);
            connection.Execute($"""
                CREATE OR REPLACE VIEW {HistoryView} AS
                SELECT alarm_id, rule, device, status, changed_at, changed_by, value::JSON AS value FROM {HistoryTable}
                """);
            var alarms = new AlarmStore(connection, time ?? TimeProvider.System, logger ?? NullLogger.Instance);
            alarms.Load();
            return alarms;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Open alarms now.</summary>
    public int OpenCount
    {
        get
        {
            lock (_lock)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>The open alarm of <paramref name="rule"/> for <paramref name="device"/>, if there is one.</summary>
    public Alarm? FindOpen(string rule, string device)
    {
        lock (_lock)
        {
            return _open.GetValueOrDefault((rule, device));
        }
    }

    /// <summary>The open alarms of a rule (to watch their devices again after a restart).</summary>
    public IReadOnlyList<(string Device, Alarm Alarm)> OpenOf(string rule)
    {
        lock (_lock)
        {
            return [.. _open.Where(e => e.Key.Rule == rule).Select(e => (e.Key.Device, e.Value))];
        }
    }

    /// <summary>
    /// Opens the alarm of <paramref name="rule"/> for <paramref name="device"/>, or counts a repeat on the one open.
    /// </summary>
    public Alarm Raise(string rule, string device, RuleSeverity severity, string value, long eventTimeNs)
    {
        AlarmRecord record;
        Alarm alarm;
        lock (_lock)
        {
            ThrowIfDisposed();
            var now = Now();
            if (_open.TryGetValue((rule, device), out var open))
            {
                RepeatLocked(open, 1, value, now);
                return open;
            }

            record = new AlarmRecord(_nextId, rule, device, severity, AlarmStatus.Active, value, value, 1, now, TimeOf(eventTimeNs), null, null, null, null, now);
            if (Batching)
            {
                _batchOpened[record.Id] = record;
                _batchHistory.Add(new HistoryRow(record.Id, rule, device, AlarmStatus.Active, now, ClearedByRule, value));
            }
            else
            {
                _connection.InTransaction(() =>
                {
                    _connection.Execute(
                        $"INSERT INTO {Table} ({Columns}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, NULL, NULL, NULL, $11)",
                        record.Id, rule, device, Text(severity), Text(AlarmStatus.Active), value, value, 1L, now.UtcDateTime, record.EventTime.UtcDateTime, now.UtcDateTime);
                    History(record.Id, rule, device, AlarmStatus.Active, now, ClearedByRule, value);
                });
            }

            _nextId++;
            alarm = new Alarm(record);
            _open[(rule, device)] = alarm;
            if (Batching)
            {
                _batchAnnouncements.Add((AlarmTransition.Opened, record));
                return alarm;
            }
        }

        Announce(AlarmTransition.Opened, record);
        return alarm;
    }

    /// <summary>Counts <paramref name="count"/> repeats on an open alarm, with the newest value.</summary>
    public void Repeat(Alarm alarm, long count, string lastValue)
    {
        ArgumentNullException.ThrowIfNull(alarm);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (alarm.IsOpen)
            {
                RepeatLocked(alarm, count, lastValue, Now());
            }
        }
    }

    /// <summary>Clears an open alarm because its rule says so; nothing if it was cleared meanwhile (from the API).</summary>
    public void ClearByRule(Alarm alarm, string value) => Clear(alarm, ClearedByRule, value);

    /// <summary>Acknowledges an alarm (a cleared one too, which stays cleared); 404 for an unknown id.</summary>
    public AlarmRecord Acknowledge(long id, string by)
    {
        ArgumentException.ThrowIfNullOrEmpty(by);
        AlarmRecord record;
        lock (_lock)
        {
            ThrowIfDisposed();
            var current = GetLocked(id) ?? throw NotFound(id);
            if (current.AcknowledgedAt is not null)
            {
                return current;
            }

            var now = Now();
            record = current with
            {
                Status = current.Status == AlarmStatus.Cleared ? AlarmStatus.Cleared : AlarmStatus.Acknowledged,
                AcknowledgedAt = now,
                AcknowledgedBy = by,
                UpdatedAt = now,
            };
            _connection.InTransaction(() =>
            {
                _connection.Execute($"UPDATE {Table} SET status = $2, acknowledged_at = $3, acknowledged_by = $4, updated_at = $3 WHERE id = $1", id, Text(record.Status), now.UtcDateTime, by);
                History(id, record.Rule, record.Device, AlarmStatus.Acknowledged, now, by, null);
            });
            if (_open.TryGetValue((record.Rule, record.Device), out var open) && open.Id == id)
            {
                open.Record = record;
            }
        }

        Announce(AlarmTransition.Acknowledged, record);
        return record;
    }

    /// <summary>Clears an alarm by hand; the rule opens a new one if its condition holds again. 404 for an unknown id.</summary>
    public AlarmRecord Clear(long id, string by)
    {
        ArgumentException.ThrowIfNullOrEmpty(by);
        Alarm? open;
        lock (_lock)
        {
            ThrowIfDisposed();
            var current = GetLocked(id) ?? throw NotFound(id);
            if (current.Status == AlarmStatus.Cleared)
            {
                return current;
            }

            open = _open.GetValueOrDefault((current.Rule, current.Device));
        }

        if (open is null || open.Id != id)
        {
            throw RegistryException.Conflict("id", $"alarm {id} is not open");
        }

        Clear(open, by, open.Record.LastValue);
        return open.Record;
    }

    public AlarmRecord? Get(long id)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return GetLocked(id);
        }
    }

    /// <summary>
    /// Alarms newest first, filtered by status, device, rule and asset: the devices that have <paramref name="asset"/>
    /// among their ancestors (the asset tree's <c>main.device_ancestors</c>, so devices under a gateway device count).
    /// </summary>
    public IReadOnlyList<AlarmRecord> List(AlarmStatus? status = null, string? device = null, string? rule = null, int limit = 100, string? asset = null)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            var alarms = new List<AlarmRecord>();
            _connection.Query(
                $"SELECT {Columns} FROM {Table} WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR device = $2) AND ($3 IS NULL OR rule = $3) "
                + "AND ($5 IS NULL OR device IN (SELECT device_id FROM main.device_ancestors WHERE ancestor_id = $5)) ORDER BY id DESC LIMIT $4",
                reader => alarms.Add(Read(reader)),
                status is { } s ? Text(s) : null, device, rule, limit, asset);
            return alarms;
        }
    }

    /// <summary>
    /// Opens a write batch on this thread: until the batch is disposed, what this thread raises, repeats and clears is
    /// kept in memory and then written in one transaction and announced after it. Other threads (the API acknowledging
    /// or clearing by hand) still write at once. Batches do not nest.
    /// </summary>
    public WriteBatch BeginBatch()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            if (_batchThread != 0)
            {
                throw new InvalidOperationException("an alarm write batch is already open");
            }

            _batchThread = Environment.CurrentManagedThreadId;
        }

        return new WriteBatch(this);
    }

    private bool Batching => _batchThread == Environment.CurrentManagedThreadId;

    /// <summary>An alarm's new state in the batch: still an insert if the batch opened it, else a change to apply.</summary>
    private void Changed(AlarmRecord record)
    {
        if (_batchOpened.ContainsKey(record.Id))
        {
            _batchOpened[record.Id] = record;
        }
        else
        {
            _batchChanged[record.Id] = record;
        }
    }

    private void CommitBatch()
    {
        (AlarmTransition Transition, AlarmRecord Record)[] announcements;
        lock (_lock)
        {
            _batchThread = 0;
            try
            {
                if ((_batchOpened.Count > 0 || _batchChanged.Count > 0 || _batchHistory.Count > 0) && Volatile.Read(ref _disposed) == 0)
                {
                    _connection.InTransaction(WriteBatchLocked);
                }
            }
            catch
            {
                // Nothing of the batch was written: what memory says must be what the table says again.
                _batchAnnouncements.Clear();
                _open.Clear();
                Load();
                throw;
            }
            finally
            {
                _batchOpened.Clear();
                _batchChanged.Clear();
                _batchHistory.Clear();
            }

            announcements = [.. _batchAnnouncements];
            _batchAnnouncements.Clear();
        }

        foreach (var (transition, record) in announcements)
        {
            Announce(transition, record);
        }
    }

    /// <summary>
    /// The batch in bulk: new alarms and history rows appended, changes appended to a temporary table and applied by one
    /// UPDATE. A change sets only what the engine changes (count, last value, a clear), so an acknowledgement made through
    /// the API meanwhile is kept.
    /// </summary>
    private void WriteBatchLocked()
    {
        var connection = _connection.Connection;
        if (_batchOpened.Count > 0)
        {
            using var appender = connection.CreateAppender("_plexus", "alarms");
            foreach (var record in _batchOpened.Values)
            {
                var row = appender.CreateRow()
                    .AppendValue(record.Id).AppendValue(record.Rule).AppendValue(record.Device).AppendValue(Text(record.Severity))
                    .AppendValue(Text(record.Status)).AppendValue(record.RaisedValue).AppendValue(record.LastValue).AppendValue(record.Count)
                    .AppendValue(record.RaisedAt.UtcDateTime).AppendValue(record.EventTime.UtcDateTime)
                    .AppendNullValue().AppendNullValue();
                row = record.ClearedAt is { } clearedAt ? row.AppendValue(clearedAt.UtcDateTime).AppendValue(record.ClearedBy) : row.AppendNullValue().AppendNullValue();
                row.AppendValue(record.UpdatedAt.UtcDateTime).EndRow();
            }
        }

        if (_batchChanged.Count > 0)
        {
            if (!_changesTableMade)
            {
                _connection.Execute("""
                    CREATE TEMP TABLE IF NOT EXISTS alarm_changes (id BIGINT, count BIGINT, last_value VARCHAR, updated_at TIMESTAMP, cleared_at TIMESTAMP, cleared_by VARCHAR)
                    """);
                _changesTableMade = true;
            }

            _connection.Execute("DELETE FROM alarm_changes");
            using (var appender = connection.CreateAppender("temp", "main", "alarm_changes"))
            {
                foreach (var record in _batchChanged.Values)
                {
                    var row = appender.CreateRow().AppendValue(record.Id).AppendValue(record.Count).AppendValue(record.LastValue).AppendValue(record.UpdatedAt.UtcDateTime);
                    row = record.ClearedAt is { } clearedAt ? row.AppendValue(clearedAt.UtcDateTime).AppendValue(record.ClearedBy) : row.AppendNullValue().AppendNullValue();
                    row.EndRow();
                }
            }

            _connection.Execute($"""
                UPDATE {Table} AS a SET count = c.count, last_value = c.last_value, updated_at = c.updated_at,
                    status = CASE WHEN c.cleared_at IS NULL THEN a.status ELSE 'cleared' END,
                    cleared_at = coalesce(c.cleared_at, a.cleared_at), cleared_by = coalesce(c.cleared_by, a.cleared_by)
                FROM alarm_changes AS c WHERE a.id = c.id
                """);
        }

        if (_batchHistory.Count > 0)
        {
            using var appender = connection.CreateAppender("_plexus", "alarm_history");
            foreach (var history in _batchHistory)
            {
                var row = appender.CreateRow().AppendValue(history.AlarmId).AppendValue(history.Rule).AppendValue(history.Device)
                    .AppendValue(Text(history.Status)).AppendValue(history.At.UtcDateTime);
                row = history.By is null ? row.AppendNullValue() : row.AppendValue(history.By);
                row = history.Value is null ? row.AppendNullValue() : row.AppendValue(history.Value);
                row.EndRow();
            }
        }
    }

    private readonly record struct HistoryRow(long AlarmId, string Rule, string Device, AlarmStatus Status, DateTimeOffset At, string? By, string? Value);

    /// <summary>The batch <see cref="BeginBatch"/> opened; disposing it commits what it holds and announces it.</summary>
    public readonly struct WriteBatch : IDisposable
    {
        private readonly AlarmStore _store;

        internal WriteBatch(AlarmStore store) => _store = store;

        public void Dispose() => _store?.CommitBatch();
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

    public static RegistryException NotFound(long id) => RegistryException.NotFound("id", $"no alarm {id}");

    public static string Text(AlarmStatus status) => status.ToString().ToLowerInvariant();

    public static string Text(RuleSeverity severity) => severity.ToString().ToLowerInvariant();

    private void Clear(Alarm alarm, string by, string value)
    {
        AlarmRecord record;
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!alarm.IsOpen)
            {
                return;
            }

            var now = Now();
            record = alarm.Record with { Status = AlarmStatus.Cleared, LastValue = value, ClearedAt = now, ClearedBy = by, UpdatedAt = now };
            long id = alarm.Id;
            if (Batching)
            {
                Changed(record);
                _batchHistory.Add(new HistoryRow(id, record.Rule, record.Device, AlarmStatus.Cleared, now, by, value));
            }
            else
            {
                _connection.InTransaction(() =>
                {
                    _connection.Execute($"UPDATE {Table} SET status = 'cleared', last_value = $2, count = $3, cleared_at = $4, cleared_by = $5, updated_at = $4 WHERE id = $1", id, value, record.Count, now.UtcDateTime, by);
                    History(id, record.Rule, record.Device, AlarmStatus.Cleared, now, by, value);
                });
            }
            alarm.Record = record;
            alarm.MarkCleared();
            _open.Remove((record.Rule, record.Device));
            if (Batching)
            {
                _batchAnnouncements.Add((AlarmTransition.Cleared, record));
                return;
            }
        }

        Announce(AlarmTransition.Cleared, record);
    }

    private void RepeatLocked(Alarm alarm, long count, string lastValue, DateTimeOffset now)
    {
        var record = alarm.Record with { Count = alarm.Record.Count + count, LastValue = lastValue, UpdatedAt = now };
        if (Batching)
        {
            Changed(record);
        }
        else
        {
            _connection.Execute($"UPDATE {Table} SET count = $2, last_value = $3, updated_at = $4 WHERE id = $1", alarm.Id, record.Count, lastValue, now.UtcDateTime);
        }

        alarm.Record = record;
    }

    private void History(long id, string rule, string device, AlarmStatus status, DateTimeOffset at, string? by, string? value) =>
        _connection.Execute($"INSERT INTO {HistoryTable} (alarm_id, rule, device, status, changed_at, changed_by, value) VALUES ($1, $2, $3, $4, $5, $6, $7)", id, rule, device, Text(status), at.UtcDateTime, by, value);

    private void Announce(AlarmTransition transition, AlarmRecord record)
    {
        try
        {
            Transition?.Invoke(new AlarmEvent(transition, record));
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Log.AnnounceFailed(_logger, error, record.Id);
        }
    }

    private AlarmRecord? GetLocked(long id)
    {
        AlarmRecord? found = null;
        _connection.Query($"SELECT {Columns} FROM {Table} WHERE id = $1", reader => found = Read(reader), id);
        return found;
    }

    private void Load()
    {
        _nextId = Convert.ToInt64(_connection.Scalar($"SELECT coalesce(max(id), 0) + 1 FROM {Table}"), System.Globalization.CultureInfo.InvariantCulture);
        _connection.Query($"SELECT {Columns} FROM {Table} WHERE status <> 'cleared'", reader =>
        {
            var record = Read(reader);
            _open[(record.Rule, record.Device)] = new Alarm(record);
        });
    }

    private static AlarmRecord Read(DbDataReader reader) => new(
        reader.GetInt64(0),
        reader.GetString(1),
        reader.GetString(2),
        Enum.Parse<RuleSeverity>(reader.GetString(3), ignoreCase: true),
        Enum.Parse<AlarmStatus>(reader.GetString(4), ignoreCase: true),
        reader.GetString(5),
        reader.GetString(6),
        reader.GetInt64(7),
        AsUtc(reader.GetDateTime(8)),
        AsUtc(reader.GetDateTime(9)),
        reader.IsDBNull(10) ? null : AsUtc(reader.GetDateTime(10)),
        reader.IsDBNull(11) ? null : reader.GetString(11),
        reader.IsDBNull(12) ? null : AsUtc(reader.GetDateTime(12)),
        reader.IsDBNull(13) ? null : reader.GetString(13),
        AsUtc(reader.GetDateTime(14)));

    private DateTimeOffset Now()
    {
        // Stored as TIMESTAMP (microseconds); trimming here keeps what is announced equal to what is read back.
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);
    }

    private static DateTimeOffset TimeOf(long nanoseconds) => DateTimeOffset.UnixEpoch.AddTicks(nanoseconds / 100);

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private static partial class Log
    {
        [LoggerMessage(EventId = 3201, Level = LogLevel.Error, Message = "An action could not be queued for alarm {AlarmId}")]
        public static partial void AnnounceFailed(ILogger logger, Exception error, long alarmId);
    }
}
