using Plexus.Storage.Schema;

namespace Plexus.Devices;

/// <summary>
/// Which tag of a measurement holds the device key, per namespace (option <c>--device-tag</c>): <c>device</c> by
/// default, so MQTT telemetry (stored with tag <c>device</c>) links at once; <c>fleet=name</c> makes the <c>name</c> tag
/// the key in namespace <c>fleet</c> (the TSBS trucks). Several entries are comma-separated:
/// <c>device,fleet=name,plant=machine</c>; an entry without <c>=</c> replaces the default.
/// </summary>
public sealed class DeviceTagMap
{
    public const string DefaultTag = "device";

    private readonly Dictionary<string, string> _byNamespace;

    private DeviceTagMap(string defaultTag, Dictionary<string, string> byNamespace)
    {
        Default = defaultTag;
        _byNamespace = byNamespace;
    }

    public static DeviceTagMap Standard { get; } = new(DefaultTag, new Dictionary<string, string>(StringComparer.Ordinal));

    public string Default { get; }

    public IReadOnlyDictionary<string, string> ByNamespace => _byNamespace;

    public string TagFor(string ns) => _byNamespace.TryGetValue(ns.ToLowerInvariant(), out string? tag) ? tag : Default;

    /// <summary>Parses the option's value; the exception names the entry at fault.</summary>
    public static DeviceTagMap Parse(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            return Standard;
        }

        string defaultTag = DefaultTag;
        var byNamespace = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = raw.IndexOf('=', StringComparison.Ordinal);
            string tag = (equals < 0 ? raw : raw[(equals + 1)..]).Trim();
            if (tag.Length is 0 or > DeviceValidation.MaxTagKeyLength)
            {
                throw new ArgumentException($"device-tag: \"{raw}\" needs a tag name of 1–{DeviceValidation.MaxTagKeyLength} characters, e.g. device or fleet=name");
            }

            if (equals < 0)
            {
                defaultTag = tag;
                continue;
            }

            if (!Namespaces.TryNormalize(raw[..equals].Trim(), out string ns, out string? error) || equals == 0)
            {
                throw new ArgumentException($"device-tag: \"{raw}\" is not namespace=tag: {error ?? "the namespace is missing"}");
            }

            byNamespace[ns] = tag;
        }

        return new DeviceTagMap(defaultTag, byNamespace);
    }

    public override string ToString() =>
        string.Join(',', _byNamespace.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}").Prepend(Default));
}
