using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Geo;

namespace Plexus.Api.Endpoints;

/// <summary>Named geofences over HTTP, GeoJSON in and out (docs/geo.md#geofences).</summary>
internal static class GeofencesEndpoints
{
    /// <summary>Largest request body: GeoJSON of <see cref="GeoJson.MaxPositions"/> positions fits well within it.</summary>
    private const int MaxBodyBytes = 16 * 1024 * 1024;

    private const string Example = """{"type": "Feature", "properties": {"name": "depot-7"}, "geometry": {"type": "Polygon", "coordinates": [[[4.30, 52.10], [4.32, 52.10], [4.32, 52.12], [4.30, 52.10]]]}}""";

    private static readonly RegistryRoute<GeofenceRegistry> Route = new(context => context.Geofences, "geofences are", "name", GeofenceRegistry.NotFound);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/geofences", AuditTrail.Audited(context, "geofence.add", "geofence", null, RegistryEndpoints.Change(Route, context, ReadFeatureAsync, AddAsync)));
        endpoints.MapGet("/api/v1/geofences", RegistryEndpoints.Run(Route, context, ApiScope.Read, ListAsync));
        endpoints.MapGet("/api/v1/geofences/{name}", RegistryEndpoints.Show(Route, context, (registry, name) => registry.Get(name), (http, _, fence) => WriteAsync(http, StatusCodes.Status200OK, json => WriteFeature(json, fence))));
        endpoints.MapPut("/api/v1/geofences/{name}", AuditTrail.Audited(context, "geofence.put", "geofence", "name", RegistryEndpoints.Change(Route, context, ReadFeatureAsync, PutAsync)));
        endpoints.MapDelete("/api/v1/geofences/{name}", AuditTrail.Audited(context, "geofence.remove", "geofence", "name", RegistryEndpoints.Remove(Route, context, (_, registry, name) => registry.Remove(name))));
    }

    private static Task AddAsync(HttpContext http, GeofenceRegistry registry, GeofenceFeature feature)
    {
        AuditTrail.Target(http, feature.Name);
        var fence = registry.Add(feature.Name ?? string.Empty, feature);
        http.Response.Headers.Location = "/api/v1/geofences/" + Uri.EscapeDataString(fence.Name);
        return WriteAsync(http, StatusCodes.Status201Created, json => WriteFeature(json, fence));
    }

    private static Task PutAsync(HttpContext http, GeofenceRegistry registry, GeofenceFeature feature)
    {
        var (fence, created) = registry.Put(Route.KeyOf(http), feature);
        AuditTrail.Detail(http, created ? "created" : "replaced");
        return WriteAsync(http, created ? StatusCodes.Status201Created : StatusCodes.Status200OK, json => WriteFeature(json, fence));
    }

    private static Task ListAsync(HttpContext http, GeofenceRegistry registry)
    {
        var fences = registry.List();
        return WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("type", "FeatureCollection");
            json.WriteStartArray("features");
            foreach (var fence in fences)
            {
                WriteFeature(json, fence);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static async Task<GeofenceFeature?> ReadFeatureAsync(HttpContext http)
    {
        if (await JsonBodies.ReadBoundedAsync(http, MaxBodyBytes, $"a geofence may be at most {MaxBodyBytes / (1024 * 1024)} MB of GeoJSON; simplify the shape") is not { } body)
        {
            return null;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"the body must be a GeoJSON Feature like {Example}: {error.Message}");
            return null;
        }

        using (document)
        {
            try
            {
                return GeoJson.ParseFeature(document.RootElement);
            }
            catch (GeoJsonException error)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", error.Message, extra: error.Path is null ? null : json => json.WriteString("field", error.Path));
                return null;
            }
        }
    }

    /// <summary>A geofence as a GeoJSON Feature: id = name, bbox as [west, south, east, north], our fields in properties.</summary>
    internal static void WriteFeature(Utf8JsonWriter json, Geofence fence)
    {
        json.WriteStartObject();
        json.WriteString("type", "Feature");
        json.WriteString("id", fence.Name);
        json.WriteStartArray("bbox");
        json.WriteNumberValue(fence.Shape.MinLon);
        json.WriteNumberValue(fence.Shape.MinLat);
        json.WriteNumberValue(fence.Shape.MaxLon);
        json.WriteNumberValue(fence.Shape.MaxLat);
        json.WriteEndArray();
        json.WritePropertyName("geometry");
        GeoJson.WriteGeometry(json, fence.Shape);
        json.WriteStartObject("properties");
        using (var properties = JsonDocument.Parse(fence.PropertiesJson))
        {
            foreach (var property in properties.RootElement.EnumerateObject())
            {
                if (property.Name is not ("name" or "kind" or "radius_m" or "created_at" or "updated_at"))
                {
                    property.WriteTo(json);
                }
            }
        }

        json.WriteString("name", fence.Name);
        json.WriteString("kind", fence.Kind);
        if (fence.Shape is GeoCircle circle)
        {
            json.WriteNumber("radius_m", circle.RadiusM);
        }

        json.WriteString("created_at", fence.CreatedAt.UtcDateTime);
        json.WriteString("updated_at", fence.UpdatedAt.UtcDateTime);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> body) =>
        RegistryEndpoints.WriteJsonAsync(http, status, "application/geo+json; charset=utf-8", body);
}
