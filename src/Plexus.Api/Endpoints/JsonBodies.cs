using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Ingest;

namespace Plexus.Api.Endpoints;

/// <summary>Reading request bodies and writing answers for the registry endpoints (devices, assets), so both speak alike.</summary>
internal static class JsonBodies
{
    /// <summary>
    /// Largest JSON body of the registry and query endpoints: a bulk import of tens of thousands of devices fits, a body
    /// meant to fill the server's memory does not.
    /// </summary>
    public const int MaxJsonBodyBytes = 16 * 1024 * 1024;

    /// <summary>
    /// Parses the body (at most <see cref="MaxJsonBodyBytes"/>) as a JSON value of <paramref name="kind"/>; otherwise answers
    /// 400 with <paramref name="example"/> (413 when too large) and returns null.
    /// </summary>
    public static async Task<JsonDocument?> ReadJsonAsync(HttpContext http, string example, JsonValueKind kind = JsonValueKind.Object)
    {
        if (await ReadBoundedAsync(http, MaxJsonBodyBytes, $"the body is larger than {MaxJsonBodyBytes / (1024 * 1024)} MiB; send fewer items per request") is not { } body)
        {
            return null;
        }

        try
        {
            var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != kind)
            {
                document.Dispose();
                throw new JsonException(kind == JsonValueKind.Array ? "expected a JSON array" : "expected a JSON object");
            }

            return document;
        }
        catch (JsonException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"the body must be JSON like {example}: {error.Message}");
            return null;
        }
    }

    /// <summary>
    /// The whole body, or null after answering 413 with <paramref name="tooLarge"/> once it passes
    /// <paramref name="maxBytes"/>: a declared length is refused before reading, a chunked body as soon as it is over.
    /// </summary>
    public static async Task<byte[]?> ReadBoundedAsync(HttpContext http, int maxBytes, string tooLarge)
    {
        if (http.Request.ContentLength > maxBytes)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "too_large", tooLarge);
            return null;
        }

        using var buffer = new MemoryStream();
        byte[] chunk = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes, 64 * 1024));
        try
        {
            int read;
            while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    await ApiErrors.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "too_large", tooLarge);
                    return null;
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    /// <summary>A string property; absent or null is null, any other kind is a <see cref="RegistryException"/> naming the field.</summary>
    public static string? OptionalString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : throw RegistryException.Invalid(name, $"{name} must be a string or null, not {value.ValueKind.ToString().ToLowerInvariant()}");
    }

    /// <summary>An array of strings; absent or null is null, anything else a <see cref="RegistryException"/> naming the field.</summary>
    public static List<string>? OptionalStringList(JsonElement root, string name, string example)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array || value.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
        {
            throw RegistryException.Invalid(name, $"{name} must be an array of strings like {example}, or null");
        }

        return [.. value.EnumerateArray().Select(item => item.GetString()!)];
    }

    /// <param name="example">A tags object shown when the value is not one, e.g. {"fleet": "East"}.</param>
    public static Dictionary<string, string>? OptionalTags(JsonElement root, string example)
    {
        if (!root.TryGetProperty("tags", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw RegistryException.Invalid("tags", $"tags must be an object of strings, like {example}");
        }

        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var tag in value.EnumerateObject())
        {
            if (tag.Value.ValueKind != JsonValueKind.String)
            {
                throw RegistryException.Invalid("tags", $"tag \"{tag.Name}\" must have a string value");
            }

            tags[tag.Name] = tag.Value.GetString()!;
        }

        return tags;
    }

    /// <summary>
    /// A PATCH body of devices or assets: the audit detail names the fields sent, every property must be in
    /// <paramref name="allowed"/> (otherwise <paramref name="refusal"/> words the message for it), and the metadata
    /// fields it sends are set on <paramref name="changes"/>.
    /// </summary>
    public static T ReadChanges<T>(HttpContext http, JsonElement root, T changes, string[] allowed, string tagsExample, Func<string, string> refusal)
        where T : MetadataChanges
    {
        AuditTrail.Detail(http, ChangedFields(root));
        foreach (var property in root.EnumerateObject())
        {
            if (!allowed.Contains(property.Name, StringComparer.Ordinal))
            {
                throw RegistryException.Invalid(property.Name, refusal(property.Name));
            }
        }

        return (T)(changes with
        {
            NameSet = root.TryGetProperty("name", out _),
            Name = OptionalString(root, "name"),
            TypeSet = root.TryGetProperty("type", out _),
            Type = OptionalString(root, "type"),
            TagsSet = root.TryGetProperty("tags", out _),
            Tags = OptionalTags(root, tagsExample),
            ParentSet = root.TryGetProperty("parent", out _),
            Parent = OptionalString(root, "parent"),
        });
    }

    /// <summary>The ?tag=key:value (or key=value) filters; a malformed one is answered 400 showing <paramref name="example"/> and null is returned.</summary>
    public static async Task<List<KeyValuePair<string, string>>?> ReadTagFiltersAsync(HttpContext http, string example)
    {
        var filters = new List<KeyValuePair<string, string>>();
        foreach (string? tag in http.Request.Query["tag"])
        {
            int colon = tag?.IndexOfAny([':', '=']) ?? -1;
            if (tag is null || colon <= 0)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"tag: \"{tag}\" is not key:value (or key=value), e.g. ?tag={example}");
                return null;
            }

            filters.Add(new KeyValuePair<string, string>(tag[..colon], tag[(colon + 1)..]));
        }

        return filters;
    }

    /// <summary>The ?limit= and ?offset= of a list; out of range is answered 400 and null is returned.</summary>
    public static async Task<(int Limit, int Offset)?> ReadPageAsync(HttpContext http, int defaultLimit, int maxLimit)
    {
        if (!TryQueryInt(http, "limit", defaultLimit, maxLimit, out int limit) || !TryQueryInt(http, "offset", 0, int.MaxValue, out int offset))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"limit must be 0–{maxLimit} and offset 0 or more, as whole numbers");
            return null;
        }

        return (limit, offset);
    }

    /// <summary>A non-negative integer query parameter up to <paramref name="max"/>; absent is <paramref name="fallback"/>.</summary>
    public static bool TryQueryInt(HttpContext http, string name, int fallback, int max, out int value)
    {
        string? text = http.Request.Query[name];
        if (string.IsNullOrEmpty(text))
        {
            value = fallback;
            return true;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value <= max;
    }

    /// <summary>The metadata properties devices and assets share: id, name, type, tags, parent and the two times.</summary>
    public static void WriteMetadata(Utf8JsonWriter json, string id, string? name, string? type, IReadOnlyDictionary<string, string> tags, string? parent, DateTimeOffset createdAt, DateTimeOffset updatedAt)
    {
        json.WriteString("id", id);
        json.WriteString("name", name);
        json.WriteString("type", type);
        json.WritePropertyName("tags");
        json.WriteStartObject();
        foreach (var (key, value) in tags)
        {
            json.WriteString(key, value);
        }

        json.WriteEndObject();
        json.WriteString("parent", parent);
        json.WriteString("created_at", createdAt.UtcDateTime);
        json.WriteString("updated_at", updatedAt.UtcDateTime);
    }

    /// <summary>Answers with a JSON object whose properties <paramref name="body"/> writes.</summary>
    /// <summary>A member holding a list of strings, or null when there is no list (for "every" or "not set").</summary>
    public static void WriteStringListOrNull(Utf8JsonWriter json, string name, IEnumerable<string>? values)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (values is null)
        {
            json.WriteNull(name);
            return;
        }

        json.WriteStartArray(name);
        foreach (string value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    /// <summary>A string member, or null when there is none.</summary>
    public static void WriteStringOrNull(Utf8JsonWriter json, string name, string? value)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    public static Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> body) =>
        RegistryEndpoints.WriteJsonAsync(http, status, "application/json; charset=utf-8", json =>
        {
            json.WriteStartObject();
            body(json);
            json.WriteEndObject();
        });

    /// <summary>Answers 200 with a page of a list: the entries under <paramref name="property"/> and how many matched in all.</summary>
    public static Task WritePageAsync<T>(HttpContext http, string property, IReadOnlyList<T> entries, int total, Action<Utf8JsonWriter, T> writeEntry) =>
        WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray(property);
            foreach (var entry in entries)
            {
                json.WriteStartObject();
                writeEntry(json, entry);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteNumber("total", total);
        });

    /// <summary>
    /// A CSV row the decoder refused, as the registry's own error: its field is the column at fault, its message
    /// names the line.
    /// </summary>
    public static RegistryException CsvRowError(IngestError error) => RegistryException.Invalid(error.Path, error.ToString());

    /// <summary>The id of a CSV row against the registry's rules; null when it is valid. <paramref name="noun"/> is "device" or "asset".</summary>
    public static RegistryException? CsvIdError(string? id, int line, string noun) =>
        DeviceValidation.IsValidId(id, out string? problem)
            ? null
            : CsvRowError(new IngestError(IngestErrorKind.Name, "id", line, problem!.Replace("device id", noun + " id", StringComparison.Ordinal)));

    /// <summary>The audit detail of a bulk request: "created 2, failed 1: d1, d2" (the audit log cuts a long list).</summary>
    public static string BulkDetail(int created, int failed, IEnumerable<string> createdIds) =>
        created == 0 ? $"created 0, failed {failed}" : $"created {created}, failed {failed}: {string.Join(", ", createdIds)}";

    /// <summary>The audit detail of a PATCH: the fields it sends, never their values ("fields name, tags").</summary>
    public static string ChangedFields(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object ? "fields " + string.Join(", ", root.EnumerateObject().Select(p => p.Name)) : "no fields";
}
