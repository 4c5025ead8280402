using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Storage;

namespace Plexus.Api.Endpoints;

/// <summary>The audit log of admin actions (docs/http-api.md#audit-log): <c>GET /api/v1/audit?limit=&amp;since=</c>, scope admin.</summary>
internal static class AuditEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapGet("/api/v1/audit", http => ListAsync(http, context));

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Admin, context.Audit, "the audit log is") is not { } audit)
        {
            return;
        }

        if (!JsonBodies.TryQueryInt(http, "limit", DefaultLimit, MaxLimit, out int limit) || limit == 0)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"limit must be a whole number from 1 to {MaxLimit}", extra: json => json.WriteString("field", "limit"));
            return;
        }

        DateTimeOffset? since = null;
        string? sinceText = http.Request.Query["since"];
        if (!string.IsNullOrEmpty(sinceText))
        {
            if (!DateTimeOffset.TryParse(sinceText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"since \"{sinceText}\" is not a time such as 2026-01-02T03:04:05Z", extra: json => json.WriteString("field", "since"));
                return;
            }

            since = parsed;
        }

        var entries = audit.Read(since, limit);
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray("entries");
            foreach (var entry in entries)
            {
                Write(json, entry);
            }

            json.WriteEndArray();
        });
    }

    private static void Write(System.Text.Json.Utf8JsonWriter json, AuditEntry entry)
    {
        json.WriteStartObject();
        json.WriteNumber("id", entry.Id);
        json.WriteString("time", entry.Time.UtcDateTime);
        json.WriteString("principal", entry.Principal);
        json.WriteString("action", entry.Action);
        json.WriteString("target_kind", entry.TargetKind);
        json.WriteString("target_id", entry.TargetId);
        json.WriteString("detail", entry.Detail);
        json.WriteString("address", entry.Address);
        json.WriteString("outcome", entry.Outcome);
        if (entry.Status is { } status)
        {
            json.WriteNumber("status", status);
        }
        else
        {
            json.WriteNull("status");
        }
        json.WriteEndObject();
    }
}
