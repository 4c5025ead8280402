using System.Globalization;
using System.Text;

namespace Plexus.Compare;

/// <summary>One HTTP request body of the load: the bytes and how many rows they carry.</summary>
internal sealed record LoadBatch(string Table, byte[] Body, int Rows);

/// <summary>
/// The TSBS-iot line-protocol file written by <c>plexus simulate</c>, read once into request bodies before anything
/// is timed: line-protocol batches for Plexus, InfluxDB and VictoriaMetrics, and (on demand) the same rows as
/// tab-separated values for ClickHouse's two tables.
/// </summary>
/// <remarks>
/// TSBS's Influx serializer writes the three numeric "tags" (load_capacity, fuel_capacity,
/// nominal_fuel_consumption) as fields. <see cref="FieldValues"/> counts only the measurement fields (7 per readings
/// row, 3 per diagnostics row, minus the NULLs), the denominator of shared/reference/storage-measurements.md;
/// <see cref="FakeTagValues"/> counts the other three.
/// </remarks>
internal sealed class FleetDataSet
{
    public static readonly string[] StringTags = ["name", "fleet", "driver", "model", "device_version"];
    public static readonly string[] FakeTags = ["load_capacity", "fuel_capacity", "nominal_fuel_consumption"];
    public static readonly string[] ReadingsFields = ["latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption"];
    public static readonly string[] DiagnosticsFields = ["fuel_state", "current_load", "status"];

    private readonly List<byte[]> _lines = [];

    private FleetDataSet(string path)
    {
        Path = path;
    }

    public string Path { get; }

    public long Bytes { get; private set; }

    public long Rows => ReadingsRows + DiagnosticsRows;

    public long ReadingsRows { get; private set; }

    public long DiagnosticsRows { get; private set; }

    public long FieldValues { get; private set; }

    public long FakeTagValues { get; private set; }

    public long MinTimeNs { get; private set; } = long.MaxValue;

    public long MaxTimeNs { get; private set; } = long.MinValue;

    public int Trucks { get; private set; }

    public static FleetDataSet Load(string path)
    {
        var set = new FleetDataSet(path);
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 1 << 20);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var row = ParsedLine.Parse(line);
            if (row.Measurement == "readings")
            {
                set.ReadingsRows++;
            }
            else if (row.Measurement == "diagnostics")
            {
                set.DiagnosticsRows++;
            }
            else
            {
                throw new InvalidDataException($"{path}: unexpected measurement '{row.Measurement}' in: {line[..Math.Min(line.Length, 120)]}");
            }

            foreach (var key in row.Fields.Keys)
            {
                if (Array.IndexOf(FakeTags, key) >= 0)
                {
                    set.FakeTagValues++;
                }
                else
                {
                    set.FieldValues++;
                }
            }

            if (row.Tags.TryGetValue("name", out var name))
            {
                names.Add(name);
            }

            set.MinTimeNs = Math.Min(set.MinTimeNs, row.TimeNs);
            set.MaxTimeNs = Math.Max(set.MaxTimeNs, row.TimeNs);
            var bytes = Encoding.UTF8.GetBytes(line + "\n");
            set.Bytes += bytes.Length;
            set._lines.Add(bytes);
        }

        set.Trucks = names.Count;
        return set;
    }

    /// <summary>Line-protocol bodies of <paramref name="batchSize"/> lines, in file order.</summary>
    public List<LoadBatch> LineProtocolBatches(int batchSize)
    {
        var batches = new List<LoadBatch>();
        using var buffer = new MemoryStream();
        int rows = 0;
        foreach (var line in _lines)
        {
            buffer.Write(line);
            if (++rows == batchSize)
            {
                batches.Add(new LoadBatch("", buffer.ToArray(), rows));
                buffer.SetLength(0);
                rows = 0;
            }
        }

        if (rows > 0)
        {
            batches.Add(new LoadBatch("", buffer.ToArray(), rows));
        }

        return batches;
    }

    /// <summary>
    /// The same rows as ClickHouse TabSeparated bodies, one table per body: walking the file in order, each
    /// measurement's rows are collected and a body is cut whenever one reaches <paramref name="batchSize"/> rows.
    /// Time is written as 'YYYY-MM-DD hh:mm:ss' UTC (ClickHouse 18.16 has no sub-second DateTime; the data are whole
    /// seconds); a missing tag is '' and a missing field \N.
    /// </summary>
    public List<LoadBatch> ClickHouseBatches(int batchSize)
    {
        var batches = new List<LoadBatch>();
        var readings = new StringBuilder();
        var diagnostics = new StringBuilder();
        int readingsRows = 0, diagnosticsRows = 0;
        foreach (var bytes in _lines)
        {
            var row = ParsedLine.Parse(Encoding.UTF8.GetString(bytes).TrimEnd('\n'));
            bool isReadings = row.Measurement == "readings";
            var sb = isReadings ? readings : diagnostics;
            if (row.TimeNs % 1_000_000_000 != 0)
            {
                throw new InvalidDataException("ClickHouse 18.16 stores whole seconds; the data set has sub-second timestamps");
            }

            sb.Append(DateTimeOffset.FromUnixTimeSeconds(row.TimeNs / 1_000_000_000).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture));
            foreach (var tag in StringTags)
            {
                sb.Append('\t').Append(row.Tags.GetValueOrDefault(tag, ""));
            }

            foreach (var field in FakeTags.Concat(isReadings ? ReadingsFields : DiagnosticsFields))
            {
                sb.Append('\t');
                sb.Append(row.Fields.TryGetValue(field, out var value) ? value.TrimEnd('i') : "\\N");
            }

            sb.Append('\n');
            if (isReadings && ++readingsRows == batchSize)
            {
                batches.Add(new LoadBatch("readings", Encoding.UTF8.GetBytes(readings.ToString()), readingsRows));
                readings.Clear();
                readingsRows = 0;
            }
            else if (!isReadings && ++diagnosticsRows == batchSize)
            {
                batches.Add(new LoadBatch("diagnostics", Encoding.UTF8.GetBytes(diagnostics.ToString()), diagnosticsRows));
                diagnostics.Clear();
                diagnosticsRows = 0;
            }
        }

        if (readingsRows > 0)
        {
            batches.Add(new LoadBatch("readings", Encoding.UTF8.GetBytes(readings.ToString()), readingsRows));
        }

        if (diagnosticsRows > 0)
        {
            batches.Add(new LoadBatch("diagnostics", Encoding.UTF8.GetBytes(diagnostics.ToString()), diagnosticsRows));
        }

        return batches;
    }

    /// <summary>A TSBS line: no escapes, no quoted strings (the generator never writes them).</summary>
    private readonly record struct ParsedLine(string Measurement, Dictionary<string, string> Tags, Dictionary<string, string> Fields, long TimeNs)
    {
        public static ParsedLine Parse(string line)
        {
            var parts = line.Split(' ');
            if (parts.Length != 3)
            {
                throw new InvalidDataException($"expected '<measurement,tags> <fields> <time>': {line[..Math.Min(line.Length, 120)]}");
            }

            var head = parts[0].Split(',');
            var tags = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 1; i < head.Length; i++)
            {
                int eq = head[i].IndexOf('=', StringComparison.Ordinal);
                tags[head[i][..eq]] = head[i][(eq + 1)..];
            }

            var fields = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in parts[1].Split(','))
            {
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                fields[pair[..eq]] = pair[(eq + 1)..];
            }

            return new ParsedLine(head[0], tags, fields, long.Parse(parts[2], CultureInfo.InvariantCulture));
        }
    }
}
