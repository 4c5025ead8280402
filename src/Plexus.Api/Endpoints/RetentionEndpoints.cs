using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Storage.Retention;

namespace Plexus.Api.Endpoints;

/// <summary>
/// Retention policies (docs/http-api.md#retention), scope admin: <c>GET /api/v1/retention</c>,
/// <c>PUT /api/v1/retention/{namespace[.measurement]}</c> with <c>{"raw": "30d"}</c>, <c>DELETE /api/v1/retention/{target}</c>.
/// </summary>
internal static class RetentionEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/api/v1/retention", http => ListAsync(http, context));
        endpoints.MapPut("/api/v1/retention/{target}", AuditTrail.Audited(context, "retention.set", "retention", "target", http => SetAsync(http, context)));
        endpoints.MapDelete("/api/v1/retention/{target}", AuditTrail.Audited(context, "retention.remove", "retention", "target", http => RemoveAsync(http, context)));
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Admin, context.Retention, "retention policies are") is not { } policies)
        {
            return;
        }

        var list = policies.List();
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray("policies");
            foreach (var policy in list)
            {
                Write(json, policy);
            }

            json.WriteEndArray();
        });
    }

    private static async Task SetAsync(HttpContext http, ApiContext context)
    {
        if (await TargetAsync(http, context) is not { } target)
        {
            return;
        }

        var (policies, principal, ns, measurement) = target;

        using var document = await JsonBodies.ReadJsonAsync(http, "{\"raw\": \"30d\"}");
        if (document is null)
        {
            return;
        }

        var root = document.RootElement;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name != "raw")
            {
                await Invalid(http, property.Name, $"unknown field \"{property.Name}\"; send {{\"raw\": \"30d\"}}");
                return;
            }
        }

        if (!root.TryGetProperty("raw", out var rawElement) || rawElement.ValueKind != JsonValueKind.String)
        {
            await Invalid(http, "raw", "raw is required: how long rows are kept, e.g. {\"raw\": \"30d\"} (m, h, d or w)");
            return;
        }

        RetentionPolicy policy;
        try
        {
            policy = policies.Set(ns, measurement, RetentionPolicies.ParseDuration(rawElement.GetString()!));
        }
        catch (RetentionPolicyException error)
        {
            await Invalid(http, error.Field, error.Message);
            return;
        }

        AuditTrail.Detail(http, "raw " + RetentionPolicies.Format(policy.Raw));
        context.Logger.LogInformation("{Principal} set the retention of {Target} to {Raw}", principal.AuditName, policy.Target, RetentionPolicies.Format(policy.Raw));
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json => WriteProperties(json, policy));
    }

    private static async Task RemoveAsync(HttpContext http, ApiContext context)
    {
        if (await TargetAsync(http, context) is not { } target)
        {
            return;
        }

        var (policies, principal, ns, measurement) = target;

        if (!policies.Remove(ns, measurement))
        {
            string named = measurement is null ? ns : ns + "." + measurement;
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found", $"{named} has no retention policy of its own; GET /api/v1/retention lists them");
            return;
        }

        context.Logger.LogInformation("{Principal} removed the retention policy of {Target}", principal.AuditName, measurement is null ? ns : ns + "." + measurement);
        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task<(RetentionPolicies Policies, ApiPrincipal Principal, string Namespace, string? Measurement)?> TargetAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin, namespaced: true) is not { } principal)
        {
            return null;
        }

        if (context.Retention is not { } policies)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "retention policies are not available on this server");
            return null;
        }

        (string ns, string? measurement) target;
        try
        {
            target = RetentionPolicies.ParseTarget(http.Request.RouteValues["target"] as string ?? "");
        }
        catch (RetentionPolicyException error)
        {
            await Invalid(http, error.Field, error.Message);
            return null;
        }

        if (!principal.MayUse(target.ns))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may not change namespace {target.ns}; use a token that includes it");
            return null;
        }

        return (policies, principal, target.ns, target.measurement);
    }

    private static void Write(Utf8JsonWriter json, RetentionPolicy policy)
    {
        json.WriteStartObject();
        WriteProperties(json, policy);
        json.WriteEndObject();
    }

    private static void WriteProperties(Utf8JsonWriter json, RetentionPolicy policy)
    {
        json.WriteString("target", policy.Target);
        json.WriteString("namespace", policy.Namespace);
        json.WriteString("measurement", policy.Measurement);
        json.WriteString("raw", RetentionPolicies.Format(policy.Raw));
        json.WriteNumber("raw_seconds", (long)policy.Raw.TotalSeconds);
        json.WriteString("updated_at", policy.UpdatedAt.UtcDateTime);
    }

    private static Task Invalid(HttpContext http, string field, string message) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, extra: json => json.WriteString("field", field));
}
