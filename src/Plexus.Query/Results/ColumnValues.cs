using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DuckDB.NET.Data;

namespace Plexus.Query.Results;

/// <summary>
/// Writes one column's value of the current row straight from the reader, as JSON or as CSV text. The common types
/// (numbers, text, booleans, timestamps) are read with their typed getters so that no value is boxed; everything else
/// goes through <see cref="QueryResultWriter.WriteValue"/> and <see cref="QueryResultWriter.FormatScalar"/>, which
/// define how the query API spells values.
/// </summary>
internal static class ColumnValues
{
    public delegate void JsonWriter(DuckDBDataReader reader, int ordinal, Utf8JsonWriter json);

    public delegate void CsvWriter(DuckDBDataReader reader, int ordinal, IBufferWriter<byte> output);

    public static JsonWriter JsonFor(Type type) => type switch
    {
        _ when type == typeof(double) => static (r, i, json) => WriteDouble(json, r.GetDouble(i)),
        _ when type == typeof(float) => static (r, i, json) => WriteFloat(json, r.GetFloat(i)),
        _ when type == typeof(long) => static (r, i, json) => json.WriteNumberValue(r.GetInt64(i)),
        _ when type == typeof(int) => static (r, i, json) => json.WriteNumberValue(r.GetInt32(i)),
        _ when type == typeof(short) => static (r, i, json) => json.WriteNumberValue(r.GetInt16(i)),
        _ when type == typeof(bool) => static (r, i, json) => json.WriteBooleanValue(r.GetBoolean(i)),
        _ when type == typeof(string) => static (r, i, json) => json.WriteStringValue(r.GetString(i)),
        _ when type == typeof(DateTime) => static (r, i, json) => WriteTimestamp(json, r.GetDateTime(i)),
        _ => static (r, i, json) => QueryResultWriter.WriteValue(json, r.GetValue(i)),
    };

    public static CsvWriter CsvFor(Type type) => type switch
    {
        _ when type == typeof(double) => static (r, i, output) => WriteFormattable(output, r.GetDouble(i), "R"),
        _ when type == typeof(float) => static (r, i, output) => WriteFormattable(output, r.GetFloat(i), "R"),
        _ when type == typeof(long) => static (r, i, output) => WriteFormattable(output, r.GetInt64(i), null),
        _ when type == typeof(int) => static (r, i, output) => WriteFormattable(output, r.GetInt32(i), null),
        _ when type == typeof(bool) => static (r, i, output) => output.Write(r.GetBoolean(i) ? "true"u8 : "false"u8),
        _ when type == typeof(string) => static (r, i, output) => WriteCsvText(output, r.GetString(i)),
        _ => static (r, i, output) => WriteCsvText(output, QueryResultWriter.FormatScalar(r.GetValue(i))),
    };

    /// <summary>RFC 4180: a field holding a comma, quote or line break is quoted, its quotes doubled.</summary>
    public static void WriteCsvText(IBufferWriter<byte> output, string value)
    {
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            WriteUtf8(output, value);
            return;
        }

        output.Write("\""u8);
        WriteUtf8(output, value.Replace("\"", "\"\"", StringComparison.Ordinal));
        output.Write("\""u8);
    }

    private static void WriteDouble(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumberValue(value);
        }
        else
        {
            // JSON has no NaN or infinity; the string spelling is what most JSON readers accept back.
            json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void WriteFloat(Utf8JsonWriter json, float value)
    {
        if (float.IsFinite(value))
        {
            json.WriteNumberValue(value);
        }
        else
        {
            json.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void WriteTimestamp(Utf8JsonWriter json, DateTime value)
    {
        Span<byte> text = stackalloc byte[40];
        if (value.TryFormat(text, out int written, "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture))
        {
            json.WriteStringValue(text[..written]);
        }
        else
        {
            json.WriteStringValue(QueryResultWriter.FormatScalar(value));
        }
    }

    private static void WriteFormattable<T>(IBufferWriter<byte> output, T value, string? format)
        where T : IUtf8SpanFormattable
    {
        var span = output.GetSpan(64);
        if (value.TryFormat(span, out int written, format, CultureInfo.InvariantCulture))
        {
            output.Advance(written);
            return;
        }

        WriteUtf8(output, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "");
    }

    private static void WriteUtf8(IBufferWriter<byte> output, string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        var span = output.GetSpan(max);
        output.Advance(Encoding.UTF8.GetBytes(value, span));
    }
}
