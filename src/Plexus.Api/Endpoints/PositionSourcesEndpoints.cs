using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Geo;

namespace Plexus.Api.Endpoints;

/// <summary>Position sources over HTTP: measurements whose rows feed main.device_positions (docs/geo.md#position-sources).</summary>
internal static class PositionSourcesEndpoints
{
    private const int MaxBodyBytes = 64 * 1024;

    private const string Example = """{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude", "device": "name"}""";

    private static readonly string[] Fields = ["namespace", "measurement", "lat", "lon", "alt", "speed", "heading", "device"];

    private static readonly RegistryRoute<PositionSourceRegistry> Route =
        new(context => context.PositionSources, "position sources are", "key", PositionSourceRegistry.NotFound, PositionSourceRegistry.NormalizeKey);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/position-sources", AuditTrail.Audited(context, "position_source.put", "position_source", null, RegistryEndpoints.Change(Route, context, ReadSourceAsync, PutAsync)));
        endpoints.MapGet("/api/v1/position-sources", RegistryEndpoints.Run(Route, context, ApiScope.Read, ListAsync));
        endpoints.MapGet("/api/v1/position-sources/{key}", RegistryEndpoints.Show(Route, context, (registry, key) => registry.Get(key), (http, _, status) => WriteAsync(http, StatusCodes.Status200OK, json => WriteSource(json, status))));
        endpoints.MapDelete("/api/v1/position-sources/{key}", AuditTrail.Audited(context, "position_source.remove", "position_source", "key", RegistryEndpoints.Remove(Route, context, (_, registry, key) => registry.Remove(key))));
    }

    private static Task PutAsync(HttpContext http, PositionSourceRegistry registry, PositionSource source)
    {
        AuditTrail.Target(http, source.Key);
        var (status, created) = registry.Put(source);
        AuditTrail.Detail(http, created ? "created" : "replaced");
        http.Response.Headers.Location = "/api/v1/position-sources/" + Uri.EscapeDataString(status.Source.Key);
        return WriteAsync(http, created ? StatusCodes.Status201Created : StatusCodes.Status200OK, json => WriteSource(json, status));
    }

    private static Task ListAsync(HttpContext http, PositionSourceRegistry registry)
    {
        var sources = registry.List();
        return WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("view", PositionSourceRegistry.View);
            json.WriteStartArray("sources");
            foreach (var source in sources)
            {
                WriteSource(json, source);
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static async Task<PositionSource?> ReadSourceAsync(HttpContext http)
    {
        if (await JsonBodies.ReadBoundedAsync(http, MaxBodyBytes, $"the body is larger than {MaxBodyBytes} bytes; a position source is a small JSON object, e.g. {Example}") is not { } body)
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
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"the body is not valid JSON ({error.Message}); send e.g. {Example}");
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw RegistryException.Invalid(null, $"the body must be a JSON object, e.g. {Example}");
            }

            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!Fields.Contains(property.Name, StringComparer.Ordinal))
                {
                    throw RegistryException.Invalid(property.Name, $"{property.Name}: unknown field; the fields are {string.Join(", ", Fields)}");
                }

                if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    throw RegistryException.Invalid(property.Name, $"{property.Name}: must be a string (a name), not {property.Value.ValueKind.ToString().ToLowerInvariant()}");
                }

                values[property.Name] = property.Value.GetString();
            }

            return new PositionSource(
                values.GetValueOrDefault("namespace") ?? string.Empty,
                values.GetValueOrDefault("measurement")!,
                values.GetValueOrDefault("lat")!,
                values.GetValueOrDefault("lon")!,
                values.GetValueOrDefault("alt"),
                values.GetValueOrDefault("speed"),
                values.GetValueOrDefault("heading"),
                values.GetValueOrDefault("device"));
        }
    }

    internal static void WriteSource(Utf8JsonWriter json, PositionSourceStatus status)
    {
        var source = status.Source;
        json.WriteStartObject();
        json.WriteString("source", source.Key);
        json.WriteString("namespace", source.Namespace);
        json.WriteString("measurement", source.Measurement);
        json.WriteString("lat", source.LatColumn);
        json.WriteString("lon", source.LonColumn);
        WriteOptional(json, "alt", source.AltColumn);
        WriteOptional(json, "speed", source.SpeedColumn);
        WriteOptional(json, "heading", source.HeadingColumn);
        json.WriteString("device", status.DeviceColumn);
        json.WriteBoolean("device_default", source.DeviceColumn is null);
        json.WriteBoolean("available", status.Available);
        WriteOptional(json, "reason", status.Reason);
        json.WriteString("created_at", status.CreatedAt);
        json.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }

    private static Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> body) =>
        RegistryEndpoints.WriteJsonAsync(http, status, "application/json; charset=utf-8", body);
}
