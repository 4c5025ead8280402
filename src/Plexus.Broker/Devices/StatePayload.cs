using System.Globalization;
using System.Text.Json;
using Plexus.Devices;

namespace Plexus.Broker.Devices;

/// <summary>
/// Reads <c>devices/&lt;id&gt;/state</c>: a JSON object of reported properties; nested objects are flattened with
/// <c>_</c> (<c>{"power": {"battery": 87}}</c> is <c>power_battery</c>), arrays kept as JSON text. A top-level
/// <c>ts</c> (or <c>time</c>) is the report's time, as in telemetry. State messages are rare next to telemetry, so
/// this parses into a document rather than streaming.
/// </summary>
public static class StatePayload
{
    public const int MaxProperties = 256;
    public const int MaxNameLength = 128;
    public const int MaxValueLength = 4096;
    private const int MaxDepth = 8;

    public static bool TryParse(ReadOnlySpan<byte> payload, out List<ReportedProperty> properties, out long? timeNs, out string? error)
    {
        properties = [];
        timeNs = null;
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = MaxDepth + 1 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException exception)
        {
            error = $"invalid JSON: {exception.Message}";
            return false;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = $"$: expected a JSON object of properties like {{\"firmware\": \"1.2.0\", \"battery\": 87}}, not {root.ValueKind.ToString().ToLowerInvariant()}";
                return false;
            }

            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("ts") || property.NameEquals("time"))
                {
                    error = ReadTime(property.Value, out long time);
                    if (error is not null)
                    {
                        error = $"$.{property.Name}: {error}";
                        return false;
                    }

                    timeNs = time;
                    continue;
                }

                error = Flatten(property.Name, property.Value, "$." + property.Name, properties);
                if (error is not null)
                {
                    return false;
                }
            }

            if (properties.Count == 0)
            {
                error = "the message reports no properties";
                return false;
            }

            error = null;
            return true;
        }
    }

    private static string? Flatten(string name, JsonElement value, string path, List<ReportedProperty> properties)
    {
        if (name.Length == 0 || name.Length > MaxNameLength || name.AsSpan().ContainsAnyInRange('\u0000', '\u001f'))
        {
            return $"{path}: property names must be 1–{MaxNameLength} characters without control characters";
        }

        if (string.Equals(name, DeviceDataNames.OnlineProperty, StringComparison.OrdinalIgnoreCase))
        {
            return $"{path}: \"online\" is set by the broker from the device's connections and cannot be reported";
        }

        if (properties.Count >= MaxProperties)
        {
            return $"more than {MaxProperties} properties in one message";
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var child in value.EnumerateObject())
                {
                    string? error = Flatten(name + "_" + child.Name, child.Value, path + "." + child.Name, properties);
                    if (error is not null)
                    {
                        return error;
                    }
                }

                return null;
            case JsonValueKind.String:
                string text = value.GetString()!;
                if (text.Length > MaxValueLength)
                {
                    return $"{path}: values are at most {MaxValueLength} characters";
                }

                properties.Add(new ReportedProperty(name, text, null, ReportedKind.String));
                return null;
            case JsonValueKind.Number:
                if (!value.TryGetDouble(out double number) || !double.IsFinite(number))
                {
                    return $"{path}: the number is out of range";
                }

                properties.Add(new ReportedProperty(name, value.GetRawText(), number, ReportedKind.Number));
                return null;
            case JsonValueKind.True or JsonValueKind.False:
                bool flag = value.ValueKind == JsonValueKind.True;
                properties.Add(new ReportedProperty(name, flag ? "true" : "false", flag ? 1 : 0, ReportedKind.Boolean));
                return null;
            case JsonValueKind.Null:
                properties.Add(new ReportedProperty(name, "null", null, ReportedKind.Null));
                return null;
            default:
                string json = value.GetRawText();
                if (json.Length > MaxValueLength)
                {
                    return $"{path}: values are at most {MaxValueLength} characters";
                }

                properties.Add(new ReportedProperty(name, json, null, ReportedKind.Json));
                return null;
        }
    }

    private static string? ReadTime(JsonElement value, out long nanoseconds)
    {
        nanoseconds = 0;
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (value.TryGetInt64(out long ms) && ms is < long.MaxValue / 1_000_000 and > long.MinValue / 1_000_000)
            {
                nanoseconds = ms * 1_000_000;
                return null;
            }

            return "epoch milliseconds out of range (1677-09-21 to 2262-04-11)";
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            string text = value.GetString()!;
            bool hasOffset = text.Length > 10 && (text[^1] is 'Z' or 'z' || text[^6] is '+' or '-' || text[^5] is '+' or '-');
            if (hasOffset && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                nanoseconds = (parsed.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
                return null;
            }

            return "not an ISO 8601 date and time with Z or an offset (like 2026-01-02T03:04:05Z)";
        }

        return $"must be epoch milliseconds or an ISO 8601 string, not {value.ValueKind.ToString().ToLowerInvariant()}";
    }
}
