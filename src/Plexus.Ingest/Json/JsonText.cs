using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Plexus.Core;

namespace Plexus.Ingest.Json;

/// <summary>
/// What the JSON-based decoders (<see cref="JsonTelemetryDecoder"/>, <see cref="SenML.SenMlDecoder"/>) share:
/// string unescaping without exceptions leaking, the start of a device point, and the cold-path wording of
/// errors.
/// </summary>
internal static class JsonText
{
    private const int MaxQuotedLength = 64;

    /// <summary>The tag every device point carries: the device id from the topic or URL, never from the payload.</summary>
    public static ReadOnlySpan<byte> DeviceTagKey => "device"u8;

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Some HTTP clients send a UTF-8 byte order mark; <see cref="Utf8JsonReader"/> would reject it.</summary>
    public static int BomLength(ReadOnlySpan<byte> payload) => payload.StartsWith(Utf8Bom) ? Utf8Bom.Length : 0;

    /// <summary>
    /// Checks the names the caller passes (they come from an MQTT topic or a URL, so they are user input too):
    /// <paramref name="measurement"/> must be a non-empty name without control characters, and so must
    /// <paramref name="deviceId"/> unless it is null (no device tag).
    /// </summary>
    public static bool TryCheckNames(string measurement, string? deviceId, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(measurement);
        if (measurement.Length == 0)
        {
            error = new IngestError(IngestErrorKind.Missing, null, 0, "the measurement name is empty");
            return false;
        }

        if (HasControl(measurement))
        {
            error = new IngestError(IngestErrorKind.Name, null, 0, $"measurement {Quote(measurement)}: names cannot contain control characters");
            return false;
        }

        if (deviceId is not null)
        {
            if (deviceId.Length == 0)
            {
                error = new IngestError(IngestErrorKind.Missing, null, 0, "the device id is empty");
                return false;
            }

            if (HasControl(deviceId))
            {
                error = new IngestError(IngestErrorKind.Name, null, 0, $"device id {Quote(deviceId)}: ids cannot contain control characters");
                return false;
            }
        }

        error = default;
        return true;
    }

    /// <summary>Starts a point: the measurement, then the <c>device</c> tag when there is a device id.</summary>
    public static void BeginDevicePoint(PointBatch batch, string measurement, string? deviceId, int lineNumber)
    {
        TextSlice name = WriteUtf16(batch, measurement);
        batch.BeginPoint(name, lineNumber);
        if (deviceId is not null)
        {
            TextSlice key = batch.AppendText(DeviceTagKey);
            batch.AddTag(key, WriteUtf16(batch, deviceId));
        }
    }

    private static TextSlice WriteUtf16(PointBatch batch, string text)
    {
        Span<byte> destination = batch.ReserveText(Encoding.UTF8.GetMaxByteCount(text.Length));
        return batch.CommitText(Encoding.UTF8.GetBytes(text, destination));
    }

    /// <summary>
    /// <see cref="Utf8JsonReader.CopyString(Span{byte})"/> without the exception: false when the string holds
    /// invalid UTF-8 or an escaped unpaired surrogate (<c>"\ud800"</c>), which the reader only finds here.
    /// </summary>
    public static bool TryCopyString(ref Utf8JsonReader reader, scoped Span<byte> destination, out int written)
    {
        try
        {
            written = reader.CopyString(destination);
            return true;
        }
        catch (InvalidOperationException)
        {
            written = 0;
            return false;
        }
    }

    /// <summary>
    /// Checks the current string token (property name or value) is valid text, unescaping it into
    /// <paramref name="scratch"/> when it has escapes; returns the text (a slice of the input or of the scratch).
    /// </summary>
    public static bool TryReadString(ref Utf8JsonReader reader, Span<byte> scratch, out ReadOnlySpan<byte> text)
    {
        if (!reader.ValueIsEscaped)
        {
            text = reader.ValueSpan;
            return Utf8.IsValid(text);
        }

        if (!TryCopyString(ref reader, scratch, out int written))
        {
            text = default;
            return false;
        }

        text = scratch[..written];
        return true;
    }

    /// <summary>
    /// Unescapes a string token that was checked before, given where its content starts in <paramref name="json"/>
    /// (just after the opening quote) and its raw length; <paramref name="destination"/> needs the raw length.
    /// </summary>
    public static int CopyUnescaped(ReadOnlySpan<byte> json, int contentStart, int rawLength, bool escaped, Span<byte> destination)
    {
        ReadOnlySpan<byte> raw = json.Slice(contentStart, rawLength);
        if (!escaped)
        {
            raw.CopyTo(destination);
            return raw.Length;
        }

        // Slow path: a string token on its own is a JSON document, so a reader over just it unescapes it.
        var reader = new Utf8JsonReader(json.Slice(contentStart - 1, rawLength + 2));
        reader.Read();
        return reader.CopyString(destination);
    }

    public static bool HasControl(ReadOnlySpan<byte> text) => text.IndexOfAnyInRange((byte)0, (byte)0x1F) >= 0 || text.Contains((byte)0x7F);

    /// <remarks>A loop, not <c>IndexOfAnyInRange</c>: on <c>ReadOnlySpan&lt;char&gt;</c> that allocates (96 bytes, .NET 10).</remarks>
    private static bool HasControl(string text)
    {
        foreach (char c in text)
        {
            if (c < '\u0020' || c == '\u007F')
            {
                return true;
            }
        }

        return false;
    }

    // ---- cold path: the words users read ------------------------------------------------------------------------

    /// <summary>"invalid JSON at byte N: reason", N counted from 0 at the first byte of the payload.</summary>
    public static IngestError InvalidJson(ReadOnlySpan<byte> json, int bomLength, JsonException exception)
    {
        long offset = bomLength + OffsetOf(json, exception.LineNumber ?? 0, exception.BytePositionInLine ?? 0);
        string reason = exception.Message;

        // The reader ends its messages with its own " LineNumber: 0 | BytePositionInLine: 17." position.
        int cut = reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0)
        {
            reason = reason[..cut];
        }

        return new IngestError(IngestErrorKind.Syntax, null, 0, string.Create(CultureInfo.InvariantCulture, $"invalid JSON at byte {offset}: {reason}"));
    }

    private static long OffsetOf(ReadOnlySpan<byte> json, long line, long positionInLine)
    {
        int start = 0;
        for (long i = 0; i < line; i++)
        {
            int newline = json[start..].IndexOf((byte)'\n');
            if (newline < 0)
            {
                break;
            }

            start += newline + 1;
        }

        return start + positionInLine;
    }

    /// <summary>A JSON token as written (strings keep their quotes and escapes), cut to a readable length.</summary>
    public static string QuoteToken(ReadOnlySpan<byte> token)
    {
        string text = Encoding.UTF8.GetString(token);
        return text.Length > MaxQuotedLength ? string.Concat(text.AsSpan(0, MaxQuotedLength), "…") : text;
    }

    /// <summary>Decoded text in double quotes, cut to a readable length.</summary>
    public static string Quote(ReadOnlySpan<byte> text) => Quote(Encoding.UTF8.GetString(text));

    public static string Quote(string text)
    {
        if (text.Length > MaxQuotedLength)
        {
            text = string.Concat(text.AsSpan(0, MaxQuotedLength), "…");
        }

        return "\"" + text + "\"";
    }

    public static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.StartObject => "an object",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True => "true",
        JsonTokenType.False => "false",
        JsonTokenType.Null => "null",
        _ => "nothing",
    };
}
