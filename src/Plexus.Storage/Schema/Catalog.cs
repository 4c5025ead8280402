using System.Data.Common;
using System.Text;
using DuckDB.NET.Data;
using Plexus.Core;
using Plexus.Storage.Cold;

namespace Plexus.Storage.Schema;

/// <summary>
/// The writer's map of namespaces and measurements. It is rebuilt from the database at start and after a
/// failed commit, so the database is the only truth and this is a cache of it.
/// </summary>
public sealed class Catalog
{
    private readonly Dictionary<string, NamespaceSchema> _namespaces = new(StringComparer.Ordinal);
    private readonly List<MeasurementSchema> _staleViews = [];
    private int _nextMeasurementId = 1;

    public IEnumerable<NamespaceSchema> Namespaces => _namespaces.Values;

    /// <summary>The cold tier whose Parquet files the views read; null when the store has none (some tests).</summary>
    public ColdStore? Cold { get; private set; }

    public string? ColdDirectory => Cold?.Directory;

    private bool _measurementsChanged = true;

    public int NamespaceCount => _namespaces.Count;

    public static void EnsureCreated(DuckDBConnection connection)
    {
        Execute(connection, $"CREATE SCHEMA IF NOT EXISTS {SqlNames.InternalSchema}");
        Execute(connection, $"CREATE TABLE IF NOT EXISTS {SqlNames.InternalSchema}.measurements (id INTEGER NOT NULL, namespace VARCHAR NOT NULL, name VARCHAR NOT NULL)");
        // The last write-log record whose points are in the tables; updated in the transaction that applies them.
        Execute(connection, $"CREATE TABLE IF NOT EXISTS {SqlNames.InternalSchema}.log_state (applied_lsn BIGINT NOT NULL)");
        Execute(connection, $"INSERT INTO {SqlNames.InternalSchema}.log_state SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {SqlNames.InternalSchema}.log_state)");
    }

    public static long ReadAppliedLsn(DuckDBConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT max(applied_lsn) FROM {SqlNames.InternalSchema}.log_state";
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static void WriteAppliedLsn(DuckDBConnection connection, long lsn) =>
        Execute(connection, $"UPDATE {SqlNames.InternalSchema}.log_state SET applied_lsn = {lsn}");

    public NamespaceSchema? FindNamespace(string name) => _namespaces.TryGetValue(name, out var schema) ? schema : null;

    public NamespaceSchema GetOrAddNamespace(DuckDBConnection connection, string name)
    {
        if (!_namespaces.TryGetValue(name, out var schema))
        {
            Execute(connection, $"CREATE SCHEMA IF NOT EXISTS {SqlNames.Quote(name)}");
            schema = new NamespaceSchema(name);
            _namespaces.Add(name, schema);
        }

        return schema;
    }

    public MeasurementSchema CreateMeasurement(DuckDBConnection connection, NamespaceSchema ns, string name)
    {
        var measurement = new MeasurementSchema(_nextMeasurementId++, ns.Name, name);
        Execute(connection, $"INSERT INTO {SqlNames.InternalSchema}.measurements VALUES ({measurement.Id}, {SqlNames.Literal(ns.Name)}, {SqlNames.Literal(name)})");
        Execute(connection, $"CREATE TABLE {measurement.SeriesTable} ({SqlNames.SeriesIdColumn} INTEGER NOT NULL)");
        Execute(connection, $"CREATE TABLE {measurement.DataTable} ({SqlNames.SeriesIdColumn} INTEGER NOT NULL, {SqlNames.TimeColumn} TIMESTAMP_NS NOT NULL)");
        ns.Add(measurement);
        MarkViewStale(measurement);
        _measurementsChanged = true;
        return measurement;
    }

    public void AddTagColumn(DuckDBConnection connection, MeasurementSchema measurement, string name)
    {
        Execute(connection, $"ALTER TABLE {measurement.SeriesTable} ADD COLUMN {SqlNames.Quote(name)} VARCHAR");
        measurement.AddTag(name);
        MarkViewStale(measurement);
    }

    public void AddFieldColumn(DuckDBConnection connection, MeasurementSchema measurement, string name, FieldType type)
    {
        Execute(connection, $"ALTER TABLE {measurement.DataTable} ADD COLUMN {SqlNames.Quote(name)} {SqlType(type)}");
        measurement.AddField(name, type);
        MarkViewStale(measurement);
    }

    /// <summary>Forgets a measurement whose tables the caller dropped in its transaction (a delete that drops it).</summary>
    internal void RemoveMeasurement(NamespaceSchema ns, MeasurementSchema measurement)
    {
        ns.Remove(measurement);
        _staleViews.Remove(measurement);
        _measurementsChanged = true;
    }

    /// <summary>Forgets a namespace whose schema the caller dropped in its transaction.</summary>
    internal void RemoveNamespace(string name) => _namespaces.Remove(name);

    /// <summary>
    /// Rebuilds the views of the measurements created or widened since the last call, inside the caller's
    /// transaction; a measurement whose every point was refused still gets its (empty) view.
    /// </summary>
    /// <returns>True when a measurement was created or widened since the last call.</returns>
    public bool RefreshStaleViews(DuckDBConnection connection)
    {
        bool any = _staleViews.Count > 0;
        foreach (var measurement in _staleViews)
        {
            Execute(connection, measurement.ViewSql(ColdDirectory));
        }

        _staleViews.Clear();
        if (_measurementsChanged && Cold is not null)
        {
            Execute(connection, PartitionsViewSql(Cold.Options.PartitionSpanNs));
            _measurementsChanged = false;
        }

        return any;
    }

    /// <summary>
    /// The system view <c>main.partitions</c> (a name no measurement of main may take): one row per cold partition from
    /// the manifest, and one per hot partition of every measurement, counted from its data table when read.
    /// </summary>
    private string PartitionsViewSql(long spanNs)
    {
        string span = spanNs.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var sql = new StringBuilder($"CREATE OR REPLACE VIEW main.{ColdStore.PartitionsViewName} AS ");
        sql.Append("SELECT 'cold' AS tier, m.namespace, m.name AS measurement, make_timestamp_ns(c.partition_start) AS partition_start, ")
            .Append("make_timestamp_ns(c.partition_end) AS partition_end, c.rows, c.bytes, c.min_time, c.max_time, c.file ")
            .Append($"FROM {ColdStore.ManifestTable} AS c JOIN {SqlNames.InternalSchema}.measurements AS m ON m.id = c.measurement_id");
        foreach (var measurement in _namespaces.Values.SelectMany(ns => ns.Measurements).OrderBy(m => m.Id))
        {
            string start = $"epoch_ns({SqlNames.TimeColumn}) - ((epoch_ns({SqlNames.TimeColumn}) % {span}) + {span}) % {span}";
            sql.Append(" UNION ALL SELECT 'hot', ").Append(SqlNames.Literal(measurement.Namespace)).Append(", ").Append(SqlNames.Literal(measurement.Name))
                .Append($", make_timestamp_ns(p), make_timestamp_ns(p + {span}), count(*), NULL::BIGINT, min({SqlNames.TimeColumn}), max({SqlNames.TimeColumn}), NULL::VARCHAR")
                .Append($" FROM (SELECT {SqlNames.TimeColumn}, {start} AS p FROM {measurement.DataTable}) GROUP BY p");
        }

        return sql.ToString();
    }

    /// <summary>Replaces a measurement's view now, inside the caller's transaction (its cold partitions changed).</summary>
    internal void RefreshView(DuckDBConnection connection, MeasurementSchema measurement)
    {
        Execute(connection, measurement.ViewSql(ColdDirectory));
        _staleViews.Remove(measurement);
    }

    internal void MarkViewStale(MeasurementSchema measurement)
    {
        if (!_staleViews.Contains(measurement))
        {
            _staleViews.Add(measurement);
        }
    }

    public static string SqlType(FieldType type) => type switch
    {
        FieldType.Float => "DOUBLE",
        FieldType.Integer => "BIGINT",
        FieldType.UInteger => "UBIGINT",
        FieldType.Boolean => "BOOLEAN",
        FieldType.String => "VARCHAR",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "No SQL type for this field type."),
    };

    private static FieldType FromSqlType(string sqlType) => sqlType switch
    {
        "DOUBLE" => FieldType.Float,
        "BIGINT" => FieldType.Integer,
        "UBIGINT" => FieldType.UInteger,
        "BOOLEAN" => FieldType.Boolean,
        "VARCHAR" => FieldType.String,
        _ => throw new StorageException($"Unexpected column type {sqlType} in a data table."),
    };

    /// <summary>Reads every measurement, its columns, its series and each series' newest time.</summary>
    public static Catalog Load(DuckDBConnection connection) => Load(connection, null);

    /// <summary>Reads every measurement, its columns, its series, each series' newest hot time and its cold partitions.</summary>
    public static Catalog Load(DuckDBConnection connection, ColdStore? coldStore)
    {
        var catalog = new Catalog { Cold = coldStore };
        var cold = coldStore is null ? [] : ColdStore.LoadManifest(connection);
        var rows = new List<(int Id, string Ns, string Name)>();
        ForEachRow(connection, $"SELECT id, namespace, name FROM {SqlNames.InternalSchema}.measurements ORDER BY id", reader =>
            rows.Add((reader.GetInt32(0), reader.GetString(1), reader.GetString(2))));

        foreach (var (id, nsName, name) in rows)
        {
            if (!catalog._namespaces.TryGetValue(nsName, out var ns))
            {
                ns = new NamespaceSchema(nsName);
                catalog._namespaces.Add(nsName, ns);
            }

            var measurement = new MeasurementSchema(id, nsName, name);
            LoadColumns(connection, measurement);
            LoadSeries(connection, measurement);
            if (cold.TryGetValue(id, out var partitions))
            {
                measurement.SetColdPartitions(partitions, hotRowsBelowHorizon: false);
                measurement.SetColdPartitions(partitions, HasHotRowsBelowHorizon(connection, measurement));
            }

            ns.Add(measurement);
            catalog._nextMeasurementId = Math.Max(catalog._nextMeasurementId, id + 1);
        }

        return catalog;
    }

    /// <summary>Whether the hot store holds rows below the cold horizon (late points not yet folded into their partition).</summary>
    internal static bool HasHotRowsBelowHorizon(DuckDBConnection connection, MeasurementSchema measurement)
    {
        if (measurement.ColdPartitions.Count == 0)
        {
            return false;
        }

        bool any = false;
        ForEachRow(connection, $"SELECT EXISTS (SELECT 1 FROM {measurement.DataTable} WHERE {SqlNames.TimeColumn} < make_timestamp_ns($1))",
            reader => any = reader.GetBoolean(0), measurement.ColdHorizon);
        return any;
    }

    internal static void LoadColumns(DuckDBConnection connection, MeasurementSchema measurement)
    {
        string sql = $"SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = '{SqlNames.InternalSchema}' " +
            $"AND table_name IN ('{SqlNames.SeriesTable(measurement.Id)}', '{SqlNames.DataTable(measurement.Id)}') ORDER BY table_name, column_index";
        ForEachRow(connection, sql, reader =>
        {
            string table = reader.GetString(0);
            string column = reader.GetString(1);
            if (column is SqlNames.SeriesIdColumn or SqlNames.TimeColumn)
            {
                return;
            }

            if (table.StartsWith('s'))
            {
                measurement.AddTag(column);
            }
            else
            {
                measurement.AddField(column, FromSqlType(reader.GetString(2)));
            }
        });
    }

    private static void LoadSeries(DuckDBConnection connection, MeasurementSchema measurement)
    {
        var maxTimes = new Dictionary<int, long>();
        ForEachRow(connection, $"SELECT {SqlNames.SeriesIdColumn}, epoch_ns(max({SqlNames.TimeColumn})) FROM {measurement.DataTable} GROUP BY ALL", reader =>
            maxTimes[reader.GetInt32(0)] = reader.GetInt64(1));

        // Tags in key order, as BuildSeriesKey sorts the tags of incoming points.
        var tagOrder = measurement.Tags
            .Select((tag, index) => (tag.Utf8Name, Index: index))
            .OrderBy(t => t.Utf8Name, Utf8Order.Instance)
            .ToArray();
        var key = new List<byte>();
        ForEachRow(connection, $"SELECT * FROM {measurement.SeriesTable} ORDER BY {SqlNames.SeriesIdColumn}", reader =>
        {
            int seriesId = reader.GetInt32(0);
            if (seriesId != measurement.SeriesCount)
            {
                throw new StorageException($"Series table of measurement {measurement.Namespace}.{measurement.Name} is not dense at id {seriesId}.");
            }

            key.Clear();
            foreach (var (tagName, index) in tagOrder)
            {
                int ordinal = MeasurementSchema.FirstTagOrdinal + index;
                if (reader.IsDBNull(ordinal))
                {
                    continue;
                }

                byte[] value = Encoding.UTF8.GetBytes(reader.GetString(ordinal));
                key.AddRange(BitConverter.GetBytes(tagName.Length));
                key.AddRange(tagName);
                key.AddRange(BitConverter.GetBytes(value.Length));
                key.AddRange(value);
            }

            measurement.AddSeries(key.ToArray(), maxTimes.TryGetValue(seriesId, out long max) ? max : long.MinValue);
        });
    }

    internal static void Execute(DuckDBConnection connection, string sql, params ReadOnlySpan<object?> parameters) =>
        MetadataConnection.Execute(connection, sql, parameters);

    private static void ForEachRow(DuckDBConnection connection, string sql, Action<DbDataReader> row, params ReadOnlySpan<object?> parameters) =>
        MetadataConnection.ForEachRow(connection, sql, row, parameters);

    private sealed class Utf8Order : IComparer<byte[]>
    {
        public static readonly Utf8Order Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}

/// <summary>The measurements of one namespace, found by exact UTF-8 name or by case-folded name for collision checks.</summary>
public sealed class NamespaceSchema
{
    private readonly Utf8Map<MeasurementSchema> _byName = new();
    private readonly Dictionary<string, MeasurementSchema> _byFoldedName = new(StringComparer.OrdinalIgnoreCase);

    public NamespaceSchema(string name)
    {
        Name = name;
    }

    public string Name { get; }

    public IEnumerable<MeasurementSchema> Measurements => _byFoldedName.Values;

    public int Count => _byFoldedName.Count;

    public MeasurementSchema? Find(ReadOnlySpan<byte> name) => _byName.TryGetValue(name, out var measurement) ? measurement : null;

    public MeasurementSchema? FindFolded(string name) => _byFoldedName.TryGetValue(name, out var measurement) ? measurement : null;

    public void Add(MeasurementSchema measurement)
    {
        _byName.Set(measurement.Utf8Name, measurement);
        _byFoldedName[measurement.Name] = measurement;
    }

    internal void Remove(MeasurementSchema measurement)
    {
        _byName.Remove(measurement.Utf8Name);
        _byFoldedName.Remove(measurement.Name);
    }
}
