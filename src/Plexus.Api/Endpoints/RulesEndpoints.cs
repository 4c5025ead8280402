using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Rules;

namespace Plexus.Api.Endpoints;

/// <summary>Rules over HTTP (docs/rules.md#http-api): CRUD, pause and resume; changes need the admin scope.</summary>
internal static class RulesEndpoints
{
    private static readonly RegistryRoute<RuleRegistry> Route = new(context => context.Rules, "rules are", "name", RuleRegistry.NotFound);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/rules", AuditTrail.Audited(context, "rule.add", "rule", null, RegistryEndpoints.Change(Route, context, ReadAsync, AddAsync)));
        endpoints.MapGet("/api/v1/rules", RegistryEndpoints.Run(Route, context, ApiScope.Read, ListAsync));
        endpoints.MapGet("/api/v1/rules/{name}", RegistryEndpoints.Show(Route, context, (registry, name) => registry.Get(name), (http, _, rule) => JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json => WriteMembers(json, rule))));
        endpoints.MapPut("/api/v1/rules/{name}", AuditTrail.Audited(context, "rule.put", "rule", "name", RegistryEndpoints.Change(Route, context, ReadAsync, PutAsync)));
        endpoints.MapPost("/api/v1/rules/{name}/pause", AuditTrail.Audited(context, "rule.pause", "rule", "name", RegistryEndpoints.Run(Route, context, ApiScope.Admin, (http, registry) => PauseAsync(http, registry, paused: true))));
        endpoints.MapPost("/api/v1/rules/{name}/resume", AuditTrail.Audited(context, "rule.resume", "rule", "name", RegistryEndpoints.Run(Route, context, ApiScope.Admin, (http, registry) => PauseAsync(http, registry, paused: false))));
        endpoints.MapDelete("/api/v1/rules/{name}", AuditTrail.Audited(context, "rule.remove", "rule", "name", RegistryEndpoints.Remove(Route, context, (_, registry, name) => registry.Remove(name))));
    }

    private static async Task<JsonDocument?> ReadAsync(HttpContext http) => await JsonBodies.ReadJsonAsync(http, RuleJson.Example);

    private static Task AddAsync(HttpContext http, RuleRegistry registry, JsonDocument body)
    {
        var definition = RuleJson.Parse(body.RootElement);
        AuditTrail.Target(http, definition.Name);
        var rule = registry.Add(definition);
        http.Response.Headers.Location = "/api/v1/rules/" + Uri.EscapeDataString(rule.Name);
        return JsonBodies.WriteAsync(http, StatusCodes.Status201Created, json => WriteMembers(json, rule));
    }

    private static Task PutAsync(HttpContext http, RuleRegistry registry, JsonDocument body)
    {
        var (rule, created) = registry.Put(RuleJson.Parse(body.RootElement, Route.KeyOf(http)));
        AuditTrail.Detail(http, created ? "created" : "replaced");
        return JsonBodies.WriteAsync(http, created ? StatusCodes.Status201Created : StatusCodes.Status200OK, json => WriteMembers(json, rule));
    }

    private static Task PauseAsync(HttpContext http, RuleRegistry registry, bool paused)
    {
        var rule = registry.SetPaused(Route.KeyOf(http), paused);
        return JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json => WriteMembers(json, rule));
    }

    private static Task ListAsync(HttpContext http, RuleRegistry registry)
    {
        var rules = registry.List();
        return JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray("rules");
            foreach (var rule in rules)
            {
                json.WriteStartObject();
                WriteMembers(json, rule);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static void WriteMembers(Utf8JsonWriter json, StoredRule rule)
    {
        RuleJson.Write(json, rule.Definition);
        json.WriteBoolean("paused", rule.Paused);
        json.WriteString("created_at", rule.CreatedAt.UtcDateTime);
        json.WriteString("updated_at", rule.UpdatedAt.UtcDateTime);
    }
}
