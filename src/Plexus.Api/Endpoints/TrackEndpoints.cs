using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Geo;

namespace Plexus.Api.Endpoints;

/// <summary><c>GET /api/v1/devices/{id}/track</c>: a device's positions as a GeoJSON LineString (docs/geo.md#tracks).</summary>
internal static class TrackEndpoints
{
    private static readonly TimeSpan DefaultWindow = TimeSpan.FromHours(24);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapGet("/api/v1/devices/{id}/track", http => TrackAsync(http, context));

    private static async Task TrackAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.Tracks, "tracks are") is not { } tracks)
        {
            return;
        }

        string device = http.Request.RouteValues["id"] as string ?? string.Empty;
        var now = context.Time.GetUtcNow();
        if (!TryTime(http, "to", now, out var to, out string? problem)
            || !TryTime(http, "from", to - DefaultWindow, out var from, out problem)
            || !TryLimit(http, out int limit, out problem)
            || !TryMaxPoints(http, out int? maxPoints, out problem))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", problem!);
            return;
        }

        if (from >= to)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"from ({from:O}) must be before to ({to:O})");
            return;
        }

        long fromNs = ToUnixNs(from);
        long toNs = ToUnixNs(to);
        var track = await Task.Run(
            () => maxPoints is { } most ? tracks.ReadThinned(device, fromNs, toNs, most, http.RequestAborted) : tracks.Read(device, fromNs, toNs, limit, http.RequestAborted),
            http.RequestAborted);
        if (track.Points.Count == 0)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found",
                $"no positions of device \"{device}\" in main.positions from {from.UtcDateTime:O} to {to.UtcDateTime:O}; widen ?from=&to= (RFC 3339), or check that positions are written with device=\"{device}\"");
            return;
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/geo+json; charset=utf-8";
        await using var json = new Utf8JsonWriter(http.Response.Body, PlexusApi.JsonOptions);
        json.WriteStartObject();
        json.WriteString("type", "Feature");
        json.WriteStartObject("geometry");

        // A LineString needs two positions; a single fix is shown as the Point it is.
        bool line = track.Points.Count > 1;
        json.WriteString("type", line ? "LineString" : "Point");
        json.WritePropertyName("coordinates");
        if (line)
        {
            json.WriteStartArray();
        }

        foreach (var point in track.Points)
        {
            json.WriteStartArray();
            json.WriteNumberValue(point.Lon);
            json.WriteNumberValue(point.Lat);
            json.WriteEndArray();
        }

        if (line)
        {
            json.WriteEndArray();
        }

        json.WriteEndObject();
        json.WriteStartObject("properties");
        json.WriteString("device", device);
        json.WriteString("from", from.UtcDateTime);
        json.WriteString("to", to.UtcDateTime);
        json.WriteNumber("count", track.Points.Count);
        json.WriteBoolean("truncated", track.Truncated);
        json.WriteBoolean("thinned", track.Thinned);
        json.WriteNumber("distance_m", Math.Round(track.DistanceM, 3));
        json.WriteStartArray("times");
        foreach (var point in track.Points)
        {
            json.WriteStringValue(FormatNs(point.TimeNs));
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
        await json.FlushAsync(http.RequestAborted);
    }

    internal static bool TryTime(HttpContext http, string name, DateTimeOffset fallback, out DateTimeOffset value, out string? problem)
    {
        string? text = http.Request.Query[name];
        problem = null;
        if (string.IsNullOrEmpty(text))
        {
            value = fallback;
            return true;
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value))
        {
            return true;
        }

        problem = $"{name}: \"{text}\" is not an RFC 3339 time, e.g. 2026-11-27T08:00:00Z";
        return false;
    }

    private static bool TryLimit(HttpContext http, out int limit, out string? problem)
    {
        string? text = http.Request.Query["limit"];
        problem = null;
        limit = TrackReader.DefaultLimit;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) && limit is > 0 and <= TrackReader.MaxLimit)
        {
            return true;
        }

        problem = $"limit: must be a whole number from 1 to {TrackReader.MaxLimit} (default {TrackReader.DefaultLimit})";
        return false;
    }

    /// <summary><c>max_points</c>: the whole range thinned to at most that many positions, instead of the first <c>limit</c>.</summary>
    private static bool TryMaxPoints(HttpContext http, out int? maxPoints, out string? problem)
    {
        string? text = http.Request.Query["max_points"];
        problem = null;
        maxPoints = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value is >= 2 and <= TrackReader.MaxLimit)
        {
            maxPoints = value;
            return true;
        }

        problem = $"max_points: must be a whole number from 2 to {TrackReader.MaxLimit}";
        return false;
    }

    internal static long ToUnixNs(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;

    /// <summary>RFC 3339 with all nine digits of the nanoseconds, as stored.</summary>
    internal static string FormatNs(long unixNs)
    {
        long seconds = Math.DivRem(unixNs, 1_000_000_000L, out long nanos);
        if (nanos < 0)
        {
            seconds--;
            nanos += 1_000_000_000L;
        }

        var time = DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;
        return time.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." + nanos.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }
}
