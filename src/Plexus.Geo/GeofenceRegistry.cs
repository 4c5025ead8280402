using System.Text.Json;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Geo;

/// <summary>A named geofence: its shape, the Feature's properties (JSON text) and when it was made and changed.</summary>
public sealed record Geofence(string Name, GeoShape Shape, string PropertiesJson, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public string Kind => Shape is GeoCircle ? "circle" : "polygon";
}

/// <summary>
/// Named geofences: rows of <c>_plexus.geofences</c>, shown in SQL as <c>main.geofences</c> and used
/// by <c>inside_geofence(lat, lon, name)</c>. The table is the truth; a copy in memory answers the API.
/// </summary>
public sealed class GeofenceRegistry : IDisposable
{
    public const int MaxNameLength = 128;
    public const int MaxGeofences = 10_000;

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, Geofence> _fences = new(StringComparer.Ordinal);
    private volatile Dictionary<string, GeoShape> _shapes = new(StringComparer.Ordinal);
    private int _disposed;

    private GeofenceRegistry(MetadataConnection connection, TimeProvider time)
    {
        _connection = connection;
        _time = time;
    }

    /// <summary>Installs the geo SQL objects (<see cref="GeoSql.Install"/>) and loads the geofences.</summary>
    public static GeofenceRegistry Open(PlexusStore store, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            var registry = new GeofenceRegistry(connection, time ?? TimeProvider.System);
            GeoSql.Install(connection, registry.ShapeOf);
            registry.Load();
            return registry;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The shape of a geofence, for SQL's <c>inside_geofence</c>: read lock-free from a snapshot replaced on every
    /// change, because it is called for every row a query tests.
    /// </summary>
    public GeoShape? ShapeOf(string name) => _shapes.GetValueOrDefault(name);

    public IReadOnlyList<Geofence> List()
    {
        lock (_lock)
        {
            return [.. _fences.Values];
        }
    }

    public Geofence? Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            return _fences.GetValueOrDefault(name);
        }
    }

    /// <summary>Adds a new geofence; a name already taken is a conflict.</summary>
    public Geofence Add(string name, GeofenceFeature feature) => Save(name, feature, replace: false).Fence;

    /// <summary>Creates or replaces the geofence <paramref name="name"/>; <c>Created</c> says which.</summary>
    public (Geofence Fence, bool Created) Put(string name, GeofenceFeature feature) => Save(name, feature, replace: true);

    public bool Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_fences.ContainsKey(name))
            {
                return false;
            }

            _connection.Execute($"DELETE FROM {GeoSql.GeofenceTable} WHERE name = $1", name);
            _fences.Remove(name);
            PublishShapes();
            return true;
        }
    }

    public static void CheckName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw RegistryException.Invalid("name", "a geofence needs a name: properties.name (or the Feature's id), e.g. \"depot-7\"");
        }

        if (name.Length > MaxNameLength)
        {
            throw RegistryException.Invalid("name", $"the name is {name.Length} characters; at most {MaxNameLength}");
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':'))
            {
                throw RegistryException.Invalid("name", $"\"{name}\" has '{c}'; a geofence name is 1–{MaxNameLength} letters, digits, '_', '-', '.', ':'");
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _connection.Dispose();
            }
        }
    }

    private (Geofence Fence, bool Created) Save(string name, GeofenceFeature feature, bool replace)
    {
        ArgumentNullException.ThrowIfNull(feature);
        CheckName(name);
        if (feature.Name is not null && !string.Equals(feature.Name, name, StringComparison.Ordinal))
        {
            throw RegistryException.Invalid("name", $"the Feature is named \"{feature.Name}\" but the request is for \"{name}\"; make them agree or leave properties.name out");
        }

        var shape = feature.Shape;
        var circle = shape as GeoCircle;
        lock (_lock)
        {
            ThrowIfDisposed();
            var existing = _fences.GetValueOrDefault(name);
            if (existing is not null && !replace)
            {
                throw RegistryException.Conflict("name", $"a geofence \"{name}\" already exists; replace it with PUT /api/v1/geofences/{name} or remove it first");
            }

            if (existing is null && _fences.Count >= MaxGeofences)
            {
                throw RegistryException.Invalid("name", $"there are already {MaxGeofences} geofences, the most one server keeps; remove some first");
            }

            var now = Now();
            var fence = new Geofence(name, shape, feature.PropertiesJson, existing?.CreatedAt ?? now, now);
            _connection.Execute(
                $"INSERT OR REPLACE INTO {GeoSql.GeofenceTable} (name, kind, geometry, properties, center_lat, center_lon, radius_m, min_lat, min_lon, max_lat, max_lon, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                name, fence.Kind, GeoJson.GeometryText(shape), feature.PropertiesJson, circle?.Lat, circle?.Lon, circle?.RadiusM,
                shape.MinLat, shape.MinLon, shape.MaxLat, shape.MaxLon, fence.CreatedAt.UtcDateTime, fence.UpdatedAt.UtcDateTime);
            _fences[name] = fence;
            PublishShapes();
            return (fence, existing is null);
        }
    }

    private void Load()
    {
        _connection.Query($"SELECT name, kind, geometry, properties, center_lat, center_lon, radius_m, created_at, updated_at FROM {GeoSql.GeofenceTable}", reader =>
        {
            string name = reader.GetString(0);
            GeoShape shape = reader.GetString(1) == "circle"
                ? new GeoCircle(reader.GetDouble(4), reader.GetDouble(5), reader.GetDouble(6))
                : ParseStored(reader.GetString(2));
            _fences[name] = new Geofence(name, shape, reader.GetString(3), AsUtc(reader.GetDateTime(7)), AsUtc(reader.GetDateTime(8)));
        });

        PublishShapes();
    }

    private void PublishShapes() => _shapes = _fences.ToDictionary(f => f.Key, f => f.Value.Shape, StringComparer.Ordinal);

    private static GeoShape ParseStored(string geometry)
    {
        using var document = JsonDocument.Parse(geometry);
        return GeoJson.ParseGeometry(document.RootElement, "$");
    }

    private DateTimeOffset Now()
    {
        // Stored as TIMESTAMP (microseconds); trimming here keeps the API's answer equal to what is read back.
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);
    }

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    /// <summary>The answer to a name no geofence has.</summary>
    public static RegistryException NotFound(string name) => RegistryException.NotFound("name", $"no geofence \"{name}\"");

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
