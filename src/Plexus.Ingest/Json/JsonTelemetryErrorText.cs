using System.Text.Json;

namespace Plexus.Ingest.Json;

/// <summary>
/// Cold path: the sentences users read. Each starts with the JSON path of the member at fault, quotes the
/// value as written (cut to a readable length) and gives the fix when there is an obvious one.
/// </summary>
internal static class JsonTelemetryErrorText
{
    public static IngestError Describe(ReadOnlySpan<byte> json, JsonReaderOptions readerOptions, in JsonTelemetryError error, int maxDepth)
    {
        string path = JsonPath.To(json, readerOptions, error.TokenStart);
        string token = JsonText.QuoteToken(json.Slice(error.TokenStart, error.TokenLength));
        string found = JsonText.Describe(error.TokenType);

        string reason = error.Kind switch
        {
            JsonTelemetryErrorKind.NotObjectOrArray => $"expected an object of fields or an array of such objects, found {found}",
            JsonTelemetryErrorKind.ElementNotObject => $"expected an object of fields, found {found}",
            JsonTelemetryErrorKind.ArrayValue =>
                "arrays are not supported as field values; send an array of objects at the top level for several points, or give each value its own member",
            JsonTelemetryErrorKind.TooDeep => $"objects are nested more than {maxDepth} level{(maxDepth == 1 ? "" : "s")} deep (MaxDepth)",
            JsonTelemetryErrorKind.EmptyName => "empty member names are not supported",
            JsonTelemetryErrorKind.ControlCharacterInName => "member names cannot contain control characters",
            JsonTelemetryErrorKind.ReservedTimeName =>
                $"{token} is reserved for the time column; send the timestamp as \"ts\" or \"time\" (lower case), or rename the member",
            JsonTelemetryErrorKind.ReservedDeviceName =>
                $"{token} is reserved for the device tag, which comes from the topic; rename the member",
            JsonTelemetryErrorKind.InvalidString => "the string is not valid UTF-8 or has an escaped unpaired surrogate",
            JsonTelemetryErrorKind.NumberOutOfRange => $"{token} is outside the 64-bit floating-point range",
            JsonTelemetryErrorKind.NoFields =>
                "the point has no fields (every member is null, an empty object or the timestamp)",
            JsonTelemetryErrorKind.TimestampType =>
                $"expected epoch milliseconds (a number) or an ISO 8601 time (a string), found {found}",
            JsonTelemetryErrorKind.TimestampNotTime =>
                $"{token} is not epoch milliseconds or an ISO 8601 time (e.g. 1700000000000 or \"2023-11-14T22:13:20Z\")",
            JsonTelemetryErrorKind.TimestampNoOffset => $"{token} has no UTC offset; end it with Z or an offset such as +02:00",
            JsonTelemetryErrorKind.TimestampInvalidDate => $"{token} is not a valid date and time",
            JsonTelemetryErrorKind.TimestampFractionDigits => $"{token} has more than 9 fractional digits (nanoseconds are the finest unit)",
            JsonTelemetryErrorKind.TimestampOutOfRange => error.TokenType == JsonTokenType.Number
                ? $"{token} milliseconds is outside the supported range ({JsonTimestamps.SupportedRange})"
                : $"{token} is outside the supported range ({JsonTimestamps.SupportedRange})",
            JsonTelemetryErrorKind.TwoTimestamps => "the point has both \"ts\" and \"time\"; send only one",
            _ => "invalid message",
        };

        return new IngestError(KindOf(error.Kind), path, 0, reason);
    }

    private static IngestErrorKind KindOf(JsonTelemetryErrorKind kind) => kind switch
    {
        JsonTelemetryErrorKind.NotObjectOrArray or JsonTelemetryErrorKind.ElementNotObject or JsonTelemetryErrorKind.ArrayValue
            or JsonTelemetryErrorKind.TimestampType => IngestErrorKind.Type,
        JsonTelemetryErrorKind.TooDeep => IngestErrorKind.TooLarge,
        JsonTelemetryErrorKind.EmptyName or JsonTelemetryErrorKind.ControlCharacterInName or JsonTelemetryErrorKind.ReservedTimeName
            or JsonTelemetryErrorKind.ReservedDeviceName => IngestErrorKind.Name,
        JsonTelemetryErrorKind.NumberOutOfRange or JsonTelemetryErrorKind.TimestampOutOfRange => IngestErrorKind.Range,
        JsonTelemetryErrorKind.NoFields => IngestErrorKind.Missing,
        _ => IngestErrorKind.Syntax,
    };
}
