using System.Buffers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Devices;
using Plexus.Pipeline.Devices;
using Plexus.Storage;

namespace Plexus.Api.Endpoints;

/// <summary>
/// The device API over HTTP, for devices that speak HTTP but not MQTT: the payloads of the MQTT device topics
/// (<c>devices/{id}/telemetry[/{measurement}]</c>, <c>senml</c>, <c>lp</c>, <c>location</c>, <c>state</c>) posted to
/// <c>/api/v1/devices/{id}/…</c>, decoded and stored by the same pipeline stage as an MQTT message and answered once
/// the data is durable: 204 when all of it is stored, 400 naming why not (the reasons a dead letter records).
/// </summary>
internal static class DeviceDataEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/devices/{id}/telemetry", http => IngestAsync(http, context, DeviceTopicKind.Telemetry, DeviceTopic.DefaultTelemetryMeasurement));
        endpoints.MapPost("/api/v1/devices/{id}/telemetry/{measurement}", http => IngestAsync(http, context, DeviceTopicKind.Telemetry, (string)http.Request.RouteValues["measurement"]!));
        endpoints.MapPost("/api/v1/devices/{id}/senml", http => IngestAsync(http, context, DeviceTopicKind.SenMl, DeviceTopic.SenMlMeasurement));
        endpoints.MapPost("/api/v1/devices/{id}/lp", http => IngestAsync(http, context, DeviceTopicKind.LineProtocol, string.Empty));
        endpoints.MapPost("/api/v1/devices/{id}/location", http => IngestAsync(http, context, DeviceTopicKind.Location, DeviceDataNames.Positions));
        endpoints.MapPost("/api/v1/devices/{id}/state", http => IngestAsync(http, context, DeviceTopicKind.State, DeviceDataNames.StateHistory));
    }

    private static async Task IngestAsync(HttpContext http, ApiContext context, DeviceTopicKind kind, string measurement)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Write, allowDevice: true) is not { } principal)
        {
            return;
        }

        if (context.DeviceMessages is not { } messages)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "the device API is not available on this server");
            return;
        }

        string deviceId = (string)http.Request.RouteValues["id"]!;
        if (principal.Kind == ApiPrincipalKind.Device && !string.Equals(principal.DeviceId, deviceId, StringComparison.Ordinal))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden",
                $"device \"{principal.DeviceId}\" may send data only as itself, to /api/v1/devices/{principal.DeviceId}/…, not as \"{deviceId}\"");
            return;
        }

        if (!DeviceValidation.IsValidId(deviceId, out string? idProblem))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", idProblem!, extra: json => json.WriteString("field", "id"));
            return;
        }

        string? encoding = http.Request.Headers.ContentEncoding;
        if (!string.IsNullOrEmpty(encoding) && !string.Equals(encoding, "identity", StringComparison.OrdinalIgnoreCase))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status415UnsupportedMediaType, "invalid",
                $"Content-Encoding \"{encoding}\" is not supported here; device messages are small, send them uncompressed");
            return;
        }

        int maxBytes = (int)Math.Min(context.Options.MaxDeviceMessageBytes, int.MaxValue);
        if (await JsonBodies.ReadBoundedAsync(http, maxBytes,
            $"the message is larger than the limit of {maxBytes} bytes for a device message (the same as over MQTT); send smaller messages or raise --mqtt-max-message-size") is not { } body)
        {
            return;
        }

        var topic = new DeviceTopic(kind, deviceId, measurement);
        var payload = new ReadOnlySequence<byte>(body);
        string? contentType = MediaTypeOf(http.Request.ContentType);
        DeviceIngestOutcome outcome;
        try
        {
            outcome = await messages.IngestAsync(topic, payload, contentType);
        }
        catch (StoreUnavailableException error)
        {
            await ApiErrors.StoreUnavailableAsync(http, context.Logger, error);
            return;
        }
        catch (StorageException error)
        {
            // The engine's message may name server files: it goes to the log, the client gets the error id.
            string errorId = ApiErrors.NewErrorId();
            context.Logger.LogError(error, "Device message from {DeviceId} on {Path} could not be stored (error id {ErrorId})", deviceId, http.Request.Path.Value, errorId);
            await ApiErrors.WriteAsync(http, StatusCodes.Status500InternalServerError, "internal error",
                $"the message could not be stored; nothing of it was written (the server log has the details under error id {errorId})", errorId);
            return;
        }

        switch (outcome.Status)
        {
            case DeviceIngestStatus.Stored:
                http.Response.StatusCode = StatusCodes.Status204NoContent;
                return;

            case DeviceIngestStatus.PartlyStored:
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid",
                    $"partial write: {outcome.Refused} point{(outcome.Refused == 1 ? "" : "s")} refused, {outcome.Written} written; {outcome.Reason}", extra: json =>
                    {
                        json.WriteNumber("written", outcome.Written);
                        json.WriteNumber("rejected", outcome.Refused);
                    });
                return;

            default:
                // As over MQTT: nothing stored, the payload kept as a dead letter under the request's path.
                string reason = outcome.Reason ?? "rejected";
                await messages.RecordDeadLetterAsync(topic, http.Request.Path.Value ?? topic.Name(), payload, contentType, reason);
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", reason, extra: json =>
                {
                    json.WriteNumber("written", 0);
                    json.WriteBoolean("dead_letter", true);
                });
                return;
        }
    }

    /// <summary>The media type of a Content-Type header without its parameters (<c>application/senml+json; charset=utf-8</c>).</summary>
    private static string? MediaTypeOf(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return null;
        }

        int semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
        return (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
    }
}
