using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Storage.Schema;

namespace Plexus.Api.Auth;

/// <summary>
/// A scoped API token as listed: never its secret. <see cref="Namespaces"/> null means every namespace;
/// <see cref="Mqtt"/> null means the MQTT topics its scope allows.
/// </summary>
public sealed record ApiTokenInfo(string Name, ApiScope Scope, DateTimeOffset CreatedAt, IReadOnlyList<string>? Namespaces = null, MqttTopicRules? Mqtt = null);

/// <summary>A token just made: the secret is shown once and never stored.</summary>
public sealed record CreatedApiToken(ApiTokenInfo Info, string Token);

public sealed class ApiTokenException(string message, bool conflict = false, string? field = null) : Exception(message)
{
    public bool Conflict { get; } = conflict;

    public string? Field { get; } = field;
}

/// <summary>
/// Scoped API tokens (read, write, admin) kept as SHA-256 hashes in <c>&lt;data&gt;/api-tokens.json</c> (mode 0600),
/// like the admin token. The file is rewritten whole (<see cref="DurableFile"/>) on every change; tokens are few
/// and change rarely. In memory they are looked up by hash, so checking a request costs one SHA-256. A read or write
/// token may be limited to some namespaces; a file from before that was possible has no <c>namespaces</c> field,
/// which means every namespace.
/// </summary>
public sealed class ApiTokenStore
{
    public const string FileName = "api-tokens.json";
    public const string TokenPrefix = "plxa_";
    public const int MaxNameLength = 64;

    private readonly Lock _lock = new();
    private readonly TimeProvider _time;

    // Replaced whole on each change, so readers need no lock.
    private volatile Dictionary<string, Entry> _byHash = new(StringComparer.Ordinal);

    private ApiTokenStore(string path, TimeProvider time)
    {
        Path = path;
        _time = time;
    }

    public string Path { get; }

    /// <summary>Called with a token's name after it was revoked (outside the lock): the server closes its MQTT connections.</summary>
    public Action<string>? TokenRevoked { get; set; }

    public static ApiTokenStore Open(string dataDirectory, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        var store = new ApiTokenStore(System.IO.Path.Combine(dataDirectory, FileName), time ?? TimeProvider.System);
        if (File.Exists(store.Path))
        {
            store._byHash = Load(store.Path);
        }

        return store;
    }

    /// <summary>Checks a name: 1–64 letters, digits, <c>_ - .</c>; <c>admin</c> is the admin token's.</summary>
    public static bool IsValidName(string? name, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(name))
        {
            problem = "the token name is required";
        }
        else if (name.Length > MaxNameLength)
        {
            problem = $"the token name is {name.Length} characters; at most {MaxNameLength} are allowed";
        }
        else if (name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
        {
            problem = $"the token name \"{name}\" holds '{name.First(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))}'; use letters, digits, '_', '-' and '.' only";
        }
        else if (string.Equals(name, ApiPrincipal.AdminTokenName, StringComparison.OrdinalIgnoreCase))
        {
            problem = "the name \"admin\" is the admin token's (set it with --admin-token); choose another name";
        }

        return problem is null;
    }

    /// <param name="namespaces">The namespaces the token may write to (and read, once SQL honours it); null for every one.</param>
    /// <param name="mqtt">The MQTT topic filters it is limited to (<see cref="MqttTopicRules.Create"/>); null for its scope's topics.</param>
    public CreatedApiToken Create(string name, ApiScope scope, IReadOnlyList<string>? namespaces = null, MqttTopicRules? mqtt = null)
    {
        if (!IsValidName(name, out string? problem))
        {
            throw new ApiTokenException(problem!, field: "name");
        }

        if (scope is not (ApiScope.Read or ApiScope.Write or ApiScope.Admin))
        {
            throw new ApiTokenException("scope must be read, write or admin", field: "scope");
        }

        namespaces = namespaces is null ? null : CheckNamespaces(namespaces, scope);
        CheckTopicRules(mqtt, scope);

        string token = TokenPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var now = _time.GetUtcNow();
        var info = new ApiTokenInfo(name, scope, new DateTimeOffset(now.Ticks - (now.Ticks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero), namespaces, mqtt);
        lock (_lock)
        {
            if (_byHash.Values.Any(e => string.Equals(e.Info.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ApiTokenException($"a token named \"{name}\" exists; revoke it first or choose another name", conflict: true, field: "name");
            }

            var next = new Dictionary<string, Entry>(_byHash, StringComparer.Ordinal) { [HashHex(token)] = new Entry(info) };
            Save(next);
            _byHash = next;
        }

        return new CreatedApiToken(info, token);
    }

    /// <summary>
    /// The namespaces of a limited token, normalized like a write's <c>db</c>/<c>bucket</c> (lower case), without
    /// repeats. An admin token cannot be limited: it manages the tokens, so it could lift its own limit.
    /// </summary>
    public static IReadOnlyList<string> CheckNamespaces(IReadOnlyList<string> namespaces, ApiScope scope)
    {
        ArgumentNullException.ThrowIfNull(namespaces);
        if (scope == ApiScope.Admin)
        {
            throw new ApiTokenException("a token with scope admin cannot be limited to namespaces: it manages the tokens and so could lift its own limit; give scope read or write, or leave namespaces out", field: "namespaces");
        }

        if (namespaces.Count == 0)
        {
            throw new ApiTokenException("namespaces is empty; name at least one namespace, or leave the field out for every namespace", field: "namespaces");
        }

        var checkedNames = new List<string>(namespaces.Count);
        foreach (string? requested in namespaces)
        {
            if (string.IsNullOrEmpty(requested))
            {
                throw new ApiTokenException("namespaces: an empty name is not a namespace", field: "namespaces");
            }

            // A write's "db/rp" drops the retention policy; a token's namespace is a plain name.
            if (requested.Contains('/', StringComparison.Ordinal))
            {
                throw new ApiTokenException($"namespaces: \"{requested}\" is not a namespace name; use letters, digits, '_' and '-'", field: "namespaces");
            }

            if (!Namespaces.TryNormalize(requested, out string ns, out string? problem))
            {
                throw new ApiTokenException("namespaces: " + problem, field: "namespaces");
            }

            if (!checkedNames.Contains(ns, StringComparer.Ordinal))
            {
                checkedNames.Add(ns);
            }
        }

        return checkedNames;
    }

    /// <summary>
    /// Topic rules fit the scope: an admin token cannot be limited (it manages the tokens and so could lift the
    /// limit), and publish filters on a read token would suggest a right it does not have.
    /// </summary>
    public static void CheckTopicRules(MqttTopicRules? mqtt, ApiScope scope)
    {
        if (mqtt is null)
        {
            return;
        }

        if (scope == ApiScope.Admin)
        {
            throw new ApiTokenException("a token with scope admin cannot be limited to MQTT topics: it manages the tokens and so could lift its own limit; give scope read or write, or leave the mqtt field out", field: "mqtt");
        }

        if (scope == ApiScope.Read && mqtt.Publish.Count > 0)
        {
            throw new ApiTokenException("mqtt.publish: a token with scope read may not publish at all; give scope write, or leave the publish filters out", field: "mqtt");
        }
    }

    public IReadOnlyList<ApiTokenInfo> List() => [.. _byHash.Values.Select(e => e.Info).OrderBy(i => i.Name, StringComparer.Ordinal)];

    /// <summary>Revokes a token by name; it stops working at once. False when there is none.</summary>
    public bool Revoke(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ApiTokenInfo? revoked = null;
        lock (_lock)
        {
            var next = new Dictionary<string, Entry>(StringComparer.Ordinal);
            foreach (var (hash, entry) in _byHash)
            {
                if (string.Equals(entry.Info.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    revoked = entry.Info;
                    continue;
                }

                next[hash] = entry;
            }

            if (revoked is null)
            {
                return false;
            }

            Save(next);
            _byHash = next;
        }

        TokenRevoked?.Invoke(revoked.Name);
        return true;
    }

    /// <summary>The token with this secret, or null.</summary>
    public ApiTokenInfo? Find(ReadOnlySpan<char> token)
    {
        // Only our own format can match; other secrets (device tokens, the admin token) skip the hash.
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 256 || _byHash.Count == 0)
        {
            return null;
        }

        return _byHash.GetValueOrDefault(HashHex(token))?.Info;
    }

    private static string HashHex(ReadOnlySpan<char> token)
    {
        Span<byte> utf8 = stackalloc byte[Encoding.UTF8.GetMaxByteCount(token.Length)];
        int length = Encoding.UTF8.GetBytes(token, utf8);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(utf8[..length], hash);
        return Convert.ToHexStringLower(hash);
    }

    private static Dictionary<string, Entry> Load(string path)
    {
        var tokens = new Dictionary<string, Entry>(StringComparer.Ordinal);
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            foreach (var item in document.RootElement.GetProperty("tokens").EnumerateArray())
            {
                string name = item.GetProperty("name").GetString()!;
                if (!ApiScopes.TryParse(item.GetProperty("scope").GetString(), out var scope))
                {
                    throw new FormatException($"token \"{name}\" has an unknown scope");
                }

                string hash = item.GetProperty("hash").GetString()!.ToLowerInvariant();
                IReadOnlyList<string>? namespaces = null;
                if (item.TryGetProperty("namespaces", out var list))
                {
                    namespaces = CheckNamespaces([.. list.EnumerateArray().Select(n => n.GetString()!)], scope);
                }

                MqttTopicRules? mqtt = null;
                if (item.TryGetProperty("mqtt", out var rules))
                {
                    mqtt = ReadTopicRules(rules);
                    CheckTopicRules(mqtt, scope);
                }

                tokens[hash] = new Entry(new ApiTokenInfo(name, scope, item.GetProperty("created_at").GetDateTimeOffset(), namespaces, mqtt));
            }
        }
        catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or ApiTokenException or ArgumentException)
        {
            throw new InvalidOperationException($"The API token file {path} is damaged ({error.Message}); restore it from a backup, or delete it to revoke every scoped token.", error);
        }

        return tokens;
    }

    private void Save(Dictionary<string, Entry> tokens)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("tokens");
            foreach (var (hash, entry) in tokens.OrderBy(t => t.Value.Info.Name, StringComparer.Ordinal))
            {
                json.WriteStartObject();
                json.WriteString("name", entry.Info.Name);
                json.WriteString("scope", ApiScopes.Name(entry.Info.Scope));
                json.WriteString("hash", hash);
                json.WriteString("created_at", entry.Info.CreatedAt);
                if (entry.Info.Namespaces is { } namespaces)
                {
                    json.WriteStartArray("namespaces");
                    foreach (string ns in namespaces)
                    {
                        json.WriteStringValue(ns);
                    }

                    json.WriteEndArray();
                }

                if (entry.Info.Mqtt is { } mqtt)
                {
                    json.WritePropertyName("mqtt");
                    WriteTopicRules(json, mqtt);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        DurableFile.Replace(Path, buffer.WrittenSpan);
    }

    /// <summary>The four lists as <c>{"subscribe": [...], "publish": [...], "deny_subscribe": [...], "deny_publish": [...]}</c>, as the file and the HTTP API have them.</summary>
    public static void WriteTopicRules(Utf8JsonWriter json, MqttTopicRules rules)
    {
        ArgumentNullException.ThrowIfNull(json);
        ArgumentNullException.ThrowIfNull(rules);
        json.WriteStartObject();
        foreach (var (field, filters) in new[] { ("subscribe", rules.Subscribe), ("publish", rules.Publish), ("deny_subscribe", rules.DenySubscribe), ("deny_publish", rules.DenyPublish) })
        {
            json.WriteStartArray(field);
            foreach (string filter in filters)
            {
                json.WriteStringValue(filter);
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    /// <summary>
    /// Reads what <see cref="WriteTopicRules"/> writes; a missing list is empty. Throws <see cref="ApiTokenException"/>
    /// naming the field for anything else than arrays of strings, an unknown list or an invalid filter.
    /// </summary>
    public static MqttTopicRules? ReadTopicRules(JsonElement rules)
    {
        if (rules.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        const string Shape = "mqtt must be an object like {\"subscribe\": [\"devices/+/telemetry\"], \"deny_subscribe\": [\"devices/secret/#\"]} with the lists subscribe, publish, deny_subscribe and deny_publish";
        if (rules.ValueKind != JsonValueKind.Object)
        {
            throw new ApiTokenException(Shape, field: "mqtt");
        }

        var lists = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var list in rules.EnumerateObject())
        {
            if (list.Name is not ("subscribe" or "publish" or "deny_subscribe" or "deny_publish")
                || list.Value.ValueKind != JsonValueKind.Array
                || list.Value.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
            {
                throw new ApiTokenException($"mqtt.{list.Name}: " + Shape, field: "mqtt");
            }

            lists[list.Name] = [.. list.Value.EnumerateArray().Select(item => item.GetString()!)];
        }

        try
        {
            return MqttTopicRules.Create(lists.GetValueOrDefault("subscribe"), lists.GetValueOrDefault("publish"), lists.GetValueOrDefault("deny_subscribe"), lists.GetValueOrDefault("deny_publish"), "mqtt.");
        }
        catch (ArgumentException error)
        {
            throw new ApiTokenException(error.Message, field: "mqtt");
        }
    }

    private sealed record Entry(ApiTokenInfo Info);
}
