using System.Text;
using Plexus.Core;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Geo;

/// <summary>
/// A measurement declared to carry positions (docs/geo.md#position-sources). Column names are the measurement's;
/// <see cref="DeviceColumn"/> null means the server's device tag for the namespace (<c>--device-tag</c>).
/// </summary>
public sealed record PositionSource(
    string Namespace,
    string Measurement,
    string LatColumn,
    string LonColumn,
    string? AltColumn = null,
    string? SpeedColumn = null,
    string? HeadingColumn = null,
    string? DeviceColumn = null)
{
    public string Key => Namespace + "." + Measurement;
}

/// <summary>A declared source as listed: the device column in effect and whether the view includes it yet.</summary>
public sealed record PositionSourceStatus(PositionSource Source, string DeviceColumn, bool Available, string? Reason, DateTimeOffset CreatedAt);

/// <summary>
/// Declared position sources (rows of <c>_plexus.position_sources</c>) and the view <c>main.device_positions</c>
/// they feed: <c>main.positions</c> and every available source, UNION ALL.
/// </summary>
/// <remarks>
/// A view, not a copy: rows written late or out of order, and rows already stored when a source is declared, are in
/// it at once, and removing a source removes its rows. The view is regenerated when sources change, at start, when a
/// listing finds a source became available, and after every write that changed the schema while a source waits
/// (<see cref="IsWaiting"/>; the ingest pipeline's schema reactions). A source whose measurement or columns do not exist yet is left out of the view,
/// because DuckDB refuses a view over a missing column.
/// </remarks>
public sealed class PositionSourceRegistry : IDisposable
{
    public const string Table = "_plexus.position_sources";
    public const string View = "main.device_positions";
    public const string ViewName = "device_positions";
    public const int MaxSources = 1_000;
    public const int MaxColumnNameLength = 128;

    private const string PositionsKey = "main.positions";

    private static readonly string[] OptionalPositionColumns = ["alt", "speed", "heading"];
    private static readonly string[] RequiredPositionColumns = ["time", "device", "lat", "lon"];

    private static readonly HashSet<string> NumericTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT", "HUGEINT", "UHUGEINT",
    };

    private readonly MetadataConnection _connection;
    private readonly Func<string, string> _deviceTagFor;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, (PositionSource Source, DateTimeOffset CreatedAt)> _sources = new(StringComparer.Ordinal);
    private Dictionary<string, string?> _unavailable = new(StringComparer.Ordinal);

    // What the view waits for: a measurement that does not exist (Columns null) or columns it lacks. Read without
    // the lock for write batches.
    private volatile Waiting[] _waiting = [];
    private int _disposed;

    private PositionSourceRegistry(MetadataConnection connection, Func<string, string> deviceTagFor, TimeProvider time)
    {
        _connection = connection;
        _deviceTagFor = deviceTagFor;
        _time = time;
    }

    /// <summary>Creates the table, loads the sources and (re)creates the view. <paramref name="deviceTagFor"/> gives a namespace's device tag.</summary>
    public static PositionSourceRegistry Open(PlexusStore store, Func<string, string>? deviceTagFor = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            var registry = new PositionSourceRegistry(connection, deviceTagFor ?? (_ => "device"), time ?? TimeProvider.System);
            registry._connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    namespace VARCHAR NOT NULL,
                    measurement VARCHAR NOT NULL,
                    lat_column VARCHAR NOT NULL,
                    lon_column VARCHAR NOT NULL,
                    alt_column VARCHAR,
                    speed_column VARCHAR,
                    heading_column VARCHAR,
                    device_column VARCHAR,
                    created_at TIMESTAMP NOT NULL,
                    PRIMARY KEY (namespace, measurement))
                """);
            registry.Load();
            registry.Refresh();
            return registry;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Every declared source with its state, re-checking the ones not yet in the view.</summary>
    public IReadOnlyList<PositionSourceStatus> List()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            if (_unavailable.Count > 0 || _waiting.Length > 0)
            {
                RefreshLocked();
            }

            return [.. _sources.Values.Select(Status)];
        }
    }

    public PositionSourceStatus? Get(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (_unavailable.Count > 0)
            {
                RefreshLocked();
            }

            return _sources.TryGetValue(key, out var entry) ? Status(entry) : null;
        }
    }

    /// <summary>Declares (or replaces) a source; the answer says whether the view includes it now.</summary>
    public (PositionSourceStatus Status, bool Created) Put(PositionSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        source = Validate(source);
        lock (_lock)
        {
            ThrowIfDisposed();
            var existing = _sources.GetValueOrDefault(source.Key);
            if (existing.Source is null && _sources.Count >= MaxSources)
            {
                throw RegistryException.Invalid("measurement", $"there are already {MaxSources} position sources, the most one server keeps; remove some first");
            }

            CheckTypes(source);
            var created = existing.Source is null ? Now() : existing.CreatedAt;
            _connection.Execute(
                $"INSERT OR REPLACE INTO {Table} (namespace, measurement, lat_column, lon_column, alt_column, speed_column, heading_column, device_column, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                source.Namespace, source.Measurement, source.LatColumn, source.LonColumn, source.AltColumn, source.SpeedColumn, source.HeadingColumn, source.DeviceColumn, created.UtcDateTime);
            _sources[source.Key] = (source, created);
            RefreshLocked();
            return (Status(_sources[source.Key]), existing.Source is null);
        }
    }

    public bool Remove(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_sources.TryGetValue(key, out var entry))
            {
                return false;
            }

            _connection.Execute($"DELETE FROM {Table} WHERE namespace = $1 AND measurement = $2", entry.Source.Namespace, entry.Source.Measurement);
            _sources.Remove(key);
            RefreshLocked();
            return true;
        }
    }


    private static bool IsOneOf(ReadOnlySpan<byte> name, byte[][] names)
    {
        foreach (byte[] candidate in names)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(name, candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True while some source (or <c>main.positions</c>) is not in the view yet.</summary>
    public bool IsWaiting => _waiting.Length > 0;

    /// <summary>Re-checks which sources exist and regenerates the view.</summary>
    public void Refresh()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            RefreshLocked();
        }
    }

    /// <summary>Splits <c>namespace.measurement</c> (the key of the API's paths); a key without a dot is in <c>main</c>.</summary>
    public static string NormalizeKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int dot = key.IndexOf('.', StringComparison.Ordinal);
        string ns = dot < 0 ? Namespaces.Default : key[..dot];
        string measurement = dot < 0 ? key : key[(dot + 1)..];
        return Namespaces.TryNormalize(ns, out string normalized, out _) ? normalized + "." + measurement : key;
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

    private PositionSourceStatus Status((PositionSource Source, DateTimeOffset CreatedAt) entry) =>
        new(entry.Source, DeviceColumnOf(entry.Source), !_unavailable.ContainsKey(entry.Source.Key), _unavailable.GetValueOrDefault(entry.Source.Key), entry.CreatedAt);

    private string DeviceColumnOf(PositionSource source) => source.DeviceColumn ?? _deviceTagFor(source.Namespace);

    private static PositionSource Validate(PositionSource source)
    {
        if (string.IsNullOrEmpty(source.Namespace))
        {
            throw RegistryException.Invalid("namespace", "namespace: missing; name the measurement's namespace, e.g. \"fleet\" (\"main\" for the default)");
        }

        string? error = source.Namespace.Contains('/', StringComparison.Ordinal) ? null : "";
        if (error is null || !Namespaces.TryNormalize(source.Namespace, out string ns, out error))
        {
            throw RegistryException.Invalid("namespace", $"namespace: \"{Truncate(source.Namespace)}\" is not a namespace: {error ?? "it may contain only letters, digits, '_' and '-'"}");
        }

        CheckName("measurement", source.Measurement, required: true);
        if (ns == Namespaces.Default && string.Equals(source.Measurement, "positions", StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid("measurement", "main.positions is always part of main.device_positions; declare other measurements");
        }

        if (ns == Namespaces.Default && string.Equals(source.Measurement, ViewName, StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid("measurement", "main.device_positions is the view position sources feed; it cannot be one");
        }

        CheckName("lat", source.LatColumn, required: true);
        CheckName("lon", source.LonColumn, required: true);
        CheckName("alt", source.AltColumn, required: false);
        CheckName("speed", source.SpeedColumn, required: false);
        CheckName("heading", source.HeadingColumn, required: false);
        CheckName("device", source.DeviceColumn, required: false);
        return source with { Namespace = ns };
    }

    private static void CheckName(string field, string? name, bool required)
    {
        if (name is null)
        {
            if (required)
            {
                throw RegistryException.Invalid(field, $"{field}: missing; name the {(field == "measurement" ? "measurement" : "column")}, e.g. {Example(field)}");
            }

            return;
        }

        if (name.Length is 0 or > MaxColumnNameLength)
        {
            throw RegistryException.Invalid(field, $"{field}: \"{Truncate(name)}\" must be 1–{MaxColumnNameLength} characters, e.g. {Example(field)}");
        }

        foreach (char c in name)
        {
            if (char.IsControl(c))
            {
                throw RegistryException.Invalid(field, $"{field}: \"{Truncate(name)}\" has a control character (U+{(int)c:X4}); column and measurement names are printable");
            }
        }

        if (field != "measurement" && name.Equals("time", StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid(field, $"{field}: \"time\" is the measurement's timestamp, not a {field} column");
        }
    }

    private static string Example(string field) => field switch
    {
        "measurement" => "\"readings\"",
        "lat" => "\"latitude\"",
        "lon" => "\"longitude\"",
        "device" => "\"name\"",
        _ => $"\"{field}\"",
    };

    private static string Truncate(string name) => name.Length > 64 ? name[..64] + "…" : name;

    /// <summary>Columns that exist must be of a usable type; missing ones are waited for.</summary>
    private void CheckTypes(PositionSource source)
    {
        var columns = Columns(source.Namespace, source.Measurement);
        foreach (var (field, column) in NumericColumns(source))
        {
            if (column is not null && columns.TryGetValue(column, out string? type) && !NumericTypes.Contains(type))
            {
                throw RegistryException.Invalid(field, $"{field}: column \"{column}\" of {source.Key} is {type}; a {field} column must be numeric (DOUBLE or an integer type)");
            }
        }

        string device = DeviceColumnOf(source);
        if (columns.TryGetValue(device, out string? deviceType) && deviceType is not ("VARCHAR" or "BIGINT" or "INTEGER" or "UBIGINT" or "UINTEGER"))
        {
            throw RegistryException.Invalid("device", $"device: column \"{device}\" of {source.Key} is {deviceType}; the device key must be a tag or a text or integer field");
        }
    }

    private static IEnumerable<(string Field, string? Column)> NumericColumns(PositionSource source) =>
    [
        ("lat", source.LatColumn), ("lon", source.LonColumn), ("alt", source.AltColumn), ("speed", source.SpeedColumn), ("heading", source.HeadingColumn),
    ];

    /// <summary>Column name → DuckDB type of a measurement's view; empty when there is no such measurement.</summary>
    private Dictionary<string, string> Columns(string ns, string measurement)
    {
        var columns = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        _connection.Query(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE lower(schema_name) = lower($1) AND lower(table_name) = lower($2)",
            reader => columns[reader.GetString(0)] = reader.GetString(1),
            ns,
            measurement);
        return columns;
    }

    private void RefreshLocked()
    {
        var parts = new List<string>();
        var unavailable = new Dictionary<string, string?>(StringComparer.Ordinal);
        var waiting = new List<Waiting>();

        var positions = Columns(Namespaces.Default, "positions");
        if (positions.ContainsKey("time") && positions.ContainsKey("device") && positions.ContainsKey("lat") && positions.ContainsKey("lon"))
        {
            parts.Add($"""
                SELECT time, device, CAST(lat AS DOUBLE) AS lat, CAST(lon AS DOUBLE) AS lon,
                       {Optional(positions, "alt")} AS alt, {Optional(positions, "speed")} AS speed, {Optional(positions, "heading")} AS heading,
                       '{PositionsKey}' AS source
                FROM main.positions
                """);
            string[] missing = [.. OptionalPositionColumns.Where(c => !positions.ContainsKey(c))];
            if (missing.Length > 0)
            {
                waiting.Add(Waiting.For(Namespaces.Default, "positions", missing));
            }
        }
        else
        {
            waiting.Add(Waiting.For(Namespaces.Default, "positions", positions.Count == 0 ? null : RequiredPositionColumns));
        }

        foreach (var (source, _) in _sources.Values)
        {
            var columns = Columns(source.Namespace, source.Measurement);
            string device = DeviceColumnOf(source);
            var (reason, missingColumns) = Missing(source, columns, device);
            if (reason is not null)
            {
                unavailable[source.Key] = reason;

                // A column of the wrong type stays so; only a missing measurement or column can still come.
                if (columns.Count == 0 || missingColumns.Count > 0)
                {
                    waiting.Add(Waiting.For(source.Namespace, source.Measurement, columns.Count == 0 ? null : missingColumns));
                }

                continue;
            }

            parts.Add($"""
                SELECT time, CAST({SqlNames.Quote(device)} AS VARCHAR) AS device,
                       CAST({SqlNames.Quote(source.LatColumn)} AS DOUBLE) AS lat, CAST({SqlNames.Quote(source.LonColumn)} AS DOUBLE) AS lon,
                       {Cast(source.AltColumn)} AS alt, {Cast(source.SpeedColumn)} AS speed, {Cast(source.HeadingColumn)} AS heading,
                       {SqlNames.Literal(source.Key)} AS source
                FROM {SqlNames.Quote(source.Namespace)}.{SqlNames.Quote(source.Measurement)}
                WHERE {SqlNames.Quote(source.LatColumn)} IS NOT NULL AND {SqlNames.Quote(source.LonColumn)} IS NOT NULL
                """);
        }

        // With nothing to read the view still has its columns, so queries over it work before the first position.
        parts.Add("""
            SELECT CAST(NULL AS TIMESTAMP_NS) AS time, CAST(NULL AS VARCHAR) AS device, CAST(NULL AS DOUBLE) AS lat, CAST(NULL AS DOUBLE) AS lon,
                   CAST(NULL AS DOUBLE) AS alt, CAST(NULL AS DOUBLE) AS speed, CAST(NULL AS DOUBLE) AS heading, CAST(NULL AS VARCHAR) AS source
            WHERE false
            """);
        _connection.Execute($"CREATE OR REPLACE VIEW {View} AS\n" + string.Join("\nUNION ALL\n", parts));
        _unavailable = unavailable;
        _waiting = [.. waiting];
    }

    private static string Optional(Dictionary<string, string> columns, string name) =>
        columns.ContainsKey(name) ? $"CAST({name} AS DOUBLE)" : "CAST(NULL AS DOUBLE)";

    private static string Cast(string? column) => column is null ? "CAST(NULL AS DOUBLE)" : $"CAST({SqlNames.Quote(column)} AS DOUBLE)";

    private static (string? Reason, List<string> MissingColumns) Missing(PositionSource source, Dictionary<string, string> columns, string device)
    {
        if (columns.Count == 0)
        {
            return ($"measurement {source.Key} does not exist yet", []);
        }

        var missing = NumericColumns(source).Select(c => c.Column).Append(device)
            .Where(c => c is not null && !columns.ContainsKey(c)).Select(c => c!).ToList();
        if (missing.Count > 0)
        {
            return ($"{source.Key} has no column {string.Join(", ", missing.Select(c => $"\"{c}\""))} yet", missing);
        }

        foreach (var (field, column) in NumericColumns(source))
        {
            if (column is not null && !NumericTypes.Contains(columns[column]))
            {
                return ($"{field} column \"{column}\" is {columns[column]}, not numeric", []);
            }
        }

        return (null, []);
    }

    private sealed record Waiting(string Namespace, byte[] Measurement, byte[][]? Columns)
    {
        public static Waiting For(string ns, string measurement, IEnumerable<string>? columns) =>
            new(ns, Encoding.UTF8.GetBytes(measurement), columns?.Select(Encoding.UTF8.GetBytes).ToArray());
    }

    private void Load()
    {
        _connection.Query($"SELECT namespace, measurement, lat_column, lon_column, alt_column, speed_column, heading_column, device_column, created_at FROM {Table}", reader =>
        {
            var source = new PositionSource(
                reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                NullableString(reader, 4), NullableString(reader, 5), NullableString(reader, 6), NullableString(reader, 7));
            _sources[source.Key] = (source, new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(8), DateTimeKind.Utc)));
        });
    }

    private static string? NullableString(System.Data.Common.DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    private DateTimeOffset Now()
    {
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);
    }

    /// <summary>The answer to a key no position source has.</summary>
    public static RegistryException NotFound(string key) => RegistryException.NotFound("source", $"no position source \"{key}\"; GET /api/v1/position-sources lists them");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
