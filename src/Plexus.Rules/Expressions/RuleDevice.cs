using System.Text;
using Plexus.Devices;

namespace Plexus.Rules.Expressions;

/// <summary>Live facts of devices that rules read: reported properties and the last position.</summary>
public interface IRuleStateSource
{
    bool TryGetReported(string device, string property, out ReportedKind kind, out string value, out double? number);

    bool TryGetPosition(string device, out double lat, out double lon);
}

/// <summary>
/// What a rule can know about a point's device: its registry entry (<c>device.id</c>, <c>device.name</c>,
/// <c>device.type</c>, <c>device.asset</c>, and every tag as <c>device.&lt;tag&gt;</c>), its live reported properties
/// (<c>state.&lt;name&gt;</c>) and last position (<c>position.lat</c>, <c>position.lon</c>). The registry's text is
/// encoded once per device; a reported text value once per change.
/// </summary>
public sealed class RuleDevice
{
    private readonly byte[] _id;
    private readonly byte[]? _name;
    private readonly byte[]? _type;
    private readonly byte[]? _asset;
    private readonly Dictionary<string, byte[]> _tags;
    private readonly IRuleStateSource? _state;
    private readonly Dictionary<string, (string Text, byte[] Bytes)> _reportedText = new(StringComparer.Ordinal);

    public RuleDevice(string id, Device? registered, IRuleStateSource? state)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        Id = id;
        Registered = registered;
        _id = Encoding.UTF8.GetBytes(id);
        _name = Utf8(registered?.Name);
        _type = Utf8(registered?.Type);
        _asset = Utf8(registered?.Parent);
        _tags = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in registered?.Tags ?? new Dictionary<string, string>())
        {
            _tags[key] = Encoding.UTF8.GetBytes(value);
        }

        _state = state;
    }

    public string Id { get; }

    /// <summary>The registry entry the facts were taken from; null for a device that is not registered.</summary>
    public Device? Registered { get; }

    /// <summary>The registry attributes a rule names directly; any other <c>device.x</c> is the tag <c>x</c>.</summary>
    public static readonly IReadOnlySet<string> Attributes = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "id", "name", "type", "asset", "parent" };

    internal RuleValue Attribute(DeviceAttribute attribute) => attribute switch
    {
        DeviceAttribute.Id => RuleValue.OfText(_id),
        DeviceAttribute.Name => Text(_name),
        DeviceAttribute.Type => Text(_type),
        _ => Text(_asset),
    };

    internal static DeviceAttribute AttributeOf(string name) => name.ToUpperInvariant() switch
    {
        "ID" => DeviceAttribute.Id,
        "NAME" => DeviceAttribute.Name,
        "TYPE" => DeviceAttribute.Type,
        _ => DeviceAttribute.Asset,
    };

    internal RuleValue Tag(string tag) => Text(_tags.GetValueOrDefault(tag));

    internal RuleValue Reported(string property)
    {
        if (_state is null || !_state.TryGetReported(Id, property, out var kind, out string text, out double? number))
        {
            return RuleValue.Null;
        }

        switch (kind)
        {
            case ReportedKind.Null:
                return RuleValue.Null;
            case ReportedKind.Number when number is { } value:
                return RuleValue.Of(value);
            case ReportedKind.Boolean:
                return RuleValue.Of(string.Equals(text, "true", StringComparison.OrdinalIgnoreCase));
        }

        if (!_reportedText.TryGetValue(property, out var cached) || !ReferenceEquals(cached.Text, text))
        {
            cached = (text, Encoding.UTF8.GetBytes(text));
            _reportedText[property] = cached;
        }

        return RuleValue.OfText(cached.Bytes);
    }

    internal RuleValue Position(bool latitude) =>
        _state is not null && _state.TryGetPosition(Id, out double lat, out double lon) ? RuleValue.Of(latitude ? lat : lon) : RuleValue.Null;

    private static RuleValue Text(byte[]? bytes) => bytes is null ? RuleValue.Null : RuleValue.OfText(bytes);

    private static byte[]? Utf8(string? text) => text is null ? null : Encoding.UTF8.GetBytes(text);
}

internal enum DeviceAttribute
{
    Id,
    Name,
    Type,
    Asset,
}
