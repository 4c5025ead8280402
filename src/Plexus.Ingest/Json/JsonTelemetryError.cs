using System.Text.Json;

namespace Plexus.Ingest.Json;

internal enum JsonTelemetryErrorKind : byte
{
    None,
    NotObjectOrArray,
    ElementNotObject,
    ArrayValue,
    TooDeep,
    EmptyName,
    ControlCharacterInName,
    ReservedTimeName,
    ReservedDeviceName,
    InvalidString,
    NumberOutOfRange,
    NoFields,
    TimestampType,
    TimestampNotTime,
    TimestampNoOffset,
    TimestampInvalidDate,
    TimestampFractionDigits,
    TimestampOutOfRange,
    TwoTimestamps,
}

/// <summary>
/// What went wrong, as the offending token's place in the payload: the hot path records a few integers and
/// only the cold path (<see cref="JsonTelemetryErrorText"/>) finds the JSON path and writes the sentence.
/// </summary>
/// <param name="TokenStart">Offset of the token (for a string or a property name, of its opening quote).</param>
/// <param name="TokenLength">Length of the token as written, quotes included.</param>
internal readonly record struct JsonTelemetryError(JsonTelemetryErrorKind Kind, int TokenStart, int TokenLength, JsonTokenType TokenType)
{
    public static JsonTelemetryError At(JsonTelemetryErrorKind kind, ref Utf8JsonReader reader)
    {
        int length = reader.ValueSpan.Length;
        if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName)
        {
            length += 2;
        }

        return new JsonTelemetryError(kind, (int)reader.TokenStartIndex, length, reader.TokenType);
    }
}
