using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Rules.Alarms;
using Plexus.Rules.Engine;

namespace Plexus.Api.Endpoints;

/// <summary>
/// Alarms over HTTP (docs/rules.md#alarms): list and show (read scope), acknowledge and clear (write scope: operators
/// who handle alarms need not manage rules). The rule engine's counters are <c>GET /api/v1/rules/stats</c>.
/// </summary>
internal static class AlarmsEndpoints
{
    private const int DefaultLimit = 100;
    private const int MaxLimit = 10_000;

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/api/v1/alarms", http => ListAsync(http, context));
        endpoints.MapGet("/api/v1/alarms/{id}", http => RunAsync(http, context, ApiScope.Read, (alarms, id, _) => alarms.Get(id) ?? throw AlarmStore.NotFound(id)));
        endpoints.MapPost("/api/v1/alarms/{id}/ack", AuditTrail.Audited(context, "alarm.ack", "alarm", "id", http => RunAsync(http, context, ApiScope.Write, (alarms, id, by) => alarms.Acknowledge(id, by))));
        endpoints.MapPost("/api/v1/alarms/{id}/clear", AuditTrail.Audited(context, "alarm.clear", "alarm", "id", http => RunAsync(http, context, ApiScope.Write, (alarms, id, by) => alarms.Clear(id, by))));
        endpoints.MapGet("/api/v1/rules/stats", http => StatsAsync(http, context));
    }

    private static async Task RunAsync(HttpContext http, ApiContext context, ApiScope scope, Func<AlarmStore, long, string, AlarmRecord> run)
    {
        if (await PlexusApi.AdmitAsync(http, context, scope) is not { } principal)
        {
            return;
        }

        if (context.Alarms is not { } alarms)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "alarms are not available on this server");
            return;
        }

        string text = http.Request.RouteValues["id"] as string ?? string.Empty;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long id))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"\"{text}\" is not an alarm id (a whole number)", extra: json => json.WriteString("field", "id"));
            return;
        }

        try
        {
            var alarm = run(alarms, id, principal.AuditName);
            await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json => Write(json, alarm));
        }
        catch (RegistryException error)
        {
            await RegistryErrors.WriteAsync(http, error);
        }
    }

    private static async Task ListAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.Alarms, "alarms are") is not { } alarms)
        {
            return;
        }

        AlarmStatus? status = null;
        string? statusText = http.Request.Query["status"];
        if (!string.IsNullOrEmpty(statusText))
        {
            if (int.TryParse(statusText, out _) || !Enum.TryParse<AlarmStatus>(statusText, ignoreCase: true, out var parsed))
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"status \"{statusText}\" is not one of active, acknowledged, cleared", extra: json => json.WriteString("field", "status"));
                return;
            }

            status = parsed;
        }

        if (!JsonBodies.TryQueryInt(http, "limit", DefaultLimit, MaxLimit, out int limit) || limit == 0)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"limit must be a whole number from 1 to {MaxLimit}", extra: json => json.WriteString("field", "limit"));
            return;
        }

        string? asset = null;
        if (NullIfEmpty(http.Request.Query["asset"]) is { } assetText)
        {
            try
            {
                asset = ResolveAsset(context, assetText);
            }
            catch (RegistryException error)
            {
                await RegistryErrors.WriteAsync(http, error);
                return;
            }
        }

        var list = alarms.List(status, NullIfEmpty(http.Request.Query["device"]), NullIfEmpty(http.Request.Query["rule"]), limit, asset);
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray("alarms");
            foreach (var alarm in list)
            {
                json.WriteStartObject();
                Write(json, alarm);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static async Task StatsAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.RuleEngine, "rules are") is not { } engine)
        {
            return;
        }

        RuleEngineStatistics stats = engine.Statistics;
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteNumber("rules", stats.Rules);
            json.WriteNumber("points_evaluated", stats.Points);
            json.WriteNumber("late_points", stats.LatePoints);
            json.WriteNumber("writes_dropped", stats.Dropped);
            json.WriteNumber("points_dropped", stats.DroppedPoints);
            json.WriteNumber("writes_waiting", stats.Waiting);
            json.WriteNumber("untracked_points", stats.UntrackedKeys);
            json.WriteNumber("clock_checks", stats.ClockChecks);
            json.WriteNumber("open_alarms", context.Alarms?.OpenCount ?? 0);
            json.WriteNumber("actions_attempted", context.RuleActions?.Attempts ?? 0);
            json.WriteNumber("actions_delivered", context.RuleActions?.Delivered ?? 0);
            json.WriteNumber("actions_dead_lettered", context.RuleActions?.DeadLetters ?? 0);
        });
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>
    /// An asset id, or its path of ids from the root (<c>north/depot-1/hall-a</c>; ids have no <c>/</c>), each the parent
    /// of the next: the id of the asset it names.
    /// </summary>
    private static string ResolveAsset(ApiContext context, string text)
    {
        var assets = context.Assets ?? throw RegistryException.Invalid("asset", "assets are not available on this server");
        string? parent = null;
        string[] path = text.Split('/');
        for (int i = 0; i < path.Length; i++)
        {
            var asset = assets.Get(path[i]);
            if (asset is null)
            {
                string step = path.Length > 1 ? $" (step {i + 1} of the path \"{Truncated(text)}\")" : string.Empty;
                throw RegistryException.NotFound("asset", $"no asset \"{Truncated(path[i])}\" exists{step}");
            }

            if (i == 0 ? path.Length > 1 && asset.Parent is not null : asset.Parent != parent)
            {
                throw RegistryException.NotFound("asset", i == 0
                    ? $"the path \"{Truncated(text)}\" does not start at a root: \"{asset.Id}\" has the parent \"{asset.Parent}\" (give its id alone, or the whole path)"
                    : $"the path \"{Truncated(text)}\" is not a chain of parents: \"{asset.Id}\" is not a child of \"{parent}\"");
            }

            parent = asset.Id;
        }

        return parent!;
    }

    private static string Truncated(string text) => text.Length <= 200 ? text : text[..200] + "…";

    internal static void Write(Utf8JsonWriter json, AlarmRecord alarm) => AlarmJson.WriteMembers(json, alarm);
}
