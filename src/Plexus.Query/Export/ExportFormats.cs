using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Plexus.Core;
using Plexus.Storage.Exporting;

namespace Plexus.Query.Export;

/// <summary>The file formats of an export (docs/export-import.md).</summary>
public enum ExportFormat : byte
{
    Csv,
    JsonLines,
    LineProtocol,
    Parquet,
}

public static class ExportFormats
{
    public const string Names = "csv, jsonl, lp or parquet";

    public static bool TryParse(string? text, out ExportFormat format)
    {
        (bool known, format) = text?.ToLowerInvariant() switch
        {
            "csv" => (true, ExportFormat.Csv),
            "jsonl" or "ndjson" or "json" => (true, ExportFormat.JsonLines),
            "lp" or "line-protocol" or "influx" => (true, ExportFormat.LineProtocol),
            "parquet" => (true, ExportFormat.Parquet),
            _ => (false, ExportFormat.Csv),
        };
        return known;
    }

    public static string ContentType(ExportFormat format) => format switch
    {
        ExportFormat.Csv => "text/csv; charset=utf-8",
        ExportFormat.JsonLines => "application/x-ndjson; charset=utf-8",
        ExportFormat.LineProtocol => "text/plain; charset=utf-8",
        _ => "application/vnd.apache.parquet",
    };

    /// <summary>
    /// The header cell of a column in an exported CSV: <c>time</c>, <c>tag:NAME</c>, or the field's type and name
    /// (<c>float:NAME</c>, <c>integer:NAME</c>, <c>unsigned:NAME</c>, <c>boolean:NAME</c>, <c>string:NAME</c>), which the
    /// CSV import reads back.
    /// </summary>
    public static string CsvHeader(ExportColumn column) => column.Role switch
    {
        ExportColumnRole.Time => "time",
        ExportColumnRole.Tag => "tag:" + column.Name,
        _ => column.Type.Name() + ":" + column.Name,
    };

    /// <summary>Unix nanoseconds as RFC 3339 in UTC with all nine fractional digits: 2026-01-02T03:04:05.123456789Z.</summary>
    public static void WriteRfc3339(long unixNs, IBufferWriter<byte> output)
    {
        long seconds = Math.DivRem(unixNs, 1_000_000_000L, out long nanos);
        if (nanos < 0)
        {
            nanos += 1_000_000_000L;
            seconds--;
        }

        var time = DateTime.UnixEpoch.AddSeconds(seconds);
        var span = output.GetSpan(30);
        time.TryFormat(span, out int written, "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'", CultureInfo.InvariantCulture);
        nanos.TryFormat(span[written..], out int digits, "D9", CultureInfo.InvariantCulture);
        written += digits;
        span[written++] = (byte)'Z';
        output.Advance(written);
    }
}

/// <summary>
/// Formats an export's rows, one at a time on the export's thread, from the columns of its <see cref="ExportPlan"/>
/// (time first as Unix nanoseconds, then the tags, then the fields).
/// </summary>
internal abstract class ExportRowFormat
{
    protected ExportRowFormat(IReadOnlyList<ExportColumn> columns)
    {
        Columns = columns;
    }

    protected IReadOnlyList<ExportColumn> Columns { get; }

    public static ExportRowFormat Create(ExportFormat format, string measurement, IReadOnlyList<ExportColumn> columns) => format switch
    {
        ExportFormat.Csv => new CsvExportFormat(columns),
        ExportFormat.JsonLines => new JsonLinesExportFormat(columns),
        ExportFormat.LineProtocol => new LineProtocolExportFormat(measurement, columns),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Parquet is written by the engine, not row by row."),
    };

    public virtual void Begin(IBufferWriter<byte> output)
    {
    }

    /// <summary>Writes the current row; false when it has nothing to write (every field NULL, which line protocol cannot hold).</summary>
    public abstract bool FormatRow(DuckDBDataReader reader, IBufferWriter<byte> output);

    protected static void Write(IBufferWriter<byte> output, string text)
    {
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        int written = Encoding.UTF8.GetBytes(text, output.GetSpan(max));
        output.Advance(written);
    }

    protected static void Write(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    protected static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes) => output.Write(bytes);

    protected static void WriteInteger(IBufferWriter<byte> output, long value)
    {
        Utf8Formatter.TryFormat(value, output.GetSpan(20), out int written);
        output.Advance(written);
    }

    protected static void WriteUnsigned(IBufferWriter<byte> output, ulong value)
    {
        Utf8Formatter.TryFormat(value, output.GetSpan(20), out int written);
        output.Advance(written);
    }

    /// <summary>A double that reads back as the same double and always as a float: "1.0", never "1".</summary>
    protected static void WriteFloat(IBufferWriter<byte> output, double value)
    {
        var span = output.GetSpan(32);
        value.TryFormat(span, out int written, "R", CultureInfo.InvariantCulture);
        if (double.IsFinite(value) && span[..written].IndexOfAny(".eE"u8) < 0)
        {
            span[written++] = (byte)'.';
            span[written++] = (byte)'0';
        }

        output.Advance(written);
    }
}

/// <summary>RFC 4180 CSV with a typed header (<see cref="ExportFormats.CsvHeader"/>); a NULL is an empty cell, an empty string a quoted one.</summary>
internal sealed class CsvExportFormat(IReadOnlyList<ExportColumn> columns) : ExportRowFormat(columns)
{
    public override void Begin(IBufferWriter<byte> output)
    {
        for (int i = 0; i < Columns.Count; i++)
        {
            if (i > 0)
            {
                Write(output, (byte)',');
            }

            WriteCell(output, ExportFormats.CsvHeader(Columns[i]));
        }

        Write(output, "\r\n"u8);
    }

    public override bool FormatRow(DuckDBDataReader reader, IBufferWriter<byte> output)
    {
        ExportFormats.WriteRfc3339(reader.GetInt64(0), output);
        for (int i = 1; i < Columns.Count; i++)
        {
            Write(output, (byte)',');
            if (reader.IsDBNull(i))
            {
                continue;
            }

            switch (Columns[i].Type)
            {
                case FieldType.Float: WriteFloat(output, reader.GetDouble(i)); break;
                case FieldType.Integer: WriteInteger(output, reader.GetInt64(i)); break;
                case FieldType.UInteger: WriteUnsigned(output, reader.GetFieldValue<ulong>(i)); break;
                case FieldType.Boolean: Write(output, reader.GetBoolean(i) ? "true"u8 : "false"u8); break;
                default: WriteCell(output, reader.GetString(i)); break;
            }
        }

        Write(output, "\r\n"u8);
        return true;
    }

    private static void WriteCell(IBufferWriter<byte> output, string text)
    {
        // Quoted when empty too: an unquoted empty cell is a NULL on the way back.
        if (text.Length > 0 && text.AsSpan().IndexOfAny(",\"\r\n") < 0 && text[0] != ' ' && text[^1] != ' ')
        {
            Write(output, text);
            return;
        }

        Write(output, (byte)'"');
        Write(output, text.Replace("\"", "\"\"", StringComparison.Ordinal));
        Write(output, (byte)'"');
    }
}

/// <summary>
/// One JSON object per line: <c>{"time":"…","tags":{…},"fields":{…}}</c>. A float always has a fraction or an
/// exponent (1.0), an integer never; an unsigned field is written <c>{"unsigned":N}</c> so it reads back unsigned.
/// NULLs are left out.
/// </summary>
internal sealed class JsonLinesExportFormat(IReadOnlyList<ExportColumn> columns) : ExportRowFormat(columns)
{
    private readonly byte[][] _names = columns.Select(c => Encoding.UTF8.GetBytes(System.Text.Json.JsonSerializer.Serialize(c.Name))).ToArray();

    public override bool FormatRow(DuckDBDataReader reader, IBufferWriter<byte> output)
    {
        Write(output, "{\"time\":\""u8);
        ExportFormats.WriteRfc3339(reader.GetInt64(0), output);
        Write(output, "\",\"tags\":{"u8);
        bool first = true;
        int i = 1;
        for (; i < Columns.Count && Columns[i].Role == ExportColumnRole.Tag; i++)
        {
            if (!reader.IsDBNull(i))
            {
                Member(output, i, ref first);
                WriteString(output, reader.GetString(i));
            }
        }

        Write(output, "},\"fields\":{"u8);
        first = true;
        for (; i < Columns.Count; i++)
        {
            if (reader.IsDBNull(i))
            {
                continue;
            }

            Member(output, i, ref first);
            switch (Columns[i].Type)
            {
                case FieldType.Float: WriteFloat(output, reader.GetDouble(i)); break;
                case FieldType.Integer: WriteInteger(output, reader.GetInt64(i)); break;
                case FieldType.UInteger:
                    Write(output, "{\"unsigned\":"u8);
                    WriteUnsigned(output, reader.GetFieldValue<ulong>(i));
                    Write(output, (byte)'}');
                    break;
                case FieldType.Boolean: Write(output, reader.GetBoolean(i) ? "true"u8 : "false"u8); break;
                default: WriteString(output, reader.GetString(i)); break;
            }
        }

        Write(output, "}}\n"u8);
        return true;
    }

    private void Member(IBufferWriter<byte> output, int column, ref bool first)
    {
        if (!first)
        {
            Write(output, (byte)',');
        }

        first = false;
        Write(output, _names[column]);
        Write(output, (byte)':');
    }

    private static void WriteString(IBufferWriter<byte> output, string value) => Write(output, System.Text.Json.JsonSerializer.Serialize(value));
}

/// <summary>InfluxDB line protocol with nanosecond timestamps, escaped as the parser reads it back.</summary>
internal sealed class LineProtocolExportFormat : ExportRowFormat
{
    private readonly byte[] _measurement;
    private readonly byte[][] _keys;

    public LineProtocolExportFormat(string measurement, IReadOnlyList<ExportColumn> columns)
        : base(columns)
    {
        _measurement = Encoding.UTF8.GetBytes(Escape(measurement, measurementName: true));
        _keys = columns.Select(c => Encoding.UTF8.GetBytes(Escape(c.Name, measurementName: false))).ToArray();
    }

    public override bool FormatRow(DuckDBDataReader reader, IBufferWriter<byte> output)
    {
        int firstField = 1;
        while (firstField < Columns.Count && Columns[firstField].Role == ExportColumnRole.Tag)
        {
            firstField++;
        }

        bool anyField = false;
        for (int i = firstField; i < Columns.Count && !anyField; i++)
        {
            anyField = !reader.IsDBNull(i);
        }

        if (!anyField)
        {
            return false;
        }

        Write(output, _measurement);
        for (int i = 1; i < firstField; i++)
        {
            // An empty tag value cannot be written in line protocol; such a tag is absent on the way back too.
            if (!reader.IsDBNull(i) && reader.GetString(i) is { Length: > 0 } value)
            {
                Write(output, (byte)',');
                Write(output, _keys[i]);
                Write(output, (byte)'=');
                Write(output, Escape(value, measurementName: false));
            }
        }

        bool first = true;
        for (int i = firstField; i < Columns.Count; i++)
        {
            if (reader.IsDBNull(i))
            {
                continue;
            }

            Write(output, first ? (byte)' ' : (byte)',');
            first = false;
            Write(output, _keys[i]);
            Write(output, (byte)'=');
            switch (Columns[i].Type)
            {
                case FieldType.Float: WriteFloat(output, reader.GetDouble(i)); break;
                case FieldType.Integer: WriteInteger(output, reader.GetInt64(i)); Write(output, (byte)'i'); break;
                case FieldType.UInteger: WriteUnsigned(output, reader.GetFieldValue<ulong>(i)); Write(output, (byte)'u'); break;
                case FieldType.Boolean: Write(output, reader.GetBoolean(i) ? "true"u8 : "false"u8); break;
                default:
                    Write(output, (byte)'"');
                    Write(output, reader.GetString(i).Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal));
                    Write(output, (byte)'"');
                    break;
            }
        }

        Write(output, (byte)' ');
        WriteInteger(output, reader.GetInt64(0));
        Write(output, (byte)'\n');
        return true;
    }

    // Measurement names escape commas and spaces; tag keys, tag values and field keys also '='. Line protocol has no
    // escape for a backslash or a newline in a name: a newline becomes a space (export such data as CSV or JSON lines).
    private static string Escape(string text, bool measurementName)
    {
        var escaped = new StringBuilder(text.Length + 4);
        foreach (char c in text)
        {
            if (c is ',' or ' ' || (c == '=' && !measurementName))
            {
                escaped.Append('\\');
            }

            escaped.Append(c switch { '\n' => ' ', '\r' => ' ', _ => c });
        }

        return escaped.ToString();
    }
}
