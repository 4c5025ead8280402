using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Core;
using Plexus.Api.Auth;
using Plexus.Geo;

namespace Plexus.Api.Endpoints;

/// <summary>Position sources over HTTP: measurements whose rows feed main.device_positions (docs/geo.md#position-sources).</summary>
internal static class PositionSourcesEndpoints
{
    private const int MaxBodyBytes = 64 * 1024;

    private const string Example = """{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude", "device": "name"}""";

    private static readonly string[] Fields = ["namespace", "measurement", "lat", "lon", "alt", "speed", "heading", "device"];

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/position-sources", AuditTrail.Audited(context, "position_source.put", "position_source", null, http => PutAsync(http, context)));
        endpoints.MapGet("/api/v1/position-sources", http => ListAsync(http, context));
        endpoints.MapGet("/api/v1/position-sources/{key}", http => GetAsync(http, context));
        endpoints.MapDelete("/api/v1/position-sources/{key}", AuditTrail.Audited(context, "position_source.remove", "position_source", "key", http => RemoveAsync(http, context)));
    }

    private static async Task PutAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Admin) is not { } registry || await ReadSourceAsync(http) is not { } source)
        {
            return;
        }

        AuditTrail.Target(http, source.Key);
        try
        {
            var (status, created) = registry.Put(source);
            AuditTrail.Detail(http, created ? "created" : "replaced");
            http.Response.Headers.Location = "/api/v1/position-sources/" + Uri.EscapeDataString(status.Source.Key);
            await WriteAsync(http, created ? StatusCodes.Status201Created : StatusCodes.Status200OK, json => WriteSource(json, status));
        }
        catch (RegistryException error)
        {
            await WriteErrorAsync(http, error);
        }
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Read) is not { } registry)
        {
            return;
        }

        var sources = registry.List();
        await WriteAsync(http, StatusCodes.Status200OK, json =>
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

    private static async Task GetAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Read) is not { } registry)
        {
            return;
        }

        string key = KeyOf(http);
        if (registry.Get(key) is not { } status)
        {
            await WriteErrorAsync(http, NotFound(key));
            return;
        }

        await WriteAsync(http, StatusCodes.Status200OK, json => WriteSource(json, status));
    }

    private static async Task RemoveAsync(HttpContext http, ApiContext context)
    {
        if (await RegistryAsync(http, context, ApiScope.Admin) is not { } registry)
        {
            return;
        }

        string key = KeyOf(http);
        if (!registry.Remove(key))
        {
            await WriteErrorAsync(http, NotFound(key));
            return;
        }

        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static RegistryException NotFound(string key) => new(RegistryErrorKind.NotFound, "source", $"no position source \"{key}\"; GET /api/v1/position-sources lists them");

    private static string KeyOf(HttpContext http) => PositionSourceRegistry.NormalizeKey(http.Request.RouteValues["key"] as string ?? string.Empty);

    private static Task<PositionSourceRegistry?> RegistryAsync(HttpContext http, ApiContext context, ApiScope scope) =>
        PlexusApi.AdmitServiceAsync(http, context, scope, context.PositionSources, "position sources are");

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
                await WriteErrorAsync(http, RegistryException.Invalid(null, $"the body must be a JSON object, e.g. {Example}"));
                return null;
            }

            var values = new Dictionary<string, string?>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!Fields.Contains(property.Name, StringComparer.Ordinal))
                {
                    await WriteErrorAsync(http, RegistryException.Invalid(property.Name, $"{property.Name}: unknown field; the fields are {string.Join(", ", Fields)}"));
                    return null;
                }

                if (property.Value.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                {
                    await WriteErrorAsync(http, RegistryException.Invalid(property.Name, $"{property.Name}: must be a string (a name), not {property.Value.ValueKind.ToString().ToLowerInvariant()}"));
                    return null;
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

    private static async Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(http.Response.Body, PlexusApi.JsonOptions);
        body(json);
        await json.FlushAsync(http.RequestAborted);
    }

    private static Task WriteErrorAsync(HttpContext http, RegistryException error)
    {
        var (status, code) = error.Kind switch
        {
            RegistryErrorKind.NotFound => (StatusCodes.Status404NotFound, "not_found"),
            RegistryErrorKind.Conflict => (StatusCodes.Status409Conflict, "conflict"),
            _ => (StatusCodes.Status400BadRequest, "invalid"),
        };
        return ApiErrors.WriteAsync(http, status, code, error.Message, extra: error.Field is null ? null : json => json.WriteString("field", error.Field));
    }
}
