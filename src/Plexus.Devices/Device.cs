namespace Plexus.Devices;

/// <summary>
/// A registered device: its metadata, never its token (only the token's hash is stored). <see cref="Measurements"/>
/// is its allow-list: null lets it write any measurement of <c>main</c> but the reserved ones.
/// </summary>
public sealed record Device(
    string Id,
    string? Name,
    string? Type,
    IReadOnlyDictionary<string, string> Tags,
    string? Parent,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<string>? Measurements = null);

/// <summary>A device as registered, with the token that is shown once and never stored.</summary>
public sealed record RegisteredDevice(Device Device, string Token);

/// <summary>What to register: the id is required, the rest optional.</summary>
public sealed record NewDevice(string Id, string? Name = null, string? Type = null, IReadOnlyDictionary<string, string>? Tags = null, string? Parent = null, IReadOnlyList<string>? Measurements = null);

/// <summary>
/// A partial change of the metadata devices and assets share (HTTP PATCH): only the properties that are <c>Set</c>
/// change; a set null clears.
/// </summary>
public abstract record MetadataChanges
{
    public bool NameSet { get; init; }

    public string? Name { get; init; }

    public bool TypeSet { get; init; }

    public string? Type { get; init; }

    public bool TagsSet { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    public bool ParentSet { get; init; }

    public string? Parent { get; init; }
}

/// <summary>A partial change of a device: its metadata and its measurement allow-list.</summary>
public sealed record DeviceChanges : MetadataChanges
{
    public bool MeasurementsSet { get; init; }

    /// <summary>The new allow-list; a set null lets the device write any measurement again.</summary>
    public IReadOnlyList<string>? Measurements { get; init; }
}

/// <summary>A page of devices in id order and how many matched in all.</summary>
public sealed record DevicePage(IReadOnlyList<Device> Devices, int Total);
