using System.Globalization;
using System.Text.Json;
using Plexus.Core;
using Plexus.Ingest.Json;

namespace Plexus.Ingest.Location;

/// <summary>The newest position of a location message, for the live state.</summary>
public readonly record struct LocationFix(double Lat, double Lon, long TimeNs);

/// <summary>
/// Decodes <c>devices/&lt;id&gt;/location</c>: <c>{"lat", "lon", "alt"?, "speed"?, "heading"?, "accuracy"?, "ts"?}</c>
/// or an array of such objects, into points of measurement <c>positions</c> with tag <c>device</c> and FLOAT fields.
/// The rules are in docs/mqtt.md (device positions).
/// </summary>
/// <remarks>
/// Pure and allocation-free for good messages: names and numbers are read from the payload span and written into the
/// batch's arena. A message is one unit: a bad one stops at the first error, which names the JSON path and the field,
/// and leaves nothing of the message in the batch (points it held before are kept).
/// </remarks>
public static class LocationDecoder
{
    public const int MaxPoints = 10_000;
    private const int MaxTimeChars = 64;

    /// <inheritdoc cref="TryDecode(ReadOnlySpan{byte}, in LocationOptions, PointBatch, out LocationFix, out IngestError)"/>
    public static bool TryDecode(ReadOnlySpan<byte> payload, in LocationOptions options, PointBatch batch, out IngestError error)
        => TryDecode(payload, options, batch, out _, out error);

    /// <summary>
    /// Decodes <paramref name="payload"/> into <paramref name="batch"/>; <paramref name="newest"/> is the position with
    /// the latest time (the last of equal ones). On failure nothing of the message is left in the batch.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, in LocationOptions options, PointBatch batch, out LocationFix newest, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(options.DeviceId);
        ArgumentNullException.ThrowIfNull(options.Measurement);
        newest = default;
        int bom = JsonText.BomLength(payload);
        ReadOnlySpan<byte> json = payload[bom..];
        BatchMark before = batch.Mark();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 });
        try
        {
            error = Decode(ref reader, options, batch, ref newest);
        }
        catch (JsonException exception)
        {
            // Worded as devices have always been answered (the reader's own message, position included), which
            // differs from telemetry's JsonText.InvalidJson.
            error = new IngestError(IngestErrorKind.Syntax, null, 0, string.Create(CultureInfo.InvariantCulture, $"invalid JSON at byte {reader.BytesConsumed}: {exception.Message}"));
        }

        if (error.Kind != IngestErrorKind.None)
        {
            batch.Truncate(before);
            newest = default;
            return false;
        }

        return true;
    }

    private static IngestError Decode(ref Utf8JsonReader reader, in LocationOptions options, PointBatch batch, ref LocationFix newest)
    {
        if (!reader.Read())
        {
            return new IngestError(IngestErrorKind.Missing, null, 0, "the payload is empty; send a JSON object like {\"lat\": 52.52, \"lon\": 13.40}");
        }

        bool found = false;
        IngestError error;
        if (reader.TokenType == JsonTokenType.StartObject)
        {
            error = ReadPosition(ref reader, -1, options, batch, ref newest, ref found);
        }
        else if (reader.TokenType == JsonTokenType.StartArray)
        {
            error = default;
            int index = 0;
            while (error.Kind == IngestErrorKind.None && reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    return new IngestError(IngestErrorKind.Type, Path(index), 0, $"each position must be a JSON object, not {Describe(reader.TokenType)}");
                }

                if (index >= MaxPoints)
                {
                    return new IngestError(IngestErrorKind.TooLarge, null, 0, $"more than {MaxPoints} positions in one message; split it");
                }

                error = ReadPosition(ref reader, index, options, batch, ref newest, ref found);
                index++;
            }

            if (error.Kind == IngestErrorKind.None && index == 0)
            {
                return new IngestError(IngestErrorKind.Missing, null, 0, "the array holds no positions");
            }
        }
        else
        {
            return new IngestError(IngestErrorKind.Type, "$", 0, $"expected a JSON object like {{\"lat\": 52.52, \"lon\": 13.40}} or an array of them, not {Describe(reader.TokenType)}");
        }

        if (error.Kind == IngestErrorKind.None && reader.Read())
        {
            return new IngestError(IngestErrorKind.Syntax, null, 0, "unexpected data after the JSON value");
        }

        return error;
    }

    private static IngestError ReadPosition(ref Utf8JsonReader reader, int index, in LocationOptions options, PointBatch batch, ref LocationFix newest, ref bool found)
    {
        double lat = double.NaN, lon = double.NaN, alt = double.NaN, speed = double.NaN, heading = double.NaN, accuracy = double.NaN;
        long time = options.DefaultTimestamp;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            Field field = FieldOf(ref reader);
            if (field == Field.Unknown)
            {
                return new IngestError(IngestErrorKind.Unsupported, Path(index), 0, $"unknown field {Quote(ref reader)}; a position has lat, lon, alt, speed, heading, accuracy and ts");
            }

            if (!reader.Read())
            {
                return new IngestError(IngestErrorKind.Syntax, Path(index), 0, "the message ends early");
            }

            if (field == Field.Time)
            {
                IngestError timeError = ReadTime(ref reader, index, out time);
                if (timeError.Kind != IngestErrorKind.None)
                {
                    return timeError;
                }

                continue;
            }

            if (reader.TokenType != JsonTokenType.Number)
            {
                return new IngestError(IngestErrorKind.Type, $"{Path(index)}.{NameOf(field)}", 0, $"must be a number, not {Describe(reader.TokenType)}");
            }

            if (!reader.TryGetDouble(out double value) || !double.IsFinite(value))
            {
                return new IngestError(IngestErrorKind.Range, $"{Path(index)}.{NameOf(field)}", 0, "the number is out of range");
            }

            switch (field)
            {
                case Field.Lat when value is < -90 or > 90:
                    return new IngestError(IngestErrorKind.Range, $"{Path(index)}.lat", 0, $"{value.ToString(CultureInfo.InvariantCulture)} is outside [-90, 90]");
                case Field.Lon when value is < -180 or > 180:
                    return new IngestError(IngestErrorKind.Range, $"{Path(index)}.lon", 0, $"{value.ToString(CultureInfo.InvariantCulture)} is outside [-180, 180]");
                case Field.Lat:
                    lat = value;
                    break;
                case Field.Lon:
                    lon = value;
                    break;
                case Field.Alt:
                    alt = value;
                    break;
                case Field.Speed:
                    speed = value;
                    break;
                case Field.Heading:
                    heading = value;
                    break;
                default:
                    accuracy = value;
                    break;
            }
        }

        if (double.IsNaN(lat) || double.IsNaN(lon))
        {
            return new IngestError(IngestErrorKind.Missing, Path(index), 0, $"{(double.IsNaN(lat) ? "lat" : "lon")} is required (a position needs lat and lon)");
        }

        JsonText.BeginDevicePoint(batch, options.Measurement, options.DeviceId, index + 1);
        batch.AddFloat(batch.AppendText("lat"u8), lat);
        batch.AddFloat(batch.AppendText("lon"u8), lon);
        AddOptional(batch, "alt"u8, alt);
        AddOptional(batch, "speed"u8, speed);
        AddOptional(batch, "heading"u8, heading);
        AddOptional(batch, "accuracy"u8, accuracy);
        batch.EndPoint(time);
        if (!found || time >= newest.TimeNs)
        {
            newest = new LocationFix(lat, lon, time);
            found = true;
        }

        return default;
    }

    private static void AddOptional(PointBatch batch, ReadOnlySpan<byte> name, double value)
    {
        if (!double.IsNaN(value))
        {
            batch.AddFloat(batch.AppendText(name), value);
        }
    }

    /// <summary>Epoch milliseconds as a number, or an ISO 8601 date and time with Z or an offset, as telemetry takes them.</summary>
    private static IngestError ReadTime(ref Utf8JsonReader reader, int index, out long nanoseconds)
    {
        nanoseconds = 0;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out long ms))
            {
                if (ms is > long.MaxValue / 1_000_000 or < long.MinValue / 1_000_000)
                {
                    return new IngestError(IngestErrorKind.Range, TimePath(index), 0, "the time is out of range (1677-09-21 to 2262-04-11)");
                }

                nanoseconds = ms * 1_000_000;
                return default;
            }

            if (reader.TryGetDouble(out double fractional) && double.IsFinite(fractional) && Math.Abs(fractional) < long.MaxValue / 1_000_000)
            {
                nanoseconds = (long)Math.Round(fractional * 1_000_000);
                return default;
            }

            return new IngestError(IngestErrorKind.Range, TimePath(index), 0, "the time is out of range (1677-09-21 to 2262-04-11)");
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            return new IngestError(IngestErrorKind.Type, TimePath(index), 0, $"must be epoch milliseconds or an ISO 8601 string, not {Describe(reader.TokenType)}");
        }

        Span<char> text = stackalloc char[MaxTimeChars];
        int length;
        try
        {
            length = reader.CopyString(text);
        }
        catch (ArgumentException)
        {
            return new IngestError(IngestErrorKind.Syntax, TimePath(index), 0, "not an ISO 8601 date and time");
        }

        ReadOnlySpan<char> time = text[..length];
        bool hasOffset = time.Length > 10 && (time[^1] is 'Z' or 'z' || time[^6] is '+' or '-' || time[^5] is '+' or '-');
        if (!hasOffset)
        {
            return new IngestError(IngestErrorKind.Syntax, TimePath(index), 0, "an ISO 8601 time needs Z or an offset (like 2026-01-02T03:04:05Z)");
        }

        if (!DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return new IngestError(IngestErrorKind.Syntax, TimePath(index), 0, "not an ISO 8601 date and time (like 2026-01-02T03:04:05.123Z)");
        }

        nanoseconds = (parsed.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
        return default;
    }

    private enum Field
    {
        Unknown,
        Lat,
        Lon,
        Alt,
        Speed,
        Heading,
        Accuracy,
        Time,
    }

    private static Field FieldOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("lat"u8) ? Field.Lat
        : reader.ValueTextEquals("lon"u8) ? Field.Lon
        : reader.ValueTextEquals("alt"u8) ? Field.Alt
        : reader.ValueTextEquals("speed"u8) ? Field.Speed
        : reader.ValueTextEquals("heading"u8) ? Field.Heading
        : reader.ValueTextEquals("accuracy"u8) ? Field.Accuracy
        : reader.ValueTextEquals("ts"u8) || reader.ValueTextEquals("time"u8) ? Field.Time
        : Field.Unknown;

    private static string NameOf(Field field) => field switch
    {
        Field.Lat => "lat",
        Field.Lon => "lon",
        Field.Alt => "alt",
        Field.Speed => "speed",
        Field.Heading => "heading",
        _ => "accuracy",
    };

    private static string Path(int index) => index < 0 ? "$" : string.Create(CultureInfo.InvariantCulture, $"$[{index}]");

    private static string TimePath(int index) => Path(index) + ".ts";

    private static string Quote(ref Utf8JsonReader reader)
    {
        string name;
        try
        {
            name = reader.GetString() ?? string.Empty;
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8 or an escaped unpaired surrogate: show the name as written.
            name = System.Text.Encoding.UTF8.GetString(reader.ValueSpan);
        }

        return "\"" + (name.Length > 64 ? name[..64] + "…" : name) + "\"";
    }

    private static string Describe(JsonTokenType type) => type switch
    {
        JsonTokenType.String => "a string",
        JsonTokenType.Number => "a number",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        JsonTokenType.StartArray => "an array",
        JsonTokenType.StartObject => "an object",
        _ => type.ToString(),
    };
}
