using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Devices;
using static Plexus.Api.Endpoints.JsonBodies;

namespace Plexus.Api.Endpoints;

/// <summary>
/// A device's client certificates for MQTT over TLS (docs/devices.md#client-certificates): listing needs scope read,
/// adding and removing scope admin. Only the certificate (or its thumbprint) is ever sent, never its private key.
/// </summary>
internal static class DeviceCertificatesEndpoints
{
    private const string AddExample = """{"certificate": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"}""";

    private static readonly RegistryRoute<DeviceRegistry> Route = new(context => context.Devices, "the device registry is", "id", DeviceRegistry.NotFound);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/api/v1/devices/{id}/certificates", RegistryEndpoints.Show(Route, context, (registry, id) => registry.Get(id), (http, registry, device) => ListAsync(http, registry, device)));
        endpoints.MapPost("/api/v1/devices/{id}/certificates", AuditTrail.Audited(context, "device.certificate_add", "device", "id", RegistryEndpoints.Change(Route, context, http => ReadJsonAsync(http, AddExample), AddAsync)));
        endpoints.MapDelete("/api/v1/devices/{id}/certificates/{thumbprint}", AuditTrail.Audited(context, "device.certificate_remove", "device", "id", RegistryEndpoints.Run(Route, context, ApiScope.Admin, RemoveAsync)));
    }

    /// <summary>The device's certificates as the <c>certificates</c> array of a device's JSON.</summary>
    public static void WriteList(Utf8JsonWriter json, IReadOnlyList<DeviceCertificate> certificates)
    {
        json.WriteStartArray("certificates");
        foreach (var certificate in certificates)
        {
            json.WriteStartObject();
            Write(json, certificate);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static Task ListAsync(HttpContext http, DeviceRegistry registry, Device device) =>
        WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("id", device.Id);
            WriteList(json, registry.Certificates.List(device.Id));
        });

    private static Task AddAsync(HttpContext http, DeviceRegistry registry, JsonDocument document)
    {
        var root = document.RootElement;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name != "certificate")
            {
                throw RegistryException.Invalid(property.Name, $"unknown field \"{property.Name}\"; send {{\"certificate\": \"<PEM certificate or SHA-256 thumbprint>\"}}");
            }
        }

        string id = Route.KeyOf(http);
        var added = registry.Certificates.Add(id, OptionalString(root, "certificate") ?? "");
        AuditTrail.Target(http, id, added.Thumbprint);
        return WriteAsync(http, StatusCodes.Status201Created, json => Write(json, added));
    }

    private static Task RemoveAsync(HttpContext http, DeviceRegistry registry)
    {
        string id = Route.KeyOf(http);
        string thumbprint = http.Request.RouteValues["thumbprint"] as string ?? "";
        if (registry.Get(id) is null)
        {
            throw Route.NotFound(id);
        }

        if (!registry.Certificates.Remove(id, thumbprint))
        {
            throw RegistryException.NotFound("thumbprint", $"device \"{id}\" has no certificate {thumbprint}; GET /api/v1/devices/{id}/certificates lists its SHA-256 thumbprints");
        }

        AuditTrail.Target(http, id, thumbprint);
        http.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    private static void Write(Utf8JsonWriter json, DeviceCertificate certificate)
    {
        json.WriteString("thumbprint", certificate.Thumbprint);
        json.WriteString("subject", certificate.Subject);
        json.WriteString("issuer", certificate.Issuer);
        DeviceStateEndpoints.WriteTime(json, "not_before", certificate.NotBefore);
        DeviceStateEndpoints.WriteTime(json, "not_after", certificate.NotAfter);
        json.WriteString("added_at", certificate.AddedAt.UtcDateTime);
    }
}
