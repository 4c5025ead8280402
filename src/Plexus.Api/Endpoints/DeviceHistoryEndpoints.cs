using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Devices;

namespace Plexus.Api.Endpoints;

/// <summary>
/// <c>GET /api/v1/devices/{id}/history</c>: one numeric field of a device as min/max per bucket, the field chosen by the
/// server when none is given (docs/devices.md#history-chart-get-apiv1devicesidhistory). The console sends it before the
/// device call rather than after it, so its chart does not wait for the device's field list.
/// </summary>
internal static class DeviceHistoryEndpoints
{
    private const int DefaultBuckets = 600;
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(1);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapGet("/api/v1/devices/{id}/history", http => HistoryAsync(http, context));

    private static async Task HistoryAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.DeviceState, "device history is") is not { } state)
        {
            return;
        }

        string device = http.Request.RouteValues["id"] as string ?? string.Empty;
        string? measurement = NullIfEmpty(http.Request.Query["measurement"]);
        string? field = NullIfEmpty(http.Request.Query["field"]);
        var now = context.Time.GetUtcNow();
        string? problem = null;
        if (!TrackEndpoints.TryTime(http, "to", now, out var to, out problem)
            || !TrackEndpoints.TryTime(http, "from", to - DefaultWindow, out var from, out problem)
            || !TryBuckets(http, out int buckets, out problem))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", problem!);
            return;
        }

        if (from >= to)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"from ({from:O}) must be before to ({to:O})");
            return;
        }

        if ((measurement is null) != (field is null))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid",
                $"give measurement and field together (e.g. ?measurement=telemetry&field=temperature), or neither for the device's first numeric field; got only {(measurement is null ? "field" : "measurement")}");
            return;
        }

        DeviceHistoryAnswer answer;
        try
        {
            answer = await Task.Run(() => state.History(device, measurement, field, TrackEndpoints.ToUnixNs(from), TrackEndpoints.ToUnixNs(to), buckets), http.RequestAborted);
        }
        catch (DeviceHistoryFieldException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found", error.Message);
            return;
        }

        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("device", device);
            JsonBodies.WriteStringOrNull(json, "measurement", answer.Measurement);
            JsonBodies.WriteStringOrNull(json, "field", answer.Field);
            json.WriteString("from", from.UtcDateTime);
            json.WriteString("to", to.UtcDateTime);
            json.WriteNumber("bucket_ms", answer.BucketMs);
            json.WriteStartArray("buckets");
            for (int i = 0; i < answer.BucketStartsMs.Length; i++)
            {
                json.WriteStartArray();
                json.WriteNumberValue(answer.BucketStartsMs[i]);
                json.WriteNumberValue(answer.Lows[i]);
                json.WriteNumberValue(answer.Highs[i]);
                json.WriteEndArray();
            }

            json.WriteEndArray();
        });
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static bool TryBuckets(HttpContext http, out int buckets, out string? problem)
    {
        string? text = http.Request.Query["buckets"];
        problem = null;
        buckets = DefaultBuckets;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out buckets) && buckets is >= 1 and <= DeviceHistory.MaxBuckets)
        {
            return true;
        }

        problem = $"buckets: must be a whole number from 1 to {DeviceHistory.MaxBuckets} (default {DefaultBuckets}), e.g. the chart's width in pixels";
        return false;
    }
}
