using System.Globalization;
using System.Text;
using Plexus.Storage.Retention;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Rollups;

/// <summary>
/// One continuous rollup (docs/storage.md#rollups): per series and window of <see cref="Every"/>, the min, max, sum,
/// count, first and last of every numeric field of <c>namespace.measurement</c>, queryable as <c>namespace.{Name}</c>.
/// </summary>
public sealed record Rollup(long Id, string Namespace, string Measurement, TimeSpan Every, TimeSpan? Retention, DateTimeOffset CreatedAt)
{
    /// <summary><c>namespace.measurement</c>, as the CLI and the HTTP API name the measurement rolled up.</summary>
    public string Target => Namespace + "." + Measurement;

    /// <summary>The view's name in the namespace: the measurement's name, <c>_</c> and the interval (<c>readings_1h</c>).</summary>
    public string Name => NameOf(Measurement, Every);

    /// <summary>The view, quoted: <c>"main"."readings_1h"</c>.</summary>
    public string QualifiedView => SqlNames.Quote(Namespace) + "." + SqlNames.Quote(Name);

    /// <summary>The physical table, in the internal schema.</summary>
    public string Table => SqlNames.Qualified("rollup_" + Id.ToString(CultureInfo.InvariantCulture));

    public long EveryNs => Every.Ticks * 100;

    public static string NameOf(string measurement, TimeSpan every) => measurement + "_" + RetentionPolicies.Format(every);
}

/// <summary>A rollup could not be added or removed: what was wrong, for the person who asked, and the request field it concerns.</summary>
public sealed class RollupException(string message, string field, bool conflict = false) : Exception(message)
{
    public string Field { get; } = field;

    /// <summary>The request collides with something that exists (a measurement or a rollup of that name): HTTP 409.</summary>
    public bool Conflict { get; } = conflict;
}

/// <summary>
/// The rollup definitions: rows of <c>_plexus.rollups</c>, listed read-only in SQL as <c>main.rollups</c> (a name no
/// measurement of <c>main</c> may take), with the table macro <c>main.rollup(measurement, from, to, resolution)</c>
/// regenerated at every change. <see cref="RollupMaintainer"/> keeps their tables up to date.
/// </summary>
/// <remarks>
/// <see cref="Current"/> is an immutable snapshot replaced at every change, so the ingest path (the name guard, the
/// observer) reads it without a lock.
/// </remarks>
public sealed class RollupRegistry : IDisposable
{
    public const string Table = SqlNames.InternalSchema + ".rollups";
    public const string ViewName = "rollups";
    public const string MacroName = "rollup";

    /// <summary>Rollups a server keeps by default (<c>--rollups-max</c>).</summary>
    public const int DefaultMaxRollups = 100;

    /// <summary>Shortest window: a maintainer run every few seconds recomputing windows of seconds would cost more than the raw rows.</summary>
    public static readonly TimeSpan MinEvery = TimeSpan.FromMinutes(1);

    /// <summary>Longest window.</summary>
    public static readonly TimeSpan MaxEvery = TimeSpan.FromDays(31);

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private volatile RollupSet _current;
    private int _disposed;

    private RollupRegistry(MetadataConnection connection, TimeProvider time, int maxRollups, RollupSet current)
    {
        _connection = connection;
        _time = time;
        MaxRollups = maxRollups;
        _current = current;
    }

    /// <summary>Every rollup now; replaced whole at every change.</summary>
    public RollupSet Current => _current;

    public int MaxRollups { get; }

    /// <summary>Called after a rollup was added (with it) or removed, outside the registry's lock.</summary>
    internal Action<Rollup, bool>? Changed { get; set; }

    public static RollupRegistry Open(PlexusStore store, TimeProvider? time = null, int maxRollups = DefaultMaxRollups)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRollups);
        var connection = store.OpenMetadataConnection();
        try
        {
            // complete: false from the moment the server runs with the rollup until a clean stop has brought it up to
            // date; a start that finds it false (a crash, or a rollup just added) recomputes it whole.
            connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    id BIGINT NOT NULL PRIMARY KEY,
                    namespace VARCHAR NOT NULL,
                    measurement VARCHAR NOT NULL,
                    every_seconds BIGINT NOT NULL,
                    retention_seconds BIGINT,
                    created_at TIMESTAMP NOT NULL,
                    complete BOOLEAN NOT NULL)
                """);
            connection.Execute($"""
                CREATE OR REPLACE VIEW main.{ViewName} AS
                SELECT namespace, measurement, namespace || '.' || measurement || '_' ||
                           CASE WHEN every_seconds % 86400 = 0 THEN (every_seconds // 86400) || 'd'
                                WHEN every_seconds % 3600 = 0 THEN (every_seconds // 3600) || 'h'
                                ELSE (every_seconds // 60) || 'm' END AS rollup,
                       to_seconds(every_seconds) AS every, to_seconds(retention_seconds) AS retention, created_at
                FROM {Table}
                """);
            var registry = new RollupRegistry(connection, time ?? TimeProvider.System, maxRollups, RollupSet.Empty);
            registry._current = new RollupSet(registry.Load());
            registry.InstallMacro();
            return registry;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Parses <c>namespace.measurement</c> (the part before the first dot is the namespace).</summary>
    /// <exception cref="RollupException">Not such a name.</exception>
    public static (string Namespace, string Measurement) ParseTarget(string target)
    {
        try
        {
            var (ns, measurement) = RetentionPolicies.ParseTarget(target);
            if (measurement is null)
            {
                throw new RollupException($"\"{Shorten(target)}\" names a namespace; a rollup is of one measurement: name namespace.measurement, e.g. main.readings", "measurement");
            }

            return (ns, measurement);
        }
        catch (RetentionPolicyException error)
        {
            throw new RollupException(error.Message, "measurement");
        }
    }

    /// <summary>Parses a window such as <c>1m</c>, <c>15m</c>, <c>1h</c>, <c>1d</c> (whole minutes, hours or days, <see cref="MinEvery"/> to <see cref="MaxEvery"/>).</summary>
    /// <exception cref="RollupException">Not such an interval.</exception>
    public static TimeSpan ParseEvery(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.Length is >= 2 and <= 8
            && long.TryParse(trimmed[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long count)
            && char.ToLowerInvariant(trimmed[^1]) switch { 'm' => 1L, 'h' => 60L, 'd' => 1440L, _ => 0L } is var minutes and > 0
            && count is > 0 && count <= MaxEvery.TotalMinutes / minutes)
        {
            return TimeSpan.FromMinutes(count * minutes);
        }

        throw new RollupException($"every: \"{Shorten(text)}\" is not a window such as 1m, 15m, 1h or 1d (whole minutes, hours or days, from {RetentionPolicies.Format(MinEvery)} to {RetentionPolicies.Format(MaxEvery)})", "every");
    }

    /// <summary>Parses a rollup's retention (as a retention policy's: <c>400d</c>, <c>12w</c>).</summary>
    /// <exception cref="RollupException">Not such a duration.</exception>
    public static TimeSpan ParseRetention(string text)
    {
        try
        {
            return RetentionPolicies.ParseDuration(text);
        }
        catch (RetentionPolicyException error)
        {
            throw new RollupException(error.Message.Replace("raw: ", "retention: ", StringComparison.Ordinal), "retention");
        }
    }

    /// <summary>
    /// Adds a rollup; durable when this returns. Its windows are computed from the raw rows at the maintainer's next run.
    /// </summary>
    /// <exception cref="RollupException">The name is taken (a measurement, a rollup), the limit is reached, or the retention is shorter than a window.</exception>
    public Rollup Add(string ns, string measurement, TimeSpan every, TimeSpan? retention)
    {
        ArgumentNullException.ThrowIfNull(ns);
        ArgumentNullException.ThrowIfNull(measurement);
        if (every < MinEvery || every > MaxEvery || every.Ticks % TimeSpan.TicksPerMinute != 0)
        {
            throw new RollupException($"every must be whole minutes from {RetentionPolicies.Format(MinEvery)} to {RetentionPolicies.Format(MaxEvery)}", "every");
        }

        if (retention is { } kept && kept < every)
        {
            throw new RollupException($"retention {RetentionPolicies.Format(kept)} is shorter than one window of {RetentionPolicies.Format(every)}: keep at least one window", "retention");
        }

        string name = Rollup.NameOf(measurement, every);
        var now = _time.GetUtcNow();
        Rollup added;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var current = _current;
            if (current.All.FirstOrDefault(r => r.Namespace == ns && string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase)) is { } existing)
            {
                throw new RollupException($"{ns}.{name} already exists (the {RetentionPolicies.Format(existing.Every)} rollup of {existing.Target}); remove it first to change it", "every", conflict: true);
            }

            if (current.IsRollupName(ns, measurement))
            {
                throw new RollupException($"{ns}.{measurement} is a rollup, not a measurement: roll up the measurement itself with a longer window", "measurement");
            }

            if (_connection.Scalar($"SELECT name FROM {SqlNames.InternalSchema}.measurements WHERE namespace = $1 AND lower(name) = lower($2)", ns, name) is string taken)
            {
                throw new RollupException($"{ns}.{taken} is a measurement already, so its name cannot be the rollup's; write that data under another name, or drop it (plexus delete {ns}.{taken})", "every", conflict: true);
            }

            if (current.All.Count >= MaxRollups)
            {
                throw new RollupException($"this server keeps at most {MaxRollups} rollups (--rollups-max); remove one first", "measurement", conflict: true);
            }

            long id = Convert.ToInt64(_connection.Scalar($"SELECT coalesce(max(id), 0) + 1 FROM {Table}"), CultureInfo.InvariantCulture);
            added = new Rollup(id, ns, measurement, every, retention, now);
            _connection.InTransaction(() =>
            {
                _connection.Execute($"INSERT INTO {Table} VALUES ($1, $2, $3, $4, $5, $6, false)",
                    id, ns, measurement, (long)every.TotalSeconds, retention is { } r ? (long)r.TotalSeconds : null, now.UtcDateTime);
                _connection.Execute($"CREATE TABLE IF NOT EXISTS {added.Table} ({SqlNames.TimeColumn} TIMESTAMP_NS NOT NULL)");
            });
            _current = new RollupSet([.. current.All, added]);
            InstallMacro();
        }

        Changed?.Invoke(added, true);
        return added;
    }

    /// <summary>Removes a rollup, its table and its view; false when there was none.</summary>
    public bool Remove(string ns, string measurement, TimeSpan every)
    {
        Rollup? removed;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            var current = _current;
            removed = current.All.FirstOrDefault(r => r.Namespace == ns && r.Measurement == measurement && r.Every == every);
            if (removed is null)
            {
                return false;
            }

            var rollup = removed;
            _connection.InTransaction(() =>
            {
                _connection.Execute($"DELETE FROM {Table} WHERE id = $1", rollup.Id);
                _connection.Execute($"DROP TABLE IF EXISTS {rollup.Table}");
                _connection.Execute($"DROP VIEW IF EXISTS {rollup.QualifiedView}");
            });
            _current = new RollupSet([.. current.All.Where(r => r.Id != rollup.Id)]);
            InstallMacro();
        }

        Changed?.Invoke(removed, false);
        return true;
    }

    /// <summary>Every rollup, by namespace, measurement and window.</summary>
    public IReadOnlyList<Rollup> List() => [.. _current.All.OrderBy(r => r.Namespace, StringComparer.Ordinal).ThenBy(r => r.Measurement, StringComparer.Ordinal).ThenBy(r => r.Every)];

    /// <summary>The rollups whose last run did not end with a clean stop (or that are new): they are recomputed whole.</summary>
    internal IReadOnlyList<long> Incomplete()
    {
        var ids = new List<long>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _connection.Query($"SELECT id FROM {Table} WHERE NOT complete", reader => ids.Add(reader.GetInt64(0)));
        }

        return ids;
    }

    /// <summary>Marks every rollup complete (a clean stop brought them up to date) or not (the server runs and may crash).</summary>
    internal void MarkComplete(bool complete)
    {
        lock (_lock)
        {
            if (_disposed == 0)
            {
                _connection.Execute($"UPDATE {Table} SET complete = $1", complete);
            }
        }
    }

    private List<Rollup> Load()
    {
        var rollups = new List<Rollup>();
        _connection.Query($"SELECT id, namespace, measurement, every_seconds, retention_seconds, created_at FROM {Table} ORDER BY id", reader =>
            rollups.Add(new Rollup(
                reader.GetInt64(0),
                reader.GetString(1),
                reader.GetString(2),
                TimeSpan.FromSeconds(reader.GetInt64(3)),
                reader.IsDBNull(4) ? null : TimeSpan.FromSeconds(reader.GetInt64(4)),
                new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(5), DateTimeKind.Utc)))));
        return rollups;
    }

    /// <summary>
    /// <c>main.rollup(measurement, start_time, end_time, resolution)</c>: the rows of the coarsest rollup of
    /// <c>measurement</c> whose window is at most <c>resolution</c>, from <c>start_time</c> (included, NULL for no
    /// bound) to <c>end_time</c> (excluded, NULL for no bound). <c>query_table</c> needs its table name when the call is
    /// bound, so the choice is a CASE over the rollups that exist, written out again at every change.
    /// </summary>
    private void InstallMacro()
    {
        var sql = new StringBuilder();
        sql.Append($"CREATE OR REPLACE MACRO main.{MacroName}(measurement, start_time, end_time, resolution) AS TABLE SELECT * FROM query_table(CASE");
        foreach (var rollup in _current.All.OrderBy(r => r.Target, StringComparer.Ordinal).ThenByDescending(r => r.Every))
        {
            sql.Append(" WHEN lower(measurement) = ").Append(SqlNames.Literal(rollup.Target.ToLowerInvariant()))
                .Append(" AND CAST(resolution AS INTERVAL) >= to_seconds(").Append((long)rollup.Every.TotalSeconds).Append(") THEN ")
                .Append(SqlNames.Literal(rollup.QualifiedView));
        }

        // The branch no call takes keeps the CASE from being constant while the macro is created with no rollup.
        sql.Append($" WHEN measurement IS NULL THEN 'main.{ViewName}'");
        sql.Append(" ELSE error('no rollup of ' || measurement || ' has windows of at most ' || resolution || ': SELECT * FROM main.rollups lists them') END)");
        sql.Append(" WHERE (start_time IS NULL OR time >= start_time) AND (end_time IS NULL OR time < end_time)");
        _connection.Execute(sql.ToString());
    }

    private static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;

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
}

/// <summary>An immutable snapshot of the rollups, indexed for the ingest path: by namespace, then by the measurement's UTF-8 name.</summary>
public sealed class RollupSet
{
    public static readonly RollupSet Empty = new([]);

    private readonly Dictionary<string, NamespaceRollups> _byNamespace = new(StringComparer.Ordinal);

    public RollupSet(IReadOnlyList<Rollup> all)
    {
        All = all;
        foreach (var group in all.GroupBy(r => r.Namespace, StringComparer.Ordinal))
        {
            _byNamespace[group.Key] = new NamespaceRollups([.. group]);
        }
    }

    public IReadOnlyList<Rollup> All { get; }

    /// <summary>The rollups of a namespace, or null when it has none (the usual case, decided by one lookup).</summary>
    public NamespaceRollups? Of(string ns) => _byNamespace.Count == 0 ? null : _byNamespace.GetValueOrDefault(ns);

    /// <summary>True when <paramref name="name"/> is the view name of a rollup of <paramref name="ns"/>, in any letter case.</summary>
    public bool IsRollupName(string ns, string name) => Of(ns) is { } rollups && rollups.IsRollupName(Encoding.UTF8.GetBytes(name));
}

/// <summary>The rollups of one namespace: their measurements' and views' UTF-8 names, compared without allocating.</summary>
public sealed class NamespaceRollups
{
    private readonly byte[][] _names;

    internal NamespaceRollups(Rollup[] rollups)
    {
        Rollups = rollups;
        MeasurementUtf8 = [.. rollups.Select(r => Encoding.UTF8.GetBytes(r.Measurement))];
        _names = [.. rollups.Select(r => Encoding.UTF8.GetBytes(r.Name))];
    }

    public IReadOnlyList<Rollup> Rollups { get; }

    /// <summary>The measurement rolled up by <c>Rollups[i]</c>, as UTF-8.</summary>
    public IReadOnlyList<byte[]> MeasurementUtf8 { get; }

    public bool IsRollupName(ReadOnlySpan<byte> measurement)
    {
        foreach (byte[] name in _names)
        {
            if (Ascii.EqualsIgnoreCase(measurement, name) || (name.Length == measurement.Length && measurement.SequenceEqual(name)))
            {
                return true;
            }
        }

        return false;
    }
}
