using System.Globalization;
using System.Text;
using System.Text.Json;
using Plexus.Core;

namespace Plexus.Broker.Devices;

/// <summary>The newest position of a location message, for the live state.</summary>
public readonly record struct LocationFix(double Lat, double Lon, long TimeNs);

/// <summary>
/// Decodes <c>devices/&lt;id&gt;/location</c>: <c>{"lat", "lon", "alt"?, "speed"?, "heading"?, "accuracy"?, "ts"?}</c>
/// or an array of such objects, into points of measurement <c>positions</c> with tag <c>device</c> and FLOAT fields.
/// </summary>
/// <remarks>
/// Pure and allocation-free for good messages: names and numbers are read from the payload span and written into the
/// batch's arena. A bad message stops at the first error, which names the JSON path and the field; the caller drops
/// the whole batch then, so a message is stored entirely or not at all.
/// </remarks>
public static class LocationDecoder
{
    private const int MaxPoints = 10_000;
    private const int MaxTimeChars = 64;

    public static bool TryDecode(ReadOnlySpan<byte> payload, string deviceId, long now, PointBatch batch, out LocationFix newest, out string? error)
    {
        ArgumentNullException.ThrowIfNull(deviceId);
        ArgumentNullException.ThrowIfNull(batch);
        newest = default;
        if (payload.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            payload = payload[3..];
        }

        var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 4 });
        try
        {
            if (!reader.Read())
            {
                error = "the payload is empty; send a JSON object like {\"lat\": 52.52, \"lon\": 13.40}";
                return false;
            }

            bool found = false;
            if (reader.TokenType == JsonTokenType.StartObject)
            {
                error = ReadPosition(ref reader, -1, deviceId, now, batch, ref newest, ref found);
            }
            else if (reader.TokenType == JsonTokenType.StartArray)
            {
                error = null;
                int index = 0;
                while (error is null && reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        error = $"$[{index}]: each position must be a JSON object, not {Describe(reader.TokenType)}";
                        break;
                    }

                    if (index >= MaxPoints)
                    {
                        error = $"more than {MaxPoints} positions in one message; split it";
                        break;
                    }

                    error = ReadPosition(ref reader, index, deviceId, now, batch, ref newest, ref found);
                    index++;
                }

                if (error is null && index == 0)
                {
                    error = "the array holds no positions";
                }
            }
            else
            {
                error = $"$: expected a JSON object like {{\"lat\": 52.52, \"lon\": 13.40}} or an array of them, not {Describe(reader.TokenType)}";
            }

            if (error is null && reader.Read())
            {
                error = "unexpected data after the JSON value";
            }
        }
        catch (JsonException exception)
        {
            error = $"invalid JSON at byte {reader.BytesConsumed}: {exception.Message}";
        }

        if (error is not null)
        {
            batch.AbortPoint();
            return false;
        }

        return true;
    }

    private static string? ReadPosition(ref Utf8JsonReader reader, int index, string deviceId, long now, PointBatch batch, ref LocationFix newest, ref bool found)
    {
        double lat = double.NaN, lon = double.NaN, alt = double.NaN, speed = double.NaN, heading = double.NaN, accuracy = double.NaN;
        long time = now;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            Field field = FieldOf(ref reader);
            if (field == Field.Unknown)
            {
                return $"{Path(index)}: unknown field {Quote(ref reader)}; a position has lat, lon, alt, speed, heading, accuracy and ts";
            }

            if (!reader.Read())
            {
                return $"{Path(index)}: the message ends early";
            }

            if (field == Field.Time)
            {
                string? timeError = ReadTime(ref reader, out time);
                if (timeError is not null)
                {
                    return $"{Path(index)}.ts: {timeError}";
                }

                continue;
            }

            string name = NameOf(field);
            if (reader.TokenType != JsonTokenType.Number)
            {
                return $"{Path(index)}.{name}: must be a number, not {Describe(reader.TokenType)}";
            }

            if (!reader.TryGetDouble(out double value) || !double.IsFinite(value))
            {
                return $"{Path(index)}.{name}: the number is out of range";
            }

            switch (field)
            {
                case Field.Lat when value is < -90 or > 90:
                    return $"{Path(index)}.lat: {value.ToString(CultureInfo.InvariantCulture)} is outside [-90, 90]";
                case Field.Lon when value is < -180 or > 180:
                    return $"{Path(index)}.lon: {value.ToString(CultureInfo.InvariantCulture)} is outside [-180, 180]";
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
            return $"{Path(index)}: {(double.IsNaN(lat) ? "lat" : "lon")} is required (a position needs lat and lon)";
        }

        batch.BeginPoint("positions"u8, index + 1);
        TextSlice deviceKey = batch.AppendText("device"u8);
        Span<byte> id = batch.ReserveText(Encoding.UTF8.GetMaxByteCount(deviceId.Length));
        batch.AddTag(deviceKey, batch.CommitText(Encoding.UTF8.GetBytes(deviceId, id)));
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

        return null;
    }

    private static void AddOptional(PointBatch batch, ReadOnlySpan<byte> name, double value)
    {
        if (!double.IsNaN(value))
        {
            batch.AddFloat(batch.AppendText(name), value);
        }
    }

    /// <summary>Epoch milliseconds as a number, or an ISO 8601 date and time with Z or an offset, as telemetry takes them.</summary>
    private static string? ReadTime(ref Utf8JsonReader reader, out long nanoseconds)
    {
        nanoseconds = 0;
        if (reader.TokenType == JsonTokenType.Number)
        {
            if (reader.TryGetInt64(out long ms))
            {
                if (ms is > long.MaxValue / 1_000_000 or < long.MinValue / 1_000_000)
                {
                    return "the time is out of range (1677-09-21 to 2262-04-11)";
                }

                nanoseconds = ms * 1_000_000;
                return null;
            }

            if (reader.TryGetDouble(out double fractional) && double.IsFinite(fractional) && Math.Abs(fractional) < long.MaxValue / 1_000_000)
            {
                nanoseconds = (long)Math.Round(fractional * 1_000_000);
                return null;
            }

            return "the time is out of range (1677-09-21 to 2262-04-11)";
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            return $"must be epoch milliseconds or an ISO 8601 string, not {Describe(reader.TokenType)}";
        }

        Span<char> text = stackalloc char[MaxTimeChars];
        int length;
        try
        {
            length = reader.CopyString(text);
        }
        catch (ArgumentException)
        {
            return "not an ISO 8601 date and time";
        }

        ReadOnlySpan<char> time = text[..length];
        bool hasOffset = time.Length > 10 && (time[^1] is 'Z' or 'z' || time[^6] is '+' or '-' || time[^5] is '+' or '-');
        if (!hasOffset)
        {
            return "an ISO 8601 time needs Z or an offset (like 2026-01-02T03:04:05Z)";
        }

        if (!DateTimeOffset.TryParse(time, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return "not an ISO 8601 date and time (like 2026-01-02T03:04:05.123Z)";
        }

        nanoseconds = (parsed.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
        return null;
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

    private static string Path(int index) => index < 0 ? "$" : $"$[{index}]";

    private static string Quote(ref Utf8JsonReader reader)
    {
        string name = reader.GetString() ?? string.Empty;
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
