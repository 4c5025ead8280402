using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Translation;

/// <summary>InfluxDB's names for the field types (SHOW FIELD KEYS).</summary>
public enum InfluxFieldType
{
    Float,
    Integer,
    Unsigned,
    String,
    Boolean,
}

/// <summary>One measurement as InfluxQL sees it: its tag keys (the series table's columns) and fields (the data table's).</summary>
public sealed class InfluxMeasurement
{
    private readonly Dictionary<string, InfluxFieldType> _fields = new(StringComparer.Ordinal);
    private readonly HashSet<string> _tags = new(StringComparer.Ordinal);
    private readonly List<string> _tagOrder = [];
    private readonly List<string> _fieldOrder = [];

    public InfluxMeasurement(int id, string name)
    {
        Id = id;
        Name = name;
    }

    public int Id { get; }

    public string Name { get; }

    /// <summary>Tag keys in name order.</summary>
    public IReadOnlyList<string> Tags => _tagOrder;

    /// <summary>Field keys in name order.</summary>
    public IReadOnlyList<string> Fields => _fieldOrder;

    /// <summary><c>_plexus.s&lt;id&gt;</c>: one row per series, a column per tag.</summary>
    public string SeriesTable => SqlNames.Qualified(SqlNames.SeriesTable(Id));

    public bool HasTag(string name) => _tags.Contains(name);

    public bool TryGetField(string name, out InfluxFieldType type) => _fields.TryGetValue(name, out type);

    public void AddTag(string name)
    {
        if (_tags.Add(name))
        {
            Insert(_tagOrder, name);
        }
    }

    public void AddField(string name, InfluxFieldType type)
    {
        if (_fields.TryAdd(name, type))
        {
            Insert(_fieldOrder, name);
        }
    }

    private static void Insert(List<string> sorted, string name)
    {
        int at = sorted.BinarySearch(name, StringComparer.Ordinal);
        sorted.Insert(at < 0 ? ~at : at, name);
    }
}

/// <summary>What a database (a Plexus namespace) holds, read once per request from the catalog.</summary>
public sealed class InfluxDatabase
{
    private readonly Dictionary<string, InfluxMeasurement> _byName = new(StringComparer.Ordinal);
    private readonly List<InfluxMeasurement> _ordered = [];

    public InfluxDatabase(string name, bool exists)
    {
        Name = name;
        Exists = exists;
    }

    /// <summary>The namespace (a SQL schema).</summary>
    public string Name { get; }

    /// <summary>False when no namespace of that name exists (InfluxDB's "database not found").</summary>
    public bool Exists { get; }

    /// <summary>Measurements in name order (InfluxDB sorts them by their bytes).</summary>
    public IReadOnlyList<InfluxMeasurement> Measurements => _ordered;

    public InfluxMeasurement? Find(string name) => _byName.GetValueOrDefault(name);

    public InfluxMeasurement GetOrAdd(int id, string name)
    {
        if (!_byName.TryGetValue(name, out var measurement))
        {
            measurement = new InfluxMeasurement(id, name);
            _byName.Add(name, measurement);
            int at = _ordered.BinarySearch(measurement, Comparer<InfluxMeasurement>.Create((a, b) => string.CompareOrdinal(a.Name, b.Name)));
            _ordered.Insert(at < 0 ? ~at : at, measurement);
        }

        return measurement;
    }

    /// <summary>InfluxDB's field type of a column of Plexus's data table.</summary>
    public static InfluxFieldType? FieldTypeOf(string sqlType) => sqlType switch
    {
        "DOUBLE" => InfluxFieldType.Float,
        "BIGINT" => InfluxFieldType.Integer,
        "UBIGINT" => InfluxFieldType.Unsigned,
        "VARCHAR" => InfluxFieldType.String,
        "BOOLEAN" => InfluxFieldType.Boolean,
        _ => null,
    };

    public static string FieldTypeName(InfluxFieldType type) => type switch
    {
        InfluxFieldType.Float => "float",
        InfluxFieldType.Integer => "integer",
        InfluxFieldType.Unsigned => "unsigned",
        InfluxFieldType.String => "string",
        _ => "boolean",
    };
}
