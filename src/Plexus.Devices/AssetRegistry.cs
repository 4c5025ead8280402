using Plexus.Core;
using Plexus.Storage;
using static Plexus.Devices.RegistryFields;

namespace Plexus.Devices;

/// <summary>
/// Assets: the sites, buildings, floors, rooms, fleets and trucks that devices belong to, in
/// <c>_plexus.assets</c> with their metadata history in <c>_plexus.asset_history</c>, shown in SQL as
/// <c>main.assets</c> with the ancestry views of <see cref="RelationsSql"/>.
/// </summary>
/// <remarks>
/// Design note: assets live beside the device registry (same project, same lock, one id space) because the two
/// validate each other: a device's parent may be an asset, an asset with devices under it cannot just vanish, and a
/// parent id must name exactly one thing. Assets only hang from assets, so a cycle can only run through assets or
/// only through devices, and each registry checks its own. Like devices, assets are kept in memory too (a sorted map),
/// so listing and parent checks do not query the database.
/// </remarks>
public sealed class AssetRegistry : IDisposable
{
    public const string TableName = "_plexus.assets";

    private readonly MetadataConnection _connection;
    private readonly DeviceRegistry _devices;
    private readonly TimeProvider _time;
    private readonly SortedDictionary<string, Asset> _assets = new(StringComparer.Ordinal);
    private int _disposed;

    private AssetRegistry(MetadataConnection connection, DeviceRegistry devices, TimeProvider time)
    {
        _connection = connection;
        _devices = devices;
        _time = time;
    }

    private Lock SyncRoot => _devices.SyncRoot;

    public int Count
    {
        get
        {
            lock (SyncRoot)
            {
                return _assets.Count;
            }
        }
    }

    /// <summary>Creates the tables and SQL views if needed, loads the assets and links them to the device registry.</summary>
    public static AssetRegistry Open(PlexusStore store, DeviceRegistry devices, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(devices);
        var connection = store.OpenMetadataConnection();
        try
        {
            var registry = new AssetRegistry(connection, devices, time ?? TimeProvider.System);
            registry.EnsureCreated();
            registry.Load();
            lock (devices.SyncRoot)
            {
                devices.Assets = registry;
            }

            return registry;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public Asset? Get(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (SyncRoot)
        {
            return _assets.GetValueOrDefault(id);
        }
    }

    public AssetChildren Children(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (SyncRoot)
        {
            return new AssetChildren(ChildAssetsUnlocked(id), _devices.ChildrenOfUnlocked(id));
        }
    }

    /// <summary>Assets in id order matching every filter given, paged; <c>Total</c> counts all matches.</summary>
    public AssetPage List(string? type = null, IReadOnlyList<KeyValuePair<string, string>>? tags = null, string? parent = null, int limit = 100, int offset = 0)
    {
        if (limit < 0)
        {
            throw RegistryException.Invalid("limit", "limit must be 0 or more");
        }

        if (offset < 0)
        {
            throw RegistryException.Invalid("offset", "offset must be 0 or more");
        }

        var page = new List<Asset>(Math.Min(limit, 1000));
        int total = 0;
        lock (SyncRoot)
        {
            foreach (var asset in _assets.Values)
            {
                if ((type is not null && !string.Equals(asset.Type, type, StringComparison.Ordinal)) ||
                    (parent is not null && !string.Equals(asset.Parent, parent, StringComparison.Ordinal)) ||
                    (tags is not null && !HasAll(asset.Tags, tags)))
                {
                    continue;
                }

                if (total >= offset && page.Count < limit)
                {
                    page.Add(asset);
                }

                total++;
            }
        }

        return new AssetPage(page, total);
    }

    public Asset Add(NewAsset asset)
    {
        ArgumentNullException.ThrowIfNull(asset);
        RequireId(asset.Id, "id");
        DeviceValidation.CheckMetadata(asset.Name, asset.Type, asset.Tags);
        lock (SyncRoot)
        {
            ThrowIfDisposed();
            if (_assets.ContainsKey(asset.Id))
            {
                throw RegistryException.Conflict("id", $"an asset \"{asset.Id}\" already exists; update or remove it");
            }

            if (_devices.ContainsUnlocked(asset.Id))
            {
                throw RegistryException.Conflict("id", $"a device \"{asset.Id}\" is registered; devices and assets share one id space, choose another id");
            }

            CheckParent(asset.Id, asset.Parent);
            var now = Now(null);
            var created = new Asset(asset.Id, asset.Name, asset.Type, Copy(asset.Tags), asset.Parent, now, now);
            _connection.InTransaction(() =>
            {
                _connection.Execute(
                    $"INSERT INTO {TableName} (id, name, type, tags, parent, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    created.Id, created.Name, created.Type, TagsJson(created.Tags), created.Parent, now.UtcDateTime, now.UtcDateTime);
                RecordHistory(created);
            });
            _assets.Add(created.Id, created);
            return created;
        }
    }

    public Asset Update(string id, AssetChanges changes)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(changes);
        DeviceValidation.CheckChanges(changes.NameSet, changes.Name, changes.TypeSet, changes.Type, changes.TagsSet, changes.Tags);

        lock (SyncRoot)
        {
            ThrowIfDisposed();
            var existing = _assets.GetValueOrDefault(id) ?? throw NotFound(id);
            if (changes.ParentSet)
            {
                CheckParent(id, changes.Parent);
            }

            var updated = existing with
            {
                Name = changes.NameSet ? changes.Name : existing.Name,
                Type = changes.TypeSet ? changes.Type : existing.Type,
                Tags = changes.TagsSet ? Copy(changes.Tags) : existing.Tags,
                Parent = changes.ParentSet ? changes.Parent : existing.Parent,
                UpdatedAt = Now(existing.UpdatedAt),
            };
            Store(updated);
            return updated;
        }
    }

    /// <summary>
    /// Removes an asset. With children it is refused (<see cref="RegistryErrorKind.Conflict"/>) unless
    /// <paramref name="cascade"/> says what becomes of them. False when no such asset.
    /// </summary>
    public bool Remove(string id, AssetCascade cascade = AssetCascade.None)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (SyncRoot)
        {
            ThrowIfDisposed();
            if (!_assets.TryGetValue(id, out var removed))
            {
                return false;
            }

            var childAssets = ChildAssetsUnlocked(id);
            var childDevices = _devices.ChildrenOfUnlocked(id);
            if (cascade == AssetCascade.None && (childAssets.Count > 0 || childDevices.Count > 0))
            {
                throw RegistryException.Conflict("id",
                    $"asset \"{id}\" has {childAssets.Count} child asset(s) and {childDevices.Count} device(s) under it (e.g. \"{childAssets.Concat(childDevices).First()}\"); " +
                    "move or remove them first, or remove with cascade=detach (children lose their parent) or cascade=delete (assets below are removed, devices detached)");
            }

            foreach (string device in childDevices)
            {
                _devices.Update(device, new DeviceChanges { ParentSet = true, Parent = null });
            }

            foreach (string child in childAssets)
            {
                if (cascade == AssetCascade.Delete)
                {
                    Remove(child, AssetCascade.Delete);
                }
                else
                {
                    var asset = _assets[child];
                    Store(asset with { Parent = null, UpdatedAt = Now(asset.UpdatedAt) });
                }
            }

            _connection.InTransaction(() =>
            {
                _connection.Execute($"DELETE FROM {TableName} WHERE id = $1", id);
                RegistryHistory.Close(_connection, RegistryHistory.AssetTable, id, Now(removed.UpdatedAt).UtcDateTime);
            });
            _assets.Remove(id);
            return true;
        }
    }

    public void Dispose()
    {
        lock (SyncRoot)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                if (ReferenceEquals(_devices.Assets, this))
                {
                    _devices.Assets = null;
                }

                _connection.Dispose();
            }
        }
    }

    internal bool ContainsUnlocked(string id) => _assets.ContainsKey(id);

    /// <summary>The id rules of devices (one id space), with messages that say "asset".</summary>
    internal static void RequireId(string? id, string field)
    {
        if (!DeviceValidation.IsValidId(id, out string? problem))
        {
            problem = problem!.Replace("device id", "asset id", StringComparison.Ordinal);
            throw RegistryException.Invalid(field, field == "id" ? problem : $"{field}: {problem}");
        }
    }

    private List<string> ChildAssetsUnlocked(string id) =>
        [.. _assets.Values.Where(a => string.Equals(a.Parent, id, StringComparison.Ordinal)).Select(a => a.Id)];

    private void Store(Asset updated)
    {
        _connection.InTransaction(() =>
        {
            _connection.Execute(
                $"UPDATE {TableName} SET name = $2, type = $3, tags = $4, parent = $5, updated_at = $6 WHERE id = $1",
                updated.Id, updated.Name, updated.Type, TagsJson(updated.Tags), updated.Parent, updated.UpdatedAt.UtcDateTime);
            RecordHistory(updated);
        });
        _assets[updated.Id] = updated;
    }

    private void RecordHistory(Asset asset) =>
        RegistryHistory.Record(_connection, RegistryHistory.AssetTable, asset.Id, asset.Name, asset.Type, TagsJson(asset.Tags), asset.Parent, asset.UpdatedAt.UtcDateTime);

    private void CheckParent(string id, string? parent)
    {
        if (parent is null)
        {
            return;
        }

        RequireId(parent, "parent");
        if (string.Equals(parent, id, StringComparison.Ordinal))
        {
            throw RegistryException.Invalid("parent", "an asset cannot be its own parent");
        }

        if (!_assets.TryGetValue(parent, out var parentAsset))
        {
            throw RegistryException.Invalid("parent", _devices.ContainsUnlocked(parent)
                ? $"parent \"{parent}\" is a device; an asset's parent must be another asset"
                : $"parent \"{parent}\" is not an asset; create it first");
        }

        RegistryFields.CheckNoCycle(id, parent, parentAsset, _assets, a => a.Parent);
    }

    private void EnsureCreated()
    {
        _connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {TableName} (
                id VARCHAR PRIMARY KEY,
                name VARCHAR,
                type VARCHAR,
                tags VARCHAR NOT NULL,
                parent VARCHAR,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL)
            """);
        _connection.Execute(RegistryHistory.CreateSql(RegistryHistory.AssetTable));
        _connection.Execute(RegistryHistory.BackfillSql(RegistryHistory.AssetTable, TableName));
        RelationsSql.Create(_connection);
    }

    private void Load()
    {
        _connection.Query($"SELECT id, name, type, tags, parent, created_at, updated_at FROM {TableName}", reader =>
        {
            string id = reader.GetString(0);
            _assets[id] = new Asset(
                id,
                reader.IsDBNull(1) ? null : reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetString(2),
                ParseTags(reader.GetString(3)),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                AsUtc(reader.GetDateTime(5)),
                AsUtc(reader.GetDateTime(6)));
        });
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private DateTimeOffset Now(DateTimeOffset? notBefore) => RegistryFields.Now(_time, notBefore);

    /// <summary>The answer to an id no asset has.</summary>
    public static RegistryException NotFound(string id) => RegistryException.NotFound("id", $"no asset \"{id}\" exists");
}
