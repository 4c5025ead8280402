// One file on purpose (about 640 lines): the maintainer's state (the windows noted per rollup, the complete flags, the
// lock that orders a run against the writes it must see) is read and changed by noting, planning, recomputing and
// retention alike; split, the argument that every noted point is in some run (see the remarks below) spans files.
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Deleting;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Storage.Rollups;

/// <summary>
/// Keeps every rollup's table equal to a GROUP BY of its measurement's raw rows (docs/storage.md#rollups).
/// <see cref="Observe"/> notes the windows each durable write touches (on the writer's thread, without allocating per
/// point), <see cref="Deleted"/> the ranges a delete touched; every <c>--rollup-interval</c> a run recomputes exactly
/// those windows from the raw view, one DELETE + INSERT … SELECT … GROUP BY per rollup and batch of windows in one
/// transaction, and drops windows past a rollup's own retention.
/// </summary>
/// <remarks>
/// Why a recompute and not a running merge: a duplicate series and time overwrites a stored value (last write wins) and
/// a delete takes values out, and min, max, first and last cannot be corrected from a delta. A recompute reads the
/// window's raw rows once, which for a window of the current hour means the hour so far, at every run while points
/// arrive in it. The windows a run takes are taken under the lock before it waits for the acknowledged writes to reach
/// the database, so every point noted before the take is in what the run reads; one noted after it is recomputed by
/// the next run.
/// </remarks>
public sealed partial class RollupMaintainer : IAsyncDisposable
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(10);

    /// <summary>Time ranges per statement: the WHERE clause of one recompute stays a few KB.</summary>
    private const int RangesPerStatement = 256;

    /// <summary>Windows one GROUP BY of a whole recompute covers (a 1m rollup: about 17 hours of raw rows; 1h: 42 days).</summary>
    internal const int WindowsPerWholeChunk = 1_000;

    private readonly PlexusStore _store;
    private readonly RollupRegistry _registry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MetadataConnection _connection;
    private readonly Lock _dirtyLock = new();
    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly PeriodicTimer _timer;
    private readonly Task _loop;

    // (rollup id, window start in Unix ns) touched by writes since the last run's take; whole ranges from deletes; rollups
    // to recompute whole. Guarded by _dirtyLock.
    private HashSet<(long Rollup, long Window)> _dirtyWindows = [];
    private List<(long Rollup, long From, long To)> _dirtyRanges = [];
    private HashSet<long> _recomputeWhole = [];

    private readonly Dictionary<long, string> _viewShapes = [];
    private long _runs;
    private long _windowsRecomputed;
    private long _failures;

    public RollupMaintainer(PlexusStore store, RollupRegistry registry, TimeSpan interval, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        _store = store;
        _registry = registry;
        _time = time;
        _logger = logger;
        Interval = interval;
        _connection = store.OpenMetadataConnection();

        // New rollups, and every rollup after a start that did not follow a clean stop, are recomputed whole: the
        // windows noted in memory before a crash are gone. From now until the clean stop they count as incomplete.
        foreach (long id in registry.Incomplete())
        {
            _recomputeWhole.Add(id);
        }

        registry.MarkComplete(false);
        registry.Changed = OnChanged;
        _timer = new PeriodicTimer(interval, time);
        _loop = Task.Run(LoopAsync);
    }

    public TimeSpan Interval { get; }

    /// <summary>Runs completed since start.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Windows (or whole ranges) recomputed since start, counted per rollup.</summary>
    public long WindowsRecomputed => Interlocked.Read(ref _windowsRecomputed);

    /// <summary>Runs that failed (logged; their windows are tried again at the next run).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Windows waiting for the next run.</summary>
    public int Pending
    {
        get
        {
            lock (_dirtyLock)
            {
                return _dirtyWindows.Count + _dirtyRanges.Count + _recomputeWhole.Count;
            }
        }
    }

    /// <summary>
    /// Notes the windows a durable write touched; on the writer's thread. Fast path: one dictionary lookup for a
    /// namespace without rollups; else a name comparison per point, and a set insert only when the point's rollup or
    /// window differs from the previous point's (a batch is mostly one measurement and one window).
    /// </summary>
    public void Observe(in CommittedWrite write)
    {
        if (_registry.Current.Of(write.Namespace) is not { } rollups)
        {
            return;
        }

        var batch = write.Batch;
        var names = rollups.MeasurementUtf8;
        int lastMeasurementStart = -1;
        int lastMatchFirst = -1;
        long lastWindowKey = long.MinValue;
        lock (_dirtyLock)
        {
            for (int i = 0; i < batch.Count; i++)
            {
                ref readonly var point = ref batch[i];
                if (!write.IsStored(i))
                {
                    continue;
                }

                var measurement = batch.Text(point.Measurement);
                int first;
                if (point.Measurement.Start == lastMeasurementStart)
                {
                    first = lastMatchFirst;
                }
                else
                {
                    first = -1;
                    for (int r = 0; r < names.Count; r++)
                    {
                        if (measurement.SequenceEqual(names[r]))
                        {
                            first = r;
                            break;
                        }
                    }

                    lastMeasurementStart = point.Measurement.Start;
                    lastMatchFirst = first;
                    lastWindowKey = long.MinValue;
                }

                if (first < 0)
                {
                    continue;
                }

                // Every rollup of this measurement (one per window length) gets the point's window.
                for (int r = first; r < names.Count; r++)
                {
                    if (r != first && !measurement.SequenceEqual(names[r]))
                    {
                        continue;
                    }

                    var rollup = rollups.Rollups[r];
                    long window = WindowStart(point.Timestamp, rollup.EveryNs);
                    long key = window ^ (rollup.Id << 48);
                    if (r == first && key == lastWindowKey)
                    {
                        continue;
                    }

                    if (r == first)
                    {
                        lastWindowKey = key;
                    }

                    _dirtyWindows.Add((rollup.Id, window));
                }
            }
        }
    }

    /// <summary>
    /// Notes what a committed delete touched (on the writer's thread): its time range, widened to whole windows, of
    /// every rollup of its measurement (or namespace). Retention's deletes are not noted: raw retention keeps rollups.
    /// </summary>
    public void Deleted(DeleteSelection selection, DeleteResult result)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(result);
        if (selection.WholeColdPartitionsOnly || _registry.Current.Of(selection.Namespace) is not { } rollups)
        {
            return;
        }

        lock (_dirtyLock)
        {
            foreach (var rollup in rollups.Rollups)
            {
                if (selection.Measurement is null || selection.Measurement == rollup.Measurement)
                {
                    long from = selection.FromNs is { } f ? WindowStart(f, rollup.EveryNs) : long.MinValue;
                    long to = selection.ToNs is { } t ? WindowEnd(t, rollup.EveryNs) : long.MaxValue;
                    _dirtyRanges.Add((rollup.Id, from, to));
                }
            }
        }
    }

    /// <summary>Recomputes every window noted so far, now, and applies the rollups' retention; runs never overlap.</summary>
    /// <returns>The windows and ranges recomputed, counted per rollup.</returns>
    public async Task<long> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken);
        try
        {
            return await Task.Run(RunLocked, cancellationToken);
        }
        finally
        {
            _running.Release();
        }
    }

    private long RunLocked()
    {
        HashSet<(long Rollup, long Window)> windows;
        List<(long Rollup, long From, long To)> ranges;
        HashSet<long> whole;
        lock (_dirtyLock)
        {
            windows = _dirtyWindows;
            ranges = _dirtyRanges;
            whole = _recomputeWhole;
            _dirtyWindows = [];
            _dirtyRanges = [];
            _recomputeWhole = [];
        }

        long done = 0;
        var rollups = _registry.Current.All;
        try
        {
            // Points acknowledged before the take may still be only in the write log.
            _store.Writer.WaitForAcknowledgedWrites(_store.Options.ReadWaitTimeout);
            long nowNs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            foreach (var rollup in rollups)
            {
                var work = Ranges(rollup, windows, ranges, whole.Contains(rollup.Id), nowNs);
                try
                {
                    done += Maintain(rollup, work, nowNs);
                }
                catch (Exception) when (!_registry.Current.All.Any(r => r.Id == rollup.Id))
                {
                    // Removed while this run recomputed it: its table is gone, and so is the work.
                }
                catch (Exception error) when (error is not OutOfMemoryException)
                {
                    // Noted again, so that the next run tries them.
                    lock (_dirtyLock)
                    {
                        foreach (var (from, to) in work)
                        {
                            _dirtyRanges.Add((rollup.Id, from, to));
                        }
                    }

                    throw;
                }
            }
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Interlocked.Increment(ref _failures);
            lock (_dirtyLock)
            {
                // Rollups the failed run had not reached yet.
                foreach (var (rollup, window) in windows)
                {
                    _dirtyWindows.Add((rollup, window));
                }

                _dirtyRanges.AddRange(ranges);
                _recomputeWhole.UnionWith(whole);
            }

            throw;
        }

        Interlocked.Increment(ref _runs);
        Interlocked.Add(ref _windowsRecomputed, done);
        return done;
    }

    /// <summary>The time ranges to recompute for one rollup: its windows merged into runs of adjacent ones, and its delete ranges.</summary>
    private static List<(long From, long To)> Ranges(Rollup rollup, HashSet<(long Rollup, long Window)> windows, List<(long Rollup, long From, long To)> ranges, bool whole, long nowNs)
    {
        if (whole)
        {
            return [(long.MinValue, long.MaxValue)];
        }

        long cutoff = rollup.Retention is { } kept ? nowNs - (kept.Ticks * 100) : long.MinValue;
        var starts = windows.Where(w => w.Rollup == rollup.Id && w.Window + rollup.EveryNs > cutoff).Select(w => w.Window).Order().ToList();
        var result = new List<(long From, long To)>();
        foreach (long start in starts)
        {
            long end = start + rollup.EveryNs;
            if (result.Count > 0 && result[^1].To == start)
            {
                result[^1] = (result[^1].From, end);
            }
            else
            {
                result.Add((start, end));
            }
        }

        result.AddRange(ranges.Where(r => r.Rollup == rollup.Id).Select(r => (r.From, r.To)));
        return result;
    }

    private long Maintain(Rollup rollup, List<(long From, long To)> work, long nowNs)
    {
        if (work.Count == 0 && rollup.Retention is null && _viewShapes.ContainsKey(rollup.Id))
        {
            return 0;
        }

        var source = SourceColumns(rollup);
        bool shapeChanged = EnsureShape(rollup, source);
        if (work is [(long.MinValue, long.MaxValue)] && source is not null)
        {
            RecomputeWhole(rollup, source);
            work = [];
        }

        for (int offset = 0; offset < work.Count; offset += RangesPerStatement)
        {
            var chunk = work.GetRange(offset, Math.Min(RangesPerStatement, work.Count - offset));
            string where = Where(chunk);
            _connection.InTransaction(() =>
            {
                _connection.Execute($"DELETE FROM {rollup.Table} WHERE {where}");
                if (source is not null)
                {
                    _connection.Execute(InsertSql(rollup, source, where));
                }
            });
        }

        if (rollup.Retention is { } kept)
        {
            long cutoff = WindowStart(nowNs - (kept.Ticks * 100), rollup.EveryNs);
            _connection.Execute($"DELETE FROM {rollup.Table} WHERE {SqlNames.TimeColumn} < make_timestamp_ns({cutoff.ToString(CultureInfo.InvariantCulture)})");
        }

        if (shapeChanged || !ViewExists(rollup))
        {
            CreateView(rollup);
        }

        return work.Count;
    }

    /// <summary>
    /// A rollup rebuilt from all its measurement's rows (new, or after an unclean stop) in one transaction, so readers see
    /// the old rollup or the new one; one GROUP BY per span of <see cref="WindowsPerWholeChunk"/> windows, so a year of
    /// raw rows is never one aggregation whose hash table holds every window of every series at once.
    /// </summary>
    private void RecomputeWhole(Rollup rollup, RawColumns source)
    {
        string raw = SqlNames.Quote(rollup.Namespace) + "." + SqlNames.Quote(rollup.Measurement);
        long? first = null, last = null;
        _connection.Query($"SELECT epoch_ns(min(time)), epoch_ns(max(time)) FROM {raw}", reader =>
        {
            if (!reader.IsDBNull(0))
            {
                first = reader.GetInt64(0);
                last = reader.GetInt64(1);
            }
        });

        long span = rollup.EveryNs > long.MaxValue / WindowsPerWholeChunk ? long.MaxValue : rollup.EveryNs * WindowsPerWholeChunk;
        _connection.InTransaction(() =>
        {
            _connection.Execute($"DELETE FROM {rollup.Table}");
            if (first is not { } from || last is not { } to)
            {
                return;
            }

            for (long start = WindowStart(from, rollup.EveryNs); start <= to; start = start > long.MaxValue - span ? long.MaxValue : start + span)
            {
                long end = start > long.MaxValue - span ? long.MaxValue : start + span;
                _connection.Execute(InsertSql(rollup, source, Where([(start, end)])));
                if (end == long.MaxValue)
                {
                    break;
                }
            }
        });
    }

    /// <summary>The measurement's tags and numeric fields now, or null when it does not exist (dropped, or never written).</summary>
    private RawColumns? SourceColumns(Rollup rollup)
    {
        if (_connection.Scalar($"SELECT id FROM {SqlNames.InternalSchema}.measurements WHERE namespace = $1 AND name = $2", rollup.Namespace, rollup.Measurement) is not { } idValue)
        {
            return null;
        }

        int id = Convert.ToInt32(idValue, CultureInfo.InvariantCulture);
        var tags = new List<string>();
        var fields = new List<string>();
        _connection.Query($"SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = $1 AND table_name IN ($2, $3) ORDER BY table_name DESC, column_index", reader =>
        {
            string column = reader.GetString(1);
            if (column is SqlNames.SeriesIdColumn or SqlNames.TimeColumn)
            {
                return;
            }

            if (reader.GetString(0).StartsWith('s'))
            {
                tags.Add(column);
            }
            else if (reader.GetString(2) is "DOUBLE" or "BIGINT" or "UBIGINT")
            {
                fields.Add(column);
            }
        }, SqlNames.InternalSchema, SqlNames.SeriesTable(id), SqlNames.DataTable(id));

        // A field whose columns would take a tag's name is left out, rather than fail the view: the tag keeps its name.
        var tagNames = new HashSet<string>(tags, StringComparer.OrdinalIgnoreCase);
        var kept = new List<string>();
        foreach (string field in fields)
        {
            if (Aggregates.Any(a => tagNames.Contains(field + "_" + a.Suffix)) || tagNames.Contains(field + "_avg"))
            {
                LogFieldLeftOut(rollup.Namespace + "." + rollup.Name, field);
                continue;
            }

            kept.Add(field);
        }

        return new RawColumns(tags, kept);
    }

    /// <summary>Adds the columns of tags and fields that appeared since the rollup's table was last widened; true when it was.</summary>
    private bool EnsureShape(Rollup rollup, RawColumns? source)
    {
        if (source is null)
        {
            return false;
        }

        var existing = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string table = rollup.Table[(SqlNames.InternalSchema.Length + 1)..];
        _connection.Query("SELECT column_name FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2", reader => existing.Add(reader.GetString(0)), SqlNames.InternalSchema, table);
        var added = new List<string>();
        foreach (string tag in source.Tags)
        {
            if (!existing.Contains(tag))
            {
                added.Add($"ALTER TABLE {rollup.Table} ADD COLUMN {SqlNames.Quote(tag)} VARCHAR");
            }
        }

        foreach (string field in source.Fields)
        {
            foreach (var aggregate in Aggregates)
            {
                if (!existing.Contains(field + "_" + aggregate.Suffix))
                {
                    // Windows computed before the field appeared had none of its values: a count of 0, the rest NULL.
                    string defaultValue = aggregate.Suffix == "count" ? " DEFAULT 0" : "";
                    added.Add($"ALTER TABLE {rollup.Table} ADD COLUMN {SqlNames.Quote(field + "_" + aggregate.Suffix)} {aggregate.Type}{defaultValue}");
                }
            }
        }

        if (added.Count > 0)
        {
            _connection.InTransaction(() =>
            {
                foreach (string statement in added)
                {
                    _connection.Execute(statement);
                }
            });
        }

        return added.Count > 0 || !_viewShapes.ContainsKey(rollup.Id);
    }

    /// <summary>The physical columns per field, with how each is computed from the raw column <c>{0}</c>.</summary>
    private static readonly (string Suffix, string Type, string Expression)[] Aggregates =
    [
        ("min", "DOUBLE", "min({0})::DOUBLE"),
        ("max", "DOUBLE", "max({0})::DOUBLE"),
        ("sum", "DOUBLE", "sum({0})::DOUBLE"),
        ("count", "BIGINT", "count({0})"),
        // arg_min and arg_max skip rows whose value is NULL: the first and last values the field has in the window.
        ("first", "DOUBLE", "arg_min({0}, time)::DOUBLE"),
        ("last", "DOUBLE", "arg_max({0}, time)::DOUBLE"),
    ];

    private static string InsertSql(Rollup rollup, RawColumns source, string where)
    {
        string every = rollup.EveryNs.ToString(CultureInfo.InvariantCulture);
        var sql = new StringBuilder();
        sql.Append("INSERT INTO ").Append(rollup.Table).Append(" BY NAME SELECT ")
            .Append($"make_timestamp_ns(epoch_ns(time) - ((epoch_ns(time) % {every}) + {every}) % {every}) AS time");
        foreach (string tag in source.Tags)
        {
            sql.Append(", ").Append(SqlNames.Quote(tag));
        }

        foreach (string field in source.Fields)
        {
            string column = SqlNames.Quote(field);
            foreach (var (suffix, _, expression) in Aggregates)
            {
                sql.Append(", ").AppendFormat(CultureInfo.InvariantCulture, expression, column).Append(" AS ").Append(SqlNames.Quote(field + "_" + suffix));
            }
        }

        sql.Append(" FROM ").Append(SqlNames.Quote(rollup.Namespace)).Append('.').Append(SqlNames.Quote(rollup.Measurement))
            .Append(" WHERE ").Append(where).Append(" GROUP BY ALL");
        return sql.ToString();
    }

    private static string Where(List<(long From, long To)> ranges)
    {
        var sql = new StringBuilder("(");
        for (int i = 0; i < ranges.Count; i++)
        {
            var (from, to) = ranges[i];
            if (i > 0)
            {
                sql.Append(" OR ");
            }

            sql.Append('(');
            bool bounded = false;
            if (from != long.MinValue)
            {
                sql.Append("time >= make_timestamp_ns(").Append(from.ToString(CultureInfo.InvariantCulture)).Append(')');
                bounded = true;
            }

            if (to != long.MaxValue)
            {
                sql.Append(bounded ? " AND " : "").Append("time < make_timestamp_ns(").Append(to.ToString(CultureInfo.InvariantCulture)).Append(')');
                bounded = true;
            }

            sql.Append(bounded ? ")" : "true)");
        }

        return sql.Append(')').ToString();
    }

    private bool ViewExists(Rollup rollup) =>
        _connection.Scalar("SELECT 1 FROM duckdb_views() WHERE schema_name = $1 AND view_name = $2", rollup.Namespace, rollup.Name) is not null;

    /// <summary>
    /// The view <c>namespace.{rollup}</c>: <c>time</c> (the window's start), the tags, and per field its min, max, avg
    /// (sum / count), sum, count, first and last. Made once the namespace exists (its first write creates it).
    /// </summary>
    private void CreateView(Rollup rollup)
    {
        if (_connection.Scalar("SELECT 1 FROM duckdb_schemas() WHERE schema_name = $1", rollup.Namespace) is null)
        {
            return;
        }

        var columns = new List<(string Name, string Type)>();
        string table = rollup.Table[(SqlNames.InternalSchema.Length + 1)..];
        _connection.Query("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2 ORDER BY column_index",
            reader => columns.Add((reader.GetString(0), reader.GetString(1))), SqlNames.InternalSchema, table);
        var sql = new StringBuilder();
        sql.Append("CREATE OR REPLACE VIEW ").Append(rollup.QualifiedView).Append(" AS SELECT time");
        var fields = columns.Where(c => c.Name.EndsWith("_count", StringComparison.Ordinal) && c.Type == "BIGINT").Select(c => c.Name[..^"_count".Length]).ToList();
        var fieldColumns = new HashSet<string>(fields.SelectMany(f => Aggregates.Select(a => f + "_" + a.Suffix)), StringComparer.Ordinal);
        foreach (var (name, _) in columns)
        {
            if (name != SqlNames.TimeColumn && !fieldColumns.Contains(name))
            {
                sql.Append(", ").Append(SqlNames.Quote(name));
            }
        }

        foreach (string field in fields)
        {
            string Column(string suffix) => SqlNames.Quote(field + "_" + suffix);
            sql.Append(", ").Append(Column("min")).Append(", ").Append(Column("max"))
                .Append(", ").Append(Column("sum")).Append(" / nullif(").Append(Column("count")).Append(", 0) AS ").Append(Column("avg"))
                .Append(", ").Append(Column("sum")).Append(", ").Append(Column("count"))
                .Append(", ").Append(Column("first")).Append(", ").Append(Column("last"));
        }

        sql.Append(" FROM ").Append(rollup.Table);
        _connection.Execute(sql.ToString());
        _viewShapes[rollup.Id] = sql.ToString();
    }

    private void OnChanged(Rollup rollup, bool added)
    {
        lock (_dirtyLock)
        {
            if (added)
            {
                _recomputeWhole.Add(rollup.Id);
            }
            else
            {
                _recomputeWhole.Remove(rollup.Id);
                _dirtyWindows.RemoveWhere(w => w.Rollup == rollup.Id);
                _dirtyRanges.RemoveAll(r => r.Rollup == rollup.Id);
            }
        }
    }

    /// <summary>The start of the window holding <paramref name="timeNs"/>: windows are aligned to the Unix epoch, also before it.</summary>
    internal static long WindowStart(long timeNs, long everyNs)
    {
        long remainder = timeNs % everyNs;
        return remainder < 0 ? timeNs - remainder - everyNs : timeNs - remainder;
    }

    private static long WindowEnd(long timeNs, long everyNs)
    {
        long start = WindowStart(timeNs, everyNs);
        return start == timeNs ? start : start > long.MaxValue - everyNs ? long.MaxValue : start + everyNs;
    }

    private Task LoopAsync() => BackgroundLoop.RunAsync(_timer, RunOnceAsync,
        error => LogUnavailable(error.Message, Interval), error => LogRunFailed(error, Interval), _stop.Token);

    /// <summary>Stops the loop, brings every rollup up to date once more and, when that worked, marks them complete.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        try
        {
            await RunOnceAsync();
            _registry.MarkComplete(true);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // Not marked complete: the next start recomputes them whole.
            LogFinalRunFailed(error);
        }

        _registry.Changed = null;
        _timer.Dispose();
        _stop.Dispose();
        _running.Dispose();
        _connection.Dispose();
    }

    private sealed record RawColumns(List<string> Tags, List<string> Fields);

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "Rollup {Rollup} leaves out field {Field}: a tag of the measurement has the name of one of its columns; rename the tag or the field to roll it up")]
    private partial void LogFieldLeftOut(string rollup, string field);

    [LoggerMessage(EventId = 2402, Level = LogLevel.Warning, Message = "Rollups could not be brought up to date now ({Reason}); the maintainer tries again in {Interval}")]
    private partial void LogUnavailable(string reason, TimeSpan interval);

    [LoggerMessage(EventId = 2403, Level = LogLevel.Error, Message = "A rollup run failed; its windows are recomputed at the next run in {Interval}")]
    private partial void LogRunFailed(Exception error, TimeSpan interval);

    [LoggerMessage(EventId = 2404, Level = LogLevel.Warning, Message = "The last rollup run before the stop failed; the rollups are recomputed whole at the next start")]
    private partial void LogFinalRunFailed(Exception error);
}
