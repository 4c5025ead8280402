using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Core;

namespace Plexus.Api.Endpoints;

/// <summary>Scoped API tokens (docs/http-api.md#api-tokens): create (secret shown once), list (no secrets), revoke; scope admin.</summary>
internal static class TokensEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/tokens", AuditTrail.Audited(context, "token.create", "token", null, http => CreateAsync(http, context)));
        endpoints.MapGet("/api/v1/tokens", http => ListAsync(http, context));
        endpoints.MapDelete("/api/v1/tokens/{name}", AuditTrail.Audited(context, "token.revoke", "token", "name", http => RevokeAsync(http, context)));
    }

    private static async Task CreateAsync(HttpContext http, ApiContext context)
    {
        if (await StoreAsync(http, context) is not { } store)
        {
            return;
        }

        string? name;
        string? scopeText;
        List<string>? namespaces = null;
        MqttTopicRules? mqtt = null;
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException("expected a JSON object");
            }

            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is not ("name" or "scope" or "namespaces" or "mqtt"))
                {
                    await InvalidAsync(http, property.Name, $"unknown field \"{property.Name}\"; send name, scope and optionally namespaces and mqtt");
                    return;
                }
            }

            name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            scopeText = root.TryGetProperty("scope", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            if (root.TryGetProperty("namespaces", out var list) && list.ValueKind != JsonValueKind.Null)
            {
                if (list.ValueKind != JsonValueKind.Array || list.EnumerateArray().Any(item => item.ValueKind != JsonValueKind.String))
                {
                    await InvalidAsync(http, "namespaces", "namespaces must be an array of namespace names, e.g. [\"partner_a\"], or left out for every namespace");
                    return;
                }

                namespaces = [.. list.EnumerateArray().Select(item => item.GetString()!)];
            }

            if (root.TryGetProperty("mqtt", out var rules))
            {
                try
                {
                    mqtt = ApiTokenStore.ReadTopicRules(rules);
                }
                catch (ApiTokenException error)
                {
                    await InvalidAsync(http, "mqtt", error.Message);
                    return;
                }
            }
        }
        catch (JsonException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "the body must be JSON like {\"name\": \"grafana\", \"scope\": \"read\"}: " + error.Message);
            return;
        }

        AuditTrail.Target(http, name);
        if (!ApiScopes.TryParse(scopeText, out var scope))
        {
            await InvalidAsync(http, "scope", scopeText is null ? "scope is required: read, write or admin" : $"scope \"{scopeText}\" is not one of read, write, admin");
            return;
        }

        AuditTrail.Detail(http, Describe(scope, namespaces, mqtt));
        CreatedApiToken created;
        try
        {
            created = store.Create(name ?? "", scope, namespaces, mqtt);
        }
        catch (ApiTokenException error)
        {
            await ApiErrors.WriteAsync(http, error.Conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
                error.Conflict ? "conflict" : "invalid", error.Message, extra: error.Field is null ? null : json => json.WriteString("field", error.Field));
            return;
        }

        context.Logger.LogInformation("API token {Name} created: {Rights}", created.Info.Name, Describe(created.Info.Scope, created.Info.Namespaces, created.Info.Mqtt));
        await WriteAsync(http, StatusCodes.Status201Created, json =>
        {
            json.WriteStartObject();
            WriteInfo(json, created.Info);
            json.WriteString("token", created.Token);
            json.WriteEndObject();
        });
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await StoreAsync(http, context) is not { } store)
        {
            return;
        }

        await WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("tokens");
            foreach (var info in store.List())
            {
                json.WriteStartObject();
                WriteInfo(json, info);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static async Task RevokeAsync(HttpContext http, ApiContext context)
    {
        if (await StoreAsync(http, context) is not { } store)
        {
            return;
        }

        string name = http.Request.RouteValues["name"] as string ?? "";
        if (!store.Revoke(name))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found", $"no API token named \"{name}\"",
                extra: json => json.WriteString("field", "name"));
            return;
        }

        context.Logger.LogInformation("API token {Name} revoked", name);
        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private static async Task<ApiTokenStore?> StoreAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Admin) is null)
        {
            return null;
        }

        if (context.ApiTokens is null)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "scoped API tokens are not available on this server");
            return null;
        }

        return context.ApiTokens;
    }

    private static Task InvalidAsync(HttpContext http, string field, string message) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, extra: json => json.WriteString("field", field));

    private static void WriteInfo(Utf8JsonWriter json, ApiTokenInfo info)
    {
        json.WriteString("name", info.Name);
        json.WriteString("scope", ApiScopes.Name(info.Scope));
        json.WriteString("created_at", info.CreatedAt.UtcDateTime);
        if (info.Namespaces is { } namespaces)
        {
            json.WriteStartArray("namespaces");
            foreach (string ns in namespaces)
            {
                json.WriteStringValue(ns);
            }

            json.WriteEndArray();
        }
        else
        {
            json.WriteNull("namespaces");
        }

        if (info.Mqtt is { } mqtt)
        {
            json.WritePropertyName("mqtt");
            ApiTokenStore.WriteTopicRules(json, mqtt);
        }
        else
        {
            json.WriteNull("mqtt");
        }
    }

    /// <summary>A token's rights in a few words, for the log and the audit log: "scope read, namespaces partner_a, mqtt subscribe devices/+/telemetry".</summary>
    private static string Describe(ApiScope scope, IReadOnlyList<string>? namespaces, MqttTopicRules? mqtt)
    {
        string rights = namespaces is null ? "scope " + ApiScopes.Name(scope) : $"scope {ApiScopes.Name(scope)}, namespaces {string.Join(", ", namespaces)}";
        if (mqtt is not null)
        {
            foreach (var (label, filters) in new[] { ("subscribe", mqtt.Subscribe), ("publish", mqtt.Publish), ("deny-subscribe", mqtt.DenySubscribe), ("deny-publish", mqtt.DenyPublish) })
            {
                rights += filters.Count == 0 ? "" : $", mqtt {label} {string.Join(" ", filters)}";
            }
        }

        return rights;
    }

    private static async Task WriteAsync(HttpContext http, int status, Action<Utf8JsonWriter> body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(http.Response.Body, PlexusApi.JsonOptions);
        body(json);
        await json.FlushAsync(http.RequestAborted);
    }
}
