using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Core;

namespace Plexus.Api.Endpoints;

/// <summary>`/health` for orchestrators and `/ping` for InfluxDB clients that check the server before writing.</summary>
internal static class HealthEndpoints
{
    private static readonly string Version = typeof(HealthEndpoints).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>What <c>X-Influxdb-Version</c> says: InfluxDB 1.x clients show it and some check that it starts with 1.</summary>
    public static readonly string InfluxVersion = "1.8-compatible (plexus " + Version + ")";

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/health", async http =>
        {
            // Ready is not enough: a store that cannot write (a full disk) refuses writes and the queries that
            // need them, and an orchestrator or a load balancer must see that without trying a write.
            var fault = context.Phase == ServerPhase.Ready ? context.StoreWriter?.Fault : null;
            bool healthy = context.Phase == ServerPhase.Ready && fault is null;
            http.Response.StatusCode = healthy ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
            http.Response.ContentType = "application/json; charset=utf-8";
            await using var json = new Utf8JsonWriter(http.Response.Body, ReadableJson.Options);
            json.WriteStartObject();
            json.WriteString("name", "plexus");
            json.WriteString("status", context.Phase switch
            {
                ServerPhase.Ready => fault is null ? "pass" : "degraded",
                ServerPhase.Starting => "starting",
                _ => "stopping",
            });
            if (fault is not null)
            {
                json.WriteString("message", fault.Describe());
                json.WriteBoolean("restart_required", fault.RestartRequired);
            }

            json.WriteString("version", Version);
            json.WriteEndObject();
        });

        endpoints.MapMethods("/ping", ["GET", "HEAD"], http =>
        {
            http.Response.Headers["X-Influxdb-Version"] = InfluxVersion;
            http.Response.Headers["X-Influxdb-Build"] = "OSS";
            http.Response.StatusCode = context.Phase == ServerPhase.Ready ? StatusCodes.Status204NoContent : StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        });
    }
}
