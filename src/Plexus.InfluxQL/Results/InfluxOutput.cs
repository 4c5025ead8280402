using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Plexus.Core;

namespace Plexus.InfluxQL.Results;

/// <summary>How <c>/query</c> answers: JSON (whole, or chunked: one JSON object per line) or CSV; times as RFC 3339 or epoch numbers.</summary>
/// <param name="EpochDivisor">Nanoseconds per unit of <c>epoch=</c> (1 for ns, 1000 for u…); null for RFC 3339 strings.</param>
/// <param name="MaxRows">The row limit, for the message of an answer it cut.</param>
/// <param name="MaxBytes">The byte budget, for the same.</param>
public sealed record InfluxOutputOptions(bool Csv, bool Chunked, int ChunkSize, bool Pretty, long? EpochDivisor, int MaxRows, long MaxBytes)
{
    public const int DefaultChunkSize = 10_000;

    /// <summary>Reads <c>epoch=</c>: ns, u or µ (also us), ms, s, m, h; an empty value means RFC 3339.</summary>
    public static bool TryParseEpoch(string? text, out long? divisor)
    {
        divisor = text switch
        {
            null or "" => null,
            "ns" or "n" => 1,
            "u" or "µ" or "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => -1,
        };
        return divisor != -1;
    }
}

/// <summary>
/// What the statements of one request share while their answers are written one after another: the CSV header last
/// written (InfluxDB writes it again only when the columns change, with a blank line between statements).
/// </summary>
public sealed class InfluxAnswerState
{
    internal string[]? CsvColumns { get; set; }

    internal bool CsvWritten { get; set; }
}

/// <summary>The pieces of InfluxDB's JSON and CSV answers that do not come from rows.</summary>
public static class InfluxOutput
{
    /// <summary><c>{"statement_id":N,"error":"…"}</c> (JSON), or <c>error</c> and the message (CSV).</summary>
    public static void WriteError(IBufferWriter<byte> output, int statementId, string message, InfluxOutputOptions options, InfluxAnswerState state)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(state);
        if (options.Csv)
        {
            if (state.CsvWritten)
            {
                output.Write("\n"u8);
            }

            output.Write("error\n"u8);
            WriteCsvField(output, message);
            output.Write("\n"u8);
            state.CsvColumns = null;
            state.CsvWritten = true;
            return;
        }

        if (options.Chunked)
        {
            output.Write("{\"results\":["u8);
        }

        output.Write("{\"statement_id\":"u8);
        WriteNumber(output, statementId);
        output.Write(",\"error\":"u8);
        WriteString(output, message);
        output.Write("}"u8);
        if (options.Chunked)
        {
            output.Write("]}\n"u8);
        }
    }

    /// <summary>A statement that has no series: <c>{"statement_id":N}</c> (nothing in CSV).</summary>
    public static void WriteEmpty(IBufferWriter<byte> output, int statementId, InfluxOutputOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Csv)
        {
            return;
        }

        output.Write(options.Chunked ? "{\"results\":[{\"statement_id\":"u8 : "{\"statement_id\":"u8);
        WriteNumber(output, statementId);
        output.Write(options.Chunked ? "}]}\n"u8 : "}"u8);
    }

    internal static void WriteString(IBufferWriter<byte> output, string value)
    {
        using var json = new Utf8JsonWriter(output, ReadableJson.Options);
        json.WriteStringValue(value);
    }

    internal static void WriteNumber(IBufferWriter<byte> output, long value)
    {
        var span = output.GetSpan(24);
        value.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
        output.Advance(written);
    }

    /// <summary>A CSV field as Go's encoding/csv writes it: quoted when it holds a comma, quote, line break or leading space.</summary>
    internal static void WriteCsvField(IBufferWriter<byte> output, string value)
    {
        bool quote = value.Length > 0 && (value.AsSpan().IndexOfAny(",\"\r\n") >= 0 || value[0] == ' ' || value[0] == '\t');
        string text = quote ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
        int max = Encoding.UTF8.GetMaxByteCount(text.Length);
        var span = output.GetSpan(max);
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }

    /// <summary>Go's RFC3339Nano: fraction without trailing zeros, <c>Z</c> for UTC, else the zone's offset.</summary>
    public static string FormatTime(long nanoseconds, TimeZoneInfo? zone)
    {
        long seconds = Math.DivRem(nanoseconds, 1_000_000_000, out long fraction);
        if (fraction < 0)
        {
            fraction += 1_000_000_000;
            seconds--;
        }

        var utc = DateTimeOffset.FromUnixTimeSeconds(seconds);
        var local = zone is null ? utc : TimeZoneInfo.ConvertTime(utc, zone);
        var text = new StringBuilder(local.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture));
        if (fraction != 0)
        {
            text.Append('.').Append(fraction.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0'));
        }

        if (zone is null || local.Offset == TimeSpan.Zero)
        {
            text.Append('Z');
        }
        else
        {
            var offset = local.Offset;
            text.Append(offset < TimeSpan.Zero ? '-' : '+').Append(offset.Duration().ToString(@"hh\:mm", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }
}
