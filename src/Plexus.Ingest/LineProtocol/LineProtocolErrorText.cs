using System.Globalization;
using System.Text;
using Plexus.Core;

namespace Plexus.Ingest.LineProtocol;

/// <summary>
/// Cold path: the sentences users read. Each names the tag, field or timestamp at fault, quotes the value as
/// written (cut to a readable length), gives the fix when there is an obvious one and ends with the byte column.
/// </summary>
internal static class LineProtocolErrorText
{
    private const int MaxQuotedLength = 64;

    public static string Describe(ReadOnlySpan<byte> input, int start, int line, in LineProtocolError error, PointBatch batch, TimePrecision precision)
    {
        string name = error.Kind == LineProtocolErrorKind.DuplicateTag
            ? Quote(batch.Text(error.ArenaName))
            : Quote(input.Slice(error.NameStart, error.NameLength));
        string value = Quote(input.Slice(error.ValueStart, error.ValueLength));
        ReadOnlySpan<byte> valueBytes = input.Slice(error.ValueStart, error.ValueLength);
        int position = error.Position;
        byte at = position < input.Length ? input[position] : (byte)0;

        string reason = error.Kind switch
        {
            LineProtocolErrorKind.InvalidMeasurementStart => at == (byte)','
                ? "missing measurement name before ','"
                : $"measurement name cannot start with {Character(at)}",
            LineProtocolErrorKind.InvalidCharacterInMeasurement =>
                $"measurement {name}: names cannot contain {Character(at)}",
            LineProtocolErrorKind.MissingTagKey => "missing tag key after ','",
            LineProtocolErrorKind.InvalidCharacterInTagKey => error.NameLength == 0
                ? $"tag key cannot start with {Character(at)}"
                : $"tag {name}: keys cannot contain {Character(at)}",
            LineProtocolErrorKind.MissingTagEquals => $"tag {name}: missing '=' after the key",
            LineProtocolErrorKind.MissingTagValue => $"tag {name}: missing value",
            LineProtocolErrorKind.UnescapedEqualsInTagValue => $"tag {name}: unescaped '=' after value {value}; write it as \\=",
            LineProtocolErrorKind.DuplicateTag => $"duplicate tag {name}",
            LineProtocolErrorKind.ReservedTagKey => $"tag {name}: the key \"time\" is reserved for the timestamp; rename the tag",
            LineProtocolErrorKind.MissingFieldSet => "missing field set (a point needs at least one field, e.g. value=1)",
            LineProtocolErrorKind.MissingFieldKey => at == (byte)'='
                ? "missing field key before '='"
                : "missing field key after ','",
            LineProtocolErrorKind.InvalidCharacterInFieldKey => error.NameLength == 0
                ? $"field key cannot start with {Character(at)}"
                : $"field {name}: keys cannot contain {Character(at)}",
            LineProtocolErrorKind.MissingFieldEquals => $"field {name}: missing '=' and value",
            LineProtocolErrorKind.MissingFieldValue => $"field {name}: missing value",
            LineProtocolErrorKind.ReservedFieldKey => $"field {name}: the key \"time\" is reserved for the timestamp; rename the field",
            LineProtocolErrorKind.InvalidFloat => IsNaNOrInfinity(valueBytes)
                ? $"field {name}: {value} is not supported: NaN and infinite values are rejected"
                : $"field {name}: invalid float value {value}",
            LineProtocolErrorKind.FloatOutOfRange => $"field {name}: float value {value} is out of the 64-bit floating-point range",
            LineProtocolErrorKind.InvalidInteger => $"field {name}: invalid integer value {value}",
            LineProtocolErrorKind.IntegerOutOfRange => $"field {name}: integer value {value} is out of the 64-bit signed range",
            LineProtocolErrorKind.InvalidUnsigned => $"field {name}: invalid unsigned value {value}",
            LineProtocolErrorKind.UnsignedOutOfRange => $"field {name}: unsigned value {value} is out of the 64-bit unsigned range",
            LineProtocolErrorKind.InvalidBoolean =>
                $"field {name}: invalid boolean value {value} (use t, T, true, True, TRUE, f, F, false, False or FALSE)",
            LineProtocolErrorKind.UnrecognizedValue => IsNaNOrInfinity(valueBytes)
                ? $"field {name}: {value} is not supported: NaN and infinite values are rejected"
                : $"field {name}: invalid value {value}; string values must be in double quotes",
            LineProtocolErrorKind.UnterminatedString => $"field {name}: string value has no closing '\"'",
            LineProtocolErrorKind.UnexpectedAfterField => at == (byte)'"'
                ? $"field {name}: unexpected '\"' after the value; escape quotes inside strings as \\\""
                : $"field {name}: unexpected {Character(at)} after the value",
            LineProtocolErrorKind.InvalidTimestamp => $"timestamp {value} is not an integer",
            LineProtocolErrorKind.TimestampOutOfRange => $"timestamp {value} is out of the 64-bit range",
            LineProtocolErrorKind.TimestampOverflow =>
                $"timestamp {value} at precision {PrecisionName(precision)} does not fit in 64-bit nanoseconds",
            LineProtocolErrorKind.UnexpectedAfterTimestamp => $"unexpected text {value} after the timestamp",
            LineProtocolErrorKind.InvalidUtf8 => string.Create(CultureInfo.InvariantCulture, $"invalid UTF-8 (byte 0x{at:X2})"),
            LineProtocolErrorKind.InvalidCharacterInComment => $"comment contains {Character(at)}",
            _ => "invalid line",
        };

        // Tags are sorted before duplicates are found, so the position of the second one is no longer known.
        return error.Kind == LineProtocolErrorKind.DuplicateTag ? reason : reason + Where(input, start, line, position);
    }

    public static IngestErrorKind KindOf(LineProtocolErrorKind kind) => kind switch
    {
        LineProtocolErrorKind.MissingTagKey or LineProtocolErrorKind.MissingTagValue or LineProtocolErrorKind.MissingFieldSet
            or LineProtocolErrorKind.MissingFieldKey or LineProtocolErrorKind.MissingFieldValue => IngestErrorKind.Missing,
        LineProtocolErrorKind.DuplicateTag or LineProtocolErrorKind.ReservedTagKey or LineProtocolErrorKind.ReservedFieldKey => IngestErrorKind.Name,
        LineProtocolErrorKind.FloatOutOfRange or LineProtocolErrorKind.IntegerOutOfRange or LineProtocolErrorKind.UnsignedOutOfRange
            or LineProtocolErrorKind.TimestampOutOfRange or LineProtocolErrorKind.TimestampOverflow => IngestErrorKind.Range,
        _ => IngestErrorKind.Syntax,
    };

    /// <summary>" at column N", or " at line L, column N" when a multi-line string moved the error down.</summary>
    private static string Where(ReadOnlySpan<byte> input, int start, int line, int position)
    {
        ReadOnlySpan<byte> before = input[start..Math.Min(position, input.Length)];
        int extraLines = before.Count((byte)'\n');
        int lineStart = before.LastIndexOf((byte)'\n') + 1;
        int column = before.Length - lineStart + 1;
        return extraLines == 0
            ? string.Create(CultureInfo.InvariantCulture, $" at column {column}")
            : string.Create(CultureInfo.InvariantCulture, $" at line {line + extraLines}, column {column}");
    }

    private static string Character(byte b)
    {
        if (b >= 0x20 && b < 0x7F)
        {
            return $"'{(char)b}'";
        }

        string code = string.Create(CultureInfo.InvariantCulture, $"0x{b:X2}");
        return b switch
        {
            (byte)'\t' => $"a tab ({code})",
            (byte)'\r' => $"a carriage return ({code})",
            (byte)'\n' => $"a newline ({code})",
            < 0x80 => $"control character {code}",
            _ => $"byte {code}",
        };
    }

    private static string Quote(ReadOnlySpan<byte> text)
    {
        string decoded = Encoding.UTF8.GetString(text);
        if (decoded.Length > MaxQuotedLength)
        {
            decoded = string.Concat(decoded.AsSpan(0, MaxQuotedLength), "…");
        }

        return "\"" + decoded + "\"";
    }

    private static bool IsNaNOrInfinity(ReadOnlySpan<byte> token)
    {
        if (!token.IsEmpty && token[0] is (byte)'-' or (byte)'+')
        {
            token = token[1..];
        }

        return token.Length is 3 or 8
            && (Ascii.EqualsIgnoreCase(token, "nan"u8) || Ascii.EqualsIgnoreCase(token, "inf"u8) || Ascii.EqualsIgnoreCase(token, "infinity"u8));
    }

    private static string PrecisionName(TimePrecision precision) => precision switch
    {
        TimePrecision.Microseconds => "us",
        TimePrecision.Milliseconds => "ms",
        TimePrecision.Seconds => "s",
        _ => "ns",
    };
}
