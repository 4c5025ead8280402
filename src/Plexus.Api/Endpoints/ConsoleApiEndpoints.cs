using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Rules;
using Plexus.Rules.Alarms;
using Plexus.Storage;

namespace Plexus.Api.Endpoints;

/// <summary>
/// The small endpoints the console needs beyond the registries (docs/http-api.md): who the token is, and the overview's
/// numbers in one request.
/// </summary>
internal static class ConsoleApiEndpoints
{
    /// <summary>Open alarms counted for the overview; past it the counts say so (<c>alarms_capped</c>).</summary>
    private const int MaxCountedAlarms = 10_000;

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapGet("/api/v1/whoami", http => WhoAmIAsync(http, context));
        var rate = new PointRate(context.Time);
        endpoints.MapGet("/api/v1/overview", http => OverviewAsync(http, context, rate));
        endpoints.MapGet("/api/v1/live/positions", http => PositionsAsync(http, context));
    }

    /// <summary>Every device's newest position from the live state (memory, no SQL), for the console's map.</summary>
    private static async Task PositionsAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.DeviceState, "live device state is") is not { } live)
        {
            return;
        }

        var positions = live.Positions();
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartArray("devices");
            foreach (var (device, online, position) in positions.OrderBy(p => p.Device, StringComparer.Ordinal))
            {
                json.WriteStartObject();
                json.WriteString("device", device);
                json.WriteBoolean("online", online);
                json.WriteNumber("lat", position.Lat);
                json.WriteNumber("lon", position.Lon);
                json.WriteString("time", position.Time);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteStartObject("basemap");
            if (context.Options.MapTiles is { } tiles)
            {
                json.WriteString("tiles", tiles.Template);
                json.WriteString("attribution", tiles.Attribution);
            }
            else
            {
                json.WriteNull("tiles");
            }

            json.WriteEndObject();
        });
    }

    private static async Task WhoAmIAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Read, namespaced: true) is not { } principal)
        {
            return;
        }

        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("name", principal.Name);
            json.WriteString("scope", ApiScopes.Name(principal.Scope));
            JsonBodies.WriteStringListOrNull(json, "namespaces", principal.Namespaces);
        });
    }

    private static async Task OverviewAsync(HttpContext http, ApiContext context, PointRate rate)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Read) is null)
        {
            return;
        }

        var devices = context.Devices!.List(null, null, 0, 0).Total;
        int online = 0;
        if (context.DeviceState is { } live)
        {
            online = context.Devices.List(null, device => live.IsOnline(device.Id), 0, 0).Total;
        }

        // Indexed by severity, so the answer lists them from critical to info.
        var severities = Enum.GetValues<RuleSeverity>();
        var bySeverity = new int[severities.Length];
        bool capped = false;
        if (context.Alarms is { } alarms)
        {
            foreach (var status in (ReadOnlySpan<AlarmStatus>)[AlarmStatus.Active, AlarmStatus.Acknowledged])
            {
                var open = alarms.List(status, null, null, MaxCountedAlarms);
                capped |= open.Count == MaxCountedAlarms;
                foreach (var alarm in open)
                {
                    bySeverity[(int)alarm.Severity]++;
                }
            }
        }

        var fault = context.StoreWriter?.Fault;
        long points = context.StoreWriter?.PointsCommitted ?? 0;
        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject("devices");
            json.WriteNumber("total", devices);
            json.WriteNumber("online", online);
            json.WriteNumber("offline", devices - online);
            json.WriteEndObject();
            json.WriteNumber("points_per_second", Math.Round(rate.Sample(points), 1));
            json.WriteNumber("points_committed", points);
            json.WriteStartObject("alarms_open");
            foreach (var severity in severities)
            {
                json.WriteNumber(AlarmStore.Text(severity), bySeverity[(int)severity]);
            }

            json.WriteEndObject();
            json.WriteBoolean("alarms_capped", capped);
            json.WriteNumber("storage_bytes", StorageBytes(context.DataDirectory!));
            json.WriteString("health", fault is null ? "pass" : "degraded");
            if (fault is not null)
            {
                json.WriteString("health_message", fault.Describe());
            }
        });
    }

    /// <summary>Bytes of every file in the data folder (the database, its write-ahead files, the write log, cold files, journals).</summary>
    internal static long StorageBytes(string dataDirectory) => DiskUsage.Measure(dataDirectory).Total;

    /// <summary>
    /// Points per second between two overview requests at least a second apart; requests closer than that get the last
    /// rate, so that many open consoles do not turn it into noise.
    /// </summary>
    private sealed class PointRate(TimeProvider time)
    {
        private readonly Lock _sync = new();
        private long _lastTimestamp;
        private long _lastPoints = -1;
        private double _rate;

        public double Sample(long points)
        {
            lock (_sync)
            {
                long now = time.GetTimestamp();
                if (_lastPoints < 0)
                {
                    (_lastTimestamp, _lastPoints) = (now, points);
                    return 0;
                }

                var elapsed = time.GetElapsedTime(_lastTimestamp, now);
                if (elapsed >= TimeSpan.FromSeconds(1))
                {
                    _rate = Math.Max(0, points - _lastPoints) / elapsed.TotalSeconds;
                    (_lastTimestamp, _lastPoints) = (now, points);
                }

                Debug.Assert(_rate >= 0, "points committed only grow");
                return _rate;
            }
        }
    }
}
