using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Plexus.Core;

namespace Plexus.Devices.Twin;

/// <summary>
/// A device's desired properties as a JSON object, changed by JSON merge patches (RFC 7396: a key set to <c>null</c>
/// is removed, an object is merged key by key, anything else replaces). Pure: no storage, no clock.
/// </summary>
/// <remarks>
/// The rules are those of a reported state message (<c>devices/&lt;id&gt;/state</c>), so every desired key can be
/// compared with the reported property of the same name: nested objects flatten with <c>_</c>
/// (<c>{"config": {"rate": 5}}</c> is <c>config_rate</c>), names are 1–128 characters without control characters,
/// at most 8 levels deep, and <c>online</c> is refused (the broker sets it; a device cannot report it).
/// </remarks>
public static class DesiredDocument
{
    public const int MaxNameLength = 128;
    public const int MaxDepth = 8;

    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    /// <summary>
    /// Applies <paramref name="patch"/> to <paramref name="current"/> (a JSON object's text, or null for none) and
    /// returns the new document's compact text; throws what is wrong with the patch or the result, naming the field.
    /// </summary>
    /// <exception cref="RegistryException">Invalid: the patch is not an object, a name or depth is refused, or the result is larger than <paramref name="maxBytes"/>.</exception>
    public static string Apply(string? current, JsonElement patch, int maxBytes)
    {
        if (patch.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid(null, $"the desired properties must be a JSON object like {{\"interval\": 30, \"config\": {{\"mode\": \"eco\"}}}}, not {patch.ValueKind.ToString().ToLowerInvariant()}; a key set to null is removed");
        }

        var target = current is null ? new JsonObject() : JsonNode.Parse(current)!.AsObject();
        string text;
        try
        {
            Merge(target, patch, "", 1);
            text = target.ToJsonString(Compact);
        }
        catch (Exception error) when (error is InvalidOperationException or ArgumentException)
        {
            // An escaped unpaired surrogate ("\ud800") is valid JSON syntax but not text: hostile input.
            throw RegistryException.Invalid(null, "a name or string holds an escaped unpaired surrogate (like \\ud800), which is not text");
        }

        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > maxBytes)
        {
            throw RegistryException.Invalid(null, $"the desired properties would take {bytes} bytes of JSON, the limit is {maxBytes} (--max-desired-bytes); remove keys by setting them to null, or raise the limit");
        }

        return text;
    }

    /// <summary>
    /// The document's leaves under their flattened names (as reported properties are named), with the value as a
    /// reported value's text would be: a string as it is, a number as written, <c>true</c>/<c>false</c>, an array as JSON.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Flatten(string document)
    {
        using var parsed = JsonDocument.Parse(document);
        var leaves = new List<KeyValuePair<string, string>>();
        Flatten(parsed.RootElement, "", leaves);
        leaves.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return leaves;
    }

    private static void Flatten(JsonElement element, string prefix, List<KeyValuePair<string, string>> leaves)
    {
        foreach (var property in element.EnumerateObject())
        {
            string name = prefix.Length == 0 ? property.Name : prefix + "_" + property.Name;
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.Object:
                    Flatten(property.Value, name, leaves);
                    break;
                case JsonValueKind.String:
                    leaves.Add(new(name, property.Value.GetString()!));
                    break;
                default:
                    leaves.Add(new(name, property.Value.GetRawText()));
                    break;
            }
        }
    }

    private static void Merge(JsonObject target, JsonElement patch, string path, int depth)
    {
        if (depth > MaxDepth)
        {
            throw RegistryException.Invalid(path, $"{path} is nested more than {MaxDepth} levels deep; flatten it");
        }

        foreach (var property in patch.EnumerateObject())
        {
            string field = path.Length == 0 ? property.Name : path + "." + property.Name;
            CheckName(property.Name, field, depth);
            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                target.Remove(property.Name);
            }
            else if (property.Value.ValueKind == JsonValueKind.Object)
            {
                if (target[property.Name] is not JsonObject child)
                {
                    child = new JsonObject();
                    target[property.Name] = child;
                }

                Merge(child, property.Value, field, depth + 1);
            }
            else
            {
                CheckValue(property.Value, field, depth);
                target[property.Name] = JsonNode.Parse(property.Value.GetRawText());
            }
        }
    }

    private static void CheckName(string name, string field, int depth)
    {
        if (name.Length == 0 || name.Length > MaxNameLength || name.AsSpan().ContainsAnyInRange('\u0000', '\u001f'))
        {
            throw RegistryException.Invalid(field, $"desired property names must be 1–{MaxNameLength} characters without control characters; \"{Shorten(field)}\" is not");
        }

        if (depth == 1 && string.Equals(name, "online", StringComparison.OrdinalIgnoreCase))
        {
            throw RegistryException.Invalid(field, "\"online\" is set by the broker from the device's connections; it cannot be desired, choose another name");
        }
    }

    // Arrays are values (compared as their JSON text), but objects inside them would escape the depth rule.
    private static void CheckValue(JsonElement value, string field, int depth)
    {
        if (value.ValueKind == JsonValueKind.Number && !(value.TryGetDouble(out double number) && double.IsFinite(number)))
        {
            throw RegistryException.Invalid(field, $"{field}: the number is out of range");
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            if (depth >= MaxDepth)
            {
                throw RegistryException.Invalid(field, $"{field} is nested more than {MaxDepth} levels deep; flatten it");
            }

            foreach (var item in value.EnumerateArray())
            {
                CheckValue(item, field, depth + 1);
            }
        }
        else if (value.ValueKind == JsonValueKind.Object)
        {
            if (depth >= MaxDepth)
            {
                throw RegistryException.Invalid(field, $"{field} is nested more than {MaxDepth} levels deep; flatten it");
            }

            foreach (var property in value.EnumerateObject())
            {
                CheckValue(property.Value, field + "." + property.Name, depth + 1);
            }
        }
    }

    private static string Shorten(string text) => text.Length <= 64 ? text : text[..61] + "...";
}
