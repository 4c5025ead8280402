using System.Text;
using Plexus.Core;

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

    public string ViewSql()
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

        sql.Append(" FROM ").Append(DataTable).Append(" AS d");
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
