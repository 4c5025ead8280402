using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Storage.Retention;
using Plexus.Storage.Rollups;

namespace Plexus.Api.Endpoints;

/// <summary>
/// Rollups (docs/http-api.md#rollups): <c>GET /api/v1/rollups</c> (scope read, the namespaces the token may use),
/// <c>POST /api/v1/rollups</c> with <c>{"measurement": "main.readings", "every": "1h", "retention": "400d"}</c> and
/// <c>DELETE /api/v1/rollups/{namespace.rollup}</c> (scope admin, audited), and <c>POST /api/v1/rollups/refresh</c> (scope
/// admin), which brings every rollup up to date before it answers.
/// </summary>
internal static class RollupEndpoints
{
    private const string Example = "{\"measurement\": \"main.readings\", \"every\": \"1h\", \"retention\": \"400d\"}";

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/api/v1/rollups", http => ListAsync(http, context));
        endpoints.MapPost("/api/v1/rollups", AuditTrail.Audited(context, "rollup.add", "rollup", null, http => AddAsync(http, context)));
        endpoints.MapPost("/api/v1/rollups/refresh", http => RefreshAsync(http, context));
        endpoints.MapDelete("/api/v1/rollups/{rollup}", AuditTrail.Audited(context, "rollup.remove", "rollup", "rollup", http => RemoveAsync(http, context)));
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Read) is not { } principal || await ServiceAsync(http, context) is not { } rollups)
        {
            return;
        }

        var list = rollups.List().Where(r => principal.MayUse(r.Namespace)).ToList();
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray("rollups");
            foreach (var rollup in list)
            {
                json.WriteStartObject();
                WriteProperties(json, rollup);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static async Task AddAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin, namespaced: true) is not { } principal || await ServiceAsync(http, context) is not { } rollups)
        {
            return;
        }

        using var document = await JsonBodies.ReadJsonAsync(http, Example);
        if (document is null)
        {
            return;
        }

        var root = document.RootElement;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name is not ("measurement" or "every" or "retention"))
            {
                await Invalid(http, property.Name, $"unknown field \"{property.Name}\"; send {Example} (retention is optional)");
                return;
            }
        }

        if (Text(root, "measurement") is not { } target)
        {
            await Invalid(http, "measurement", $"measurement is required: the namespace.measurement to roll up, e.g. {Example}");
            return;
        }

        if (Text(root, "every") is not { } everyText)
        {
            await Invalid(http, "every", $"every is required: the window, e.g. \"1m\", \"1h\" or \"1d\"; send {Example}");
            return;
        }

        bool hasRetention = root.TryGetProperty("retention", out var retentionElement) && retentionElement.ValueKind != JsonValueKind.Null;
        if (hasRetention && retentionElement.ValueKind != JsonValueKind.String)
        {
            await Invalid(http, "retention", "retention must be a string such as \"400d\" or null to keep every window");
            return;
        }

        Rollup rollup;
        try
        {
            var (ns, measurement) = RollupRegistry.ParseTarget(target);
            if (!principal.MayUse(ns))
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may not change namespace {ns}; use a token that includes it");
                return;
            }

            var every = RollupRegistry.ParseEvery(everyText);
            TimeSpan? retention = hasRetention ? RollupRegistry.ParseRetention(retentionElement.GetString()!) : null;
            rollup = rollups.Add(ns, measurement, every, retention);
        }
        catch (RollupException error)
        {
            if (error.Conflict)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status409Conflict, "conflict", error.Message, extra: json => json.WriteString("field", error.Field));
            }
            else
            {
                await Invalid(http, error.Field, error.Message);
            }

            return;
        }

        AuditTrail.Target(http, rollup.Namespace + "." + rollup.Name, "of " + rollup.Target + " every " + RetentionPolicies.Format(rollup.Every));
        context.Logger.LogInformation("{Principal} added the rollup {Namespace}.{Rollup} of {Target}", principal.AuditName, rollup.Namespace, rollup.Name, rollup.Target);
        await JsonBodies.WriteAsync(http, StatusCodes.Status201Created, json => WriteProperties(json, rollup));
    }

    private static async Task RemoveAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin, namespaced: true) is not { } principal || await ServiceAsync(http, context) is not { } rollups)
        {
            return;
        }

        string name = http.Request.RouteValues["rollup"] as string ?? "";
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        string ns = dot < 0 ? "" : name[..dot].ToLowerInvariant();
        if (dot >= 0 && !principal.MayUse(ns))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may not change namespace {ns}; use a token that includes it");
            return;
        }

        var rollup = rollups.List().FirstOrDefault(r => string.Equals(r.Namespace + "." + r.Name, name, StringComparison.OrdinalIgnoreCase));
        if (rollup is null || !rollups.Remove(rollup.Namespace, rollup.Measurement, rollup.Every))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found", $"there is no rollup {(name.Length > 80 ? name[..80] + "…" : name)}; name it as namespace.rollup, e.g. main.readings_1h (GET /api/v1/rollups lists them)");
            return;
        }

        context.Logger.LogInformation("{Principal} removed the rollup {Namespace}.{Rollup}", principal.AuditName, rollup.Namespace, rollup.Name);
        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    /// <summary>Recomputes now what the maintainer would at its next run, and answers when the rollups are up to date.</summary>
    private static async Task RefreshAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Admin, context.RollupMaintainer, "rollups are") is not { } maintainer)
        {
            return;
        }

        long windows = await maintainer.RunOnceAsync(http.RequestAborted);
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json => json.WriteNumber("recomputed", windows));
    }

    private static async Task<RollupRegistry?> ServiceAsync(HttpContext http, ApiContext context)
    {
        if (context.Rollups is null)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "rollups are not available on this server");
        }

        return context.Rollups;
    }

    private static string? Text(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static void WriteProperties(Utf8JsonWriter json, Rollup rollup)
    {
        json.WriteString("rollup", rollup.Namespace + "." + rollup.Name);
        json.WriteString("measurement", rollup.Target);
        json.WriteString("every", RetentionPolicies.Format(rollup.Every));
        json.WriteNumber("every_seconds", (long)rollup.Every.TotalSeconds);
        if (rollup.Retention is { } retention)
        {
            json.WriteString("retention", RetentionPolicies.Format(retention));
        }
        else
        {
            json.WriteNull("retention");
        }

        json.WriteString("created_at", rollup.CreatedAt.UtcDateTime);
    }

    private static Task Invalid(HttpContext http, string field, string message) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, extra: json => json.WriteString("field", field));
}
