using System.Text;
using Plexus.Core;
using Plexus.Storage.Cold;

namespace Plexus.Storage.Schema;

/// <summary>A tag or field column of a measurement, with its position in the physical table.</summary>
public sealed class ColumnSchema
{
    public ColumnSchema(string name, FieldType type, int ordinal)
    {
        Name = name;
        Utf8Name = Encoding.UTF8.GetBytes(name);
        Type = type;
        Ordinal = ordinal;
    }

    public string Name { get; }

    public byte[] Utf8Name { get; }

    /// <summary>The field's type; <see cref="FieldType.String"/> for tags.</summary>
    public FieldType Type { get; }

    /// <summary>Column index in the series table (tags) or data table (fields).</summary>
    public int Ordinal { get; }
}

/// <summary>
/// What the writer knows of one measurement: its physical tables, its tag and field columns, its series and
/// the newest time stored per series. Owned by the writer thread; nothing else mutates it.
/// </summary>
/// <remarks>
/// Physical layout: a series table `_plexus.s{id}` (`_series_id`, one VARCHAR column per tag key) and a data
/// table `_plexus.d{id}` (`_series_id`, `time` TIMESTAMP_NS, one typed column per field). The user sees the
/// view `namespace.measurement` that joins them. See docs/architecture.md for why and the figures.
/// </remarks>
public sealed class MeasurementSchema
{
    // Data table columns before the first field: _series_id, time.
    public const int FirstFieldOrdinal = 2;

    // Series table columns before the first tag: _series_id.
    public const int FirstTagOrdinal = 1;

    private readonly Utf8Map<ColumnSchema> _tagsByName = new();
    private readonly Utf8Map<ColumnSchema> _fieldsByName = new();
    private readonly Dictionary<string, string> _columnNamesFolded = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ColumnSchema> _tags = [];
    private readonly List<ColumnSchema> _fields = [];
    private readonly Utf8Map<int> _seriesIds = new();
    private readonly List<SeriesTimes> _seriesTimes = [];

    public MeasurementSchema(int id, string ns, string name)
    {
        Id = id;
        Namespace = ns;
        Name = name;
        Utf8Name = Encoding.UTF8.GetBytes(name);
    }

    public int Id { get; }

    public string Namespace { get; }

    public string Name { get; }

    public byte[] Utf8Name { get; }

    public IReadOnlyList<ColumnSchema> Tags => _tags;

    public IReadOnlyList<ColumnSchema> Fields => _fields;

    public int SeriesCount => _seriesTimes.Count;


    public string SeriesTable => SqlNames.Qualified(SqlNames.SeriesTable(Id));

    public string DataTable => SqlNames.Qualified(SqlNames.DataTable(Id));

    public ColumnSchema? FindTag(ReadOnlySpan<byte> name) => _tagsByName.TryGetValue(name, out var column) ? column : null;

    public ColumnSchema? FindField(ReadOnlySpan<byte> name) => _fieldsByName.TryGetValue(name, out var column) ? column : null;

    /// <summary>The existing column name that <paramref name="name"/> collides with once case is ignored, if any.</summary>
    public string? FindFoldedCollision(string name) => _columnNamesFolded.TryGetValue(name, out var existing) ? existing : null;

    public ColumnSchema AddTag(string name)
    {
        var column = new ColumnSchema(name, FieldType.String, FirstTagOrdinal + _tags.Count);
        _tags.Add(column);
        _tagsByName.Set(column.Utf8Name, column);
        _columnNamesFolded[name] = name;
        return column;
    }

    public ColumnSchema AddField(string name, FieldType type)
    {
        var column = new ColumnSchema(name, type, FirstFieldOrdinal + _fields.Count);
        _fields.Add(column);
        _fieldsByName.Set(column.Utf8Name, column);
        _columnNamesFolded[name] = name;
        return column;
    }

    public bool TryGetSeries(ReadOnlySpan<byte> seriesKey, out int seriesId) => _seriesIds.TryGetValue(seriesKey, out seriesId);

    public int AddSeries(ReadOnlySpan<byte> seriesKey, long storedMax)
    {
        int id = _seriesTimes.Count;
        _seriesTimes.Add(new SeriesTimes(storedMax));
        _seriesIds.Set(seriesKey, id);
        return id;
    }

    public SeriesTimes Times(int seriesId) => _seriesTimes[seriesId];

    /// <summary>The compacted partitions, oldest first (docs/storage.md#hot-and-cold-tiers).</summary>
    public IReadOnlyList<ColdPartition> ColdPartitions => _coldPartitions;

    /// <summary>The end of the newest cold partition: the hot store holds no row below it unless one arrived late.</summary>
    public long ColdHorizon { get; private set; } = long.MinValue;

    /// <summary>
    /// True while the hot store may hold rows below <see cref="ColdHorizon"/> (late points for a partition already
    /// compacted): the view then merges them over the cold rows of the same series and time, as the later write.
    /// </summary>
    public bool HotRowsBelowHorizon { get; private set; }

    /// <summary>Points written below <see cref="LateBoundary"/> since start; a compaction that saw it change gives up.</summary>
    public long LateWrites { get; private set; }

    /// <summary>Points older than this are counted and may switch the view to merging (one comparison per point).</summary>
    public long LateBoundary { get; private set; } = long.MinValue;

    private readonly List<ColdPartition> _coldPartitions = [];
    private long _compactionFence = long.MinValue;

    /// <summary>The end of the partition being compacted, or <see cref="long.MinValue"/>: writes below it are counted from now on.</summary>
    public long CompactionFence
    {
        get => _compactionFence;
        set
        {
            _compactionFence = value;
            LateBoundary = Math.Max(ColdHorizon, value);
        }
    }

    public void SetColdPartitions(IEnumerable<ColdPartition> partitions, bool hotRowsBelowHorizon)
    {
        _coldPartitions.Clear();
        _coldPartitions.AddRange(partitions.OrderBy(p => p.StartNs));
        ColdHorizon = _coldPartitions.Count == 0 ? long.MinValue : _coldPartitions.Max(p => p.EndNs);
        HotRowsBelowHorizon = hotRowsBelowHorizon && _coldPartitions.Count > 0;
        LateBoundary = Math.Max(ColdHorizon, _compactionFence);
    }

    /// <summary>Counts a point older than <see cref="LateBoundary"/>; true when the view must start merging (rebuild it in this transaction).</summary>
    public bool NoteLateWrite(long timeNs)
    {
        LateWrites++;
        if (timeNs < ColdHorizon && !HotRowsBelowHorizon)
        {
            HotRowsBelowHorizon = true;
            return true;
        }

        return false;
    }

    /// <summary>A delete touched the measurement: a compaction that read it before must not commit.</summary>
    public void NoteDelete() => LateWrites++;

    public string ViewSql() => ViewSql(null);

    /// <summary>
    /// The view <c>namespace.measurement</c>: the data table joined with the series table and, with cold partitions, the
    /// rows of their Parquet files under <paramref name="coldDirectory"/> as one more branch of a UNION ALL below the
    /// join, so a filter on time reaches each branch and each file's statistics (a file outside the range is skipped
    /// after its footer is read).
    /// </summary>
    public string ViewSql(string? coldDirectory)
    {
        if (_coldPartitions.Count == 0 || coldDirectory is null)
        {
            return HotViewSql();
        }

        var data = new StringBuilder();
        string hotColumns = DataColumns("");
        if (!HotRowsBelowHorizon)
        {
            data.Append("SELECT ").Append(hotColumns).Append(" FROM ").Append(DataTable)
                .Append(" UNION ALL ").Append(ColdSelect(coldDirectory));
        }
        else
        {
            // Late rows (hot, below the horizon) win over cold rows of the same series and time, field by field, as a
            // later write does in the hot store; late rows with no cold row are added. Only until the next compaction
            // folds them into their partition's file.
            string horizon = $"make_timestamp_ns({ColdHorizon.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
            data.Append("SELECT ").Append(hotColumns).Append(" FROM ").Append(DataTable).Append(" WHERE ").Append(SqlNames.TimeColumn).Append(" >= ").Append(horizon);
            data.Append(" UNION ALL SELECT c.").Append(SqlNames.SeriesIdColumn).Append(", c.").Append(SqlNames.TimeColumn);
            foreach (var field in _fields)
            {
                string name = SqlNames.Quote(field.Name);
                data.Append(", coalesce(l.").Append(name).Append(", c.").Append(name).Append(") AS ").Append(name);
            }

            data.Append(" FROM (").Append(ColdSelect(coldDirectory)).Append(") AS c LEFT JOIN (SELECT ").Append(hotColumns).Append(" FROM ").Append(DataTable)
                .Append(" WHERE ").Append(SqlNames.TimeColumn).Append(" < ").Append(horizon).Append(") AS l ON l.").Append(SqlNames.SeriesIdColumn)
                .Append(" = c.").Append(SqlNames.SeriesIdColumn).Append(" AND l.").Append(SqlNames.TimeColumn).Append(" = c.").Append(SqlNames.TimeColumn);
            data.Append(" UNION ALL SELECT ").Append(DataColumns("l.")).Append(" FROM ").Append(DataTable).Append(" AS l WHERE l.").Append(SqlNames.TimeColumn)
                .Append(" < ").Append(horizon).Append(" AND NOT EXISTS (SELECT 1 FROM (").Append(ColdSelect(coldDirectory)).Append(") AS c WHERE c.")
                .Append(SqlNames.SeriesIdColumn).Append(" = l.").Append(SqlNames.SeriesIdColumn).Append(" AND c.").Append(SqlNames.TimeColumn)
                .Append(" = l.").Append(SqlNames.TimeColumn).Append(')');
        }

        return HotViewSql("(" + data + ")");
    }

    /// <summary>The data columns (<c>_series_id</c>, <c>time</c>, the fields) with a prefix.</summary>
    private string DataColumns(string prefix)
    {
        var sql = new StringBuilder();
        sql.Append(prefix).Append(SqlNames.SeriesIdColumn).Append(", ").Append(prefix).Append(SqlNames.TimeColumn);
        foreach (var field in _fields)
        {
            sql.Append(", ").Append(prefix).Append(SqlNames.Quote(field.Name));
        }

        return sql.ToString();
    }

    /// <summary>
    /// The cold rows as the data columns: one <c>read_parquet</c> per set of files with the same fields stored the same
    /// way (usually one), a field a file lacks as a typed NULL, a field stored as a decimal cast back to its DOUBLE.
    /// </summary>
    /// <remarks>
    /// Files whose scales differ are never read by one <c>read_parquet</c>: it would read every file as the first one's
    /// type, and a decimal of fewer decimals than a file's would round its values.
    /// </remarks>
    internal string ColdSelect(string coldDirectory) => ColdSelect(coldDirectory, _coldPartitions);

    internal string ColdSelect(string coldDirectory, IEnumerable<ColdPartition> partitions)
    {
        var sql = new StringBuilder();
        foreach (var group in partitions.GroupBy(p => string.Join('\0', p.Fields.Zip(p.Scales, (f, k) => f + '\0' + k))))
        {
            var first = group.First();
            var present = new Dictionary<string, int?>(first.Fields.Zip(first.Scales, KeyValuePair.Create), StringComparer.Ordinal);
            if (sql.Length > 0)
            {
                sql.Append(" UNION ALL ");
            }

            sql.Append("SELECT ").Append(SqlNames.SeriesIdColumn).Append(", ").Append(SqlNames.TimeColumn);
            foreach (var field in _fields)
            {
                string name = SqlNames.Quote(field.Name);
                sql.Append(", ");
                if (present.TryGetValue(field.Name, out int? scale))
                {
                    // Through DECIMAL(18,k), the cast the compaction tested every value with, whichever width the file chose.
                    sql.Append(scale is null ? name : $"CAST(CAST({name} AS DECIMAL(18, {scale})) AS DOUBLE) AS {name}");
                }
                else
                {
                    sql.Append("NULL::").Append(Catalog.SqlType(field.Type)).Append(" AS ").Append(name);
                }
            }

            sql.Append(" FROM read_parquet([");
            sql.AppendJoin(", ", group.Select(p => SqlNames.Literal(Path.Combine(coldDirectory, p.FileName))));
            sql.Append("])");
        }

        return sql.ToString();
    }

    private string HotViewSql(string? dataSource = null)
    {
        var sql = new StringBuilder();
        sql.Append("CREATE OR REPLACE VIEW ").Append(SqlNames.Quote(Namespace)).Append('.').Append(SqlNames.Quote(Name));
        sql.Append(" AS SELECT d.").Append(SqlNames.TimeColumn);
        foreach (var tag in _tags)
        {
            sql.Append(", s.").Append(SqlNames.Quote(tag.Name));
        }

        foreach (var field in _fields)
        {
            sql.Append(", d.").Append(SqlNames.Quote(field.Name));
        }

        sql.Append(" FROM ").Append(dataSource ?? DataTable).Append(" AS d");
        if (_tags.Count > 0)
        {
            sql.Append(" JOIN ").Append(SeriesTable).Append(" AS s ON d.").Append(SqlNames.SeriesIdColumn)
                .Append(" = s.").Append(SqlNames.SeriesIdColumn);
        }

        return sql.ToString();
    }

    /// <summary>
    /// Builds the canonical series key of a point into <paramref name="buffer"/>: its tags sorted by key, each
    /// key and value length-prefixed so that no byte a client sends can make two tag sets look alike.
    /// </summary>
    public static int BuildSeriesKey(PointBatch batch, in PointEntry point, ref byte[] buffer)
    {
        Span<TagEntry> tags = batch.TagsForUpdate(point);
        SortTags(batch, tags);
        int length = 0;
        foreach (ref readonly var tag in tags)
        {
            var key = batch.Text(tag.Key);
            var value = batch.Text(tag.Value);
            int needed = length + 8 + key.Length + value.Length;
            if (needed > buffer.Length)
            {
                Array.Resize(ref buffer, Math.Max(needed, buffer.Length * 2));
            }

            BitConverter.TryWriteBytes(buffer.AsSpan(length), key.Length);
            key.CopyTo(buffer.AsSpan(length + 4));
            length += 4 + key.Length;
            BitConverter.TryWriteBytes(buffer.AsSpan(length), value.Length);
            value.CopyTo(buffer.AsSpan(length + 4));
            length += 4 + value.Length;
        }

        return length;
    }

    // Insertion sort: points carry a handful of tags, usually already in order (InfluxDB clients sort them).
    private static void SortTags(PointBatch batch, Span<TagEntry> tags)
    {
        for (int i = 1; i < tags.Length; i++)
        {
            var current = tags[i];
            var currentKey = batch.Text(current.Key);
            int j = i - 1;
            while (j >= 0 && batch.Text(tags[j].Key).SequenceCompareTo(currentKey) > 0)
            {
                tags[j + 1] = tags[j];
                j--;
            }

            tags[j + 1] = current;
        }
    }
}
