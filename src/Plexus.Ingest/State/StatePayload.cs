using System.Globalization;
using System.Text.Json;

namespace Plexus.Ingest.State;

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

    /// <summary>The property the broker sets from a device's connections; a device cannot report it.</summary>
    public const string OnlineProperty = "online";

    /// <summary>
    /// Decodes one state message into its flattened <paramref name="properties"/> and, when it has <c>ts</c> or
    /// <c>time</c>, the report's time in nanoseconds since the Unix epoch. Stops at the first error, which names the
    /// JSON path.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out List<StateProperty> properties, out long? timeNs, out IngestError error)
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
            error = new IngestError(IngestErrorKind.Syntax, null, 0, $"invalid JSON: {exception.Message}");
            return false;
        }

        using (document)
        {
            try
            {
                return TryRead(document.RootElement, properties, out timeNs, out error);
            }
            catch (InvalidOperationException)
            {
                // The reader checks UTF-8 but leaves escapes to be decoded on demand, where an escaped unpaired
                // surrogate ("\ud800") throws: hostile input, refused like any other invalid JSON.
                properties.Clear();
                error = new IngestError(IngestErrorKind.Syntax, null, 0, "invalid JSON: a name or string holds an escaped unpaired surrogate (like \\ud800), which is not text");
                return false;
            }
        }
    }

    private static bool TryRead(JsonElement root, List<StateProperty> properties, out long? timeNs, out IngestError error)
    {
        timeNs = null;
        if (root.ValueKind != JsonValueKind.Object)
        {
            error = new IngestError(IngestErrorKind.Type, "$", 0, $"expected a JSON object of properties like {{\"firmware\": \"1.2.0\", \"battery\": 87}}, not {Describe(root.ValueKind)}");
            return false;
        }

        foreach (var property in root.EnumerateObject())
        {
            if (property.NameEquals("ts") || property.NameEquals("time"))
            {
                error = ReadTime(property.Value, "$." + property.Name, out long time);
                if (error.Kind != IngestErrorKind.None)
                {
                    return false;
                }

                timeNs = time;
                continue;
            }

            error = Flatten(property.Name, property.Value, "$." + property.Name, properties);
            if (error.Kind != IngestErrorKind.None)
            {
                return false;
            }
        }

        if (properties.Count == 0)
        {
            error = new IngestError(IngestErrorKind.Missing, null, 0, "the message reports no properties");
            return false;
        }

        error = default;
        return true;
    }

    private static IngestError Flatten(string name, JsonElement value, string path, List<StateProperty> properties)
    {
        if (name.Length == 0 || name.Length > MaxNameLength || name.AsSpan().ContainsAnyInRange('\u0000', '\u001f'))
        {
            return new IngestError(IngestErrorKind.Name, path, 0, $"property names must be 1–{MaxNameLength} characters without control characters");
        }

        if (string.Equals(name, OnlineProperty, StringComparison.OrdinalIgnoreCase))
        {
            return new IngestError(IngestErrorKind.Name, path, 0, "\"online\" is set by the broker from the device's connections and cannot be reported");
        }

        if (properties.Count >= MaxProperties)
        {
            return new IngestError(IngestErrorKind.TooLarge, null, 0, $"more than {MaxProperties} properties in one message");
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var child in value.EnumerateObject())
                {
                    IngestError error = Flatten(name + "_" + child.Name, child.Value, path + "." + child.Name, properties);
                    if (error.Kind != IngestErrorKind.None)
                    {
                        return error;
                    }
                }

                return default;
            case JsonValueKind.String:
                string text = value.GetString()!;
                if (text.Length > MaxValueLength)
                {
                    return TooLong(path);
                }

                properties.Add(new StateProperty(name, text, null, StateValueKind.String));
                return default;
            case JsonValueKind.Number:
                if (!value.TryGetDouble(out double number) || !double.IsFinite(number))
                {
                    return new IngestError(IngestErrorKind.Range, path, 0, "the number is out of range");
                }

                properties.Add(new StateProperty(name, value.GetRawText(), number, StateValueKind.Number));
                return default;
            case JsonValueKind.True or JsonValueKind.False:
                bool flag = value.ValueKind == JsonValueKind.True;
                properties.Add(new StateProperty(name, flag ? "true" : "false", flag ? 1 : 0, StateValueKind.Boolean));
                return default;
            case JsonValueKind.Null:
                properties.Add(new StateProperty(name, "null", null, StateValueKind.Null));
                return default;
            default:
                string json = value.GetRawText();
                if (json.Length > MaxValueLength)
                {
                    return TooLong(path);
                }

                properties.Add(new StateProperty(name, json, null, StateValueKind.Json));
                return default;
        }
    }

    private static IngestError TooLong(string path) => new(IngestErrorKind.TooLarge, path, 0, $"values are at most {MaxValueLength} characters");

    private static IngestError ReadTime(JsonElement value, string path, out long nanoseconds)
    {
        nanoseconds = 0;
        if (value.ValueKind == JsonValueKind.Number)
        {
            if (value.TryGetInt64(out long ms) && ms is < long.MaxValue / 1_000_000 and > long.MinValue / 1_000_000)
            {
                nanoseconds = ms * 1_000_000;
                return default;
            }

            return new IngestError(IngestErrorKind.Range, path, 0, "epoch milliseconds out of range (1677-09-21 to 2262-04-11)");
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            string text = value.GetString()!;
            bool hasOffset = text.Length > 10 && (text[^1] is 'Z' or 'z' || text[^6] is '+' or '-' || text[^5] is '+' or '-');
            if (hasOffset && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            {
                nanoseconds = (parsed.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
                return default;
            }

            return new IngestError(IngestErrorKind.Syntax, path, 0, "not an ISO 8601 date and time with Z or an offset (like 2026-01-02T03:04:05Z)");
        }

        return new IngestError(IngestErrorKind.Type, path, 0, $"must be epoch milliseconds or an ISO 8601 string, not {Describe(value.ValueKind)}");
    }

    private static string Describe(JsonValueKind kind) => kind.ToString().ToLowerInvariant();
}
