using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Devices;
using Plexus.Query;

namespace Plexus.Api.Endpoints;

/// <summary>The live-state part of <c>GET /api/v1/devices/{id}</c> and <c>GET /api/v1/dead-letters</c> (docs/devices.md#live-state).</summary>
internal static class DeviceStateEndpoints
{
    private const int MaxDeadLetterDevices = 10_000;

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapGet("/api/v1/devices/{id}/state", http => StateAsync(http, context));

    public sealed record LiveView(DeviceStateSnapshot? State, IReadOnlyList<LastValue> LastValues);

    public static LiveView? Read(ApiContext context, string id) =>
        context.DeviceState is not { } state ? null : new LiveView(state.Get(id), state.LastValues(id));

    public static void Write(Utf8JsonWriter json, LiveView? live)
    {
        if (live is null)
        {
            return;
        }

        var state = live.State;
        json.WriteBoolean("online", state?.Online ?? false);
        WriteTime(json, "last_seen", state?.LastSeen);
        json.WritePropertyName("connectivity");
        if (state?.LastConnectivityReason is { } reason)
        {
            json.WriteStartObject();
            json.WriteString("reason", reason);
            WriteTime(json, "time", state.LastConnectivityTime);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNullValue();
        }

        json.WritePropertyName("position");
        if (state?.Position is { } position)
        {
            json.WriteStartObject();
            json.WriteNumber("lat", position.Lat);
            json.WriteNumber("lon", position.Lon);
            WriteTime(json, "time", position.Time);
            json.WriteEndObject();
        }
        else
        {
            json.WriteNullValue();
        }

        json.WritePropertyName("properties");
        json.WriteStartObject();
        foreach (var (name, property) in state?.Properties ?? new Dictionary<string, PropertySnapshot>())
        {
            json.WritePropertyName(name);
            json.WriteStartObject();
            json.WritePropertyName("value");
            switch (property.Kind)
            {
                case ReportedKind.Number or ReportedKind.Json:
                    json.WriteRawValue(property.Value);
                    break;
                case ReportedKind.Boolean:
                    json.WriteBooleanValue(property.Number == 1);
                    break;
                case ReportedKind.Null:
                    json.WriteNullValue();
                    break;
                default:
                    json.WriteStringValue(property.Value);
                    break;
            }

            WriteTime(json, "time", property.Time);
            json.WriteEndObject();
        }

        json.WriteEndObject();

        json.WritePropertyName("last_values");
        json.WriteStartObject();
        foreach (var measurement in live.LastValues.GroupBy(v => v.Measurement, StringComparer.Ordinal))
        {
            json.WritePropertyName(measurement.Key);
            json.WriteStartObject();
            foreach (var value in measurement)
            {
                json.WritePropertyName(value.Field);
                json.WriteStartObject();
                json.WritePropertyName("value");
                QueryResultWriter.WriteValue(json, value.Value);
                WriteTime(json, "time", value.Time);
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
        json.WriteNumber("dead_letters", state?.DeadLetters ?? 0);
    }

    /// <summary>
    /// The live state of any device the server has data of, registered or not (the console's device page): a device
    /// that sends without being registered (e.g. over HTTP line protocol with an API token) has no registry entry for
    /// <c>GET /api/v1/devices/{id}</c> to show, but its data is there all the same.
    /// </summary>
    private static async Task StateAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.DeviceState, "device state is") is not { } state)
        {
            return;
        }

        string id = http.Request.RouteValues["id"] as string ?? string.Empty;
        var device = context.Devices?.Get(id);
        var live = new LiveView(state.Get(id), state.LastValues(id));
        if (device is null && live.State is null && live.LastValues.Count == 0)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found",
                $"device \"{id}\" is not registered and has sent no data; register it with POST /api/v1/devices, or check the id (it is the device tag of its points)");
            return;
        }

        await JsonBodies.WriteAsync(http, StatusCodes.Status200OK, json =>
        {
            json.WriteString("id", id);
            json.WriteBoolean("registered", device is not null);
            if (device?.Parent is { } parent)
            {
                json.WriteString("parent", parent);
            }
            else
            {
                json.WriteNull("parent");
            }

            Write(json, live);
        });
    }

    /// <summary>Dead-letter counters: the total and per device, highest first.</summary>
    public static async Task DeadLettersAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.DeviceState, "device state is") is not { } state)
        {
            return;
        }

        string? limitText = http.Request.Query["limit"];
        int limit = 100;
        if (!string.IsNullOrEmpty(limitText) && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit > MaxDeadLetterDevices))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"limit must be a whole number 0–{MaxDeadLetterDevices}");
            return;
        }

        var perDevice = state.DeadLettersPerDevice();
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(http.Response.Body, PlexusApi.JsonOptions);
        json.WriteStartObject();
        json.WriteNumber("total", state.DeadLettersTotal);
        json.WriteNumber("device_count", perDevice.Count);
        json.WriteStartArray("devices");
        foreach (var (device, count) in perDevice.Take(limit))
        {
            json.WriteStartObject();
            json.WriteString("device", device);
            json.WriteNumber("dead_letters", count);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(http.RequestAborted);
    }

    /// <summary>A time in UTC, or null.</summary>
    internal static void WriteTime(Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            json.WriteString(name, t.UtcDateTime);
        }
        else
        {
            json.WriteNull(name);
        }
    }
}
