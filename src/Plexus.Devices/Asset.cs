namespace Plexus.Devices;

/// <summary>
/// A place or grouping that devices belong to: a site, building, floor, room, a fleet or a truck. Assets form a tree
/// through <see cref="Parent"/> (another asset); devices hang from assets or from other devices.
/// </summary>
public sealed record Asset(
    string Id,
    string? Name,
    string? Type,
    IReadOnlyDictionary<string, string> Tags,
    string? Parent,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>What to create: the id is required, the rest optional.</summary>
public sealed record NewAsset(string Id, string? Name = null, string? Type = null, IReadOnlyDictionary<string, string>? Tags = null, string? Parent = null);

/// <summary>A partial change of an asset's metadata (<see cref="MetadataChanges"/>).</summary>
public sealed record AssetChanges : MetadataChanges;

/// <summary>A page of assets in id order and how many matched in all.</summary>
public sealed record AssetPage(IReadOnlyList<Asset> Assets, int Total);

/// <summary>The direct children of an asset.</summary>
public sealed record AssetChildren(IReadOnlyList<string> Assets, IReadOnlyList<string> Devices);

/// <summary>What removing an asset that has children does to them.</summary>
public enum AssetCascade
{
    /// <summary>Refuse while the asset has children.</summary>
    None,

    /// <summary>Clear the parent of the direct children (assets and devices); they stay registered.</summary>
    Detach,

    /// <summary>Remove every asset below as well; devices anywhere below are detached, never removed (their tokens stay valid).</summary>
    Delete,
}
