using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Ingest;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Streaming;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Api.Endpoints;

/// <summary>
/// The InfluxDB-compatible write endpoints, `/write` (1.x: db, rp, precision) and `/api/v2/write`
/// (2.x: bucket, org, precision). A request is decoded as it streams in, its good lines are stored
/// durably, and only then is it answered: 204 when every line was stored, 400 listing the lines that
/// were not (the others are stored, as InfluxDB does).
/// </summary>
internal static class WriteEndpoints
{
    // Batches are reused across requests; a batch keeps its grown arrays.
    private static readonly PointBatchPool Batches = new();

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/write", http => WriteAsync(http, context, http.Request.Query["db"]));
        endpoints.MapPost("/api/v2/write", http => WriteAsync(http, context, http.Request.Query["bucket"]));
    }

    private static async Task WriteAsync(HttpContext http, ApiContext context, string? requestedNamespace)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Write, allowDevice: true, namespaced: true) is not { } principal)
        {
            return;
        }

        if (!Namespaces.TryNormalize(requestedNamespace, out string ns, out string? namespaceError))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", namespaceError!);
            return;
        }

        if (!principal.MayUse(ns))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden",
                $"token \"{principal.Name}\" may write only to namespace{(principal.Namespaces!.Count == 1 ? "" : "s")} {string.Join(", ", principal.Namespaces)}, not \"{ns}\"; set db or bucket to one of them, or use a token for namespace \"{ns}\"");
            return;
        }

        // A device's data lives where its MQTT data lives, so that one `device` column joins the registry.
        if (principal.Kind == ApiPrincipalKind.Device && ns != Namespaces.Default)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden",
                $"a device token writes only to namespace {Namespaces.Default}, not \"{ns}\"; leave out bucket/db or use an API token with scope write");
            return;
        }

        string? precisionText = http.Request.Query["precision"];
        if (!TimePrecisions.TryParse(precisionText, out var precision))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid",
                $"precision \"{precisionText}\" is not one of ns, us (u), ms, s");
            return;
        }

        long maxBytes = context.Options.MaxBodyBytes;
        if (http.Request.ContentLength > maxBytes)
        {
            await TooLargeAsync(http, maxBytes);
            return;
        }

        if (await OpenBodyAsync(http) is not { } body)
        {
            return;
        }

        var batch = RentBatch();
        PointBatch? attributed = null;
        var errors = new LineErrorSink(context.Options.MaxReportedErrors);
        try
        {
            long now = context.Time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
            var options = new LineProtocolOptions(precision, now);
            StreamDecodeResult decoded;
            try
            {
                decoded = await LineProtocolStream.DecodeAsync(body, options, batch, errors, maxBytes, http.RequestAborted);
            }
            catch (InvalidBodyException error)
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", error.Message);
                return;
            }

            if (decoded.Outcome == StreamDecodeOutcome.TooLarge)
            {
                await TooLargeAsync(http, maxBytes);
                return;
            }

            int written = 0;
            var rejected = new List<LineError>();
            if (principal.Kind == ApiPrincipalKind.Device && batch.Count > 0)
            {
                attributed = RentBatch();
                MeasurementAllowList? allowed = null;
                context.Devices?.AllowLists.TryGet(principal.DeviceId!, out allowed);
                DeviceAttribution.CopyWithDevice(batch, Encoding.UTF8.GetBytes(principal.DeviceId!), attributed, allowed, rejected);
            }

            if ((attributed ?? batch).Count > 0)
            {
                try
                {
                    var result = await context.Writer!.WriteAsync(ns, attributed ?? batch, CancellationToken.None);
                    written = result.PointsWritten;
                    rejected.AddRange(result.Rejected);
                }
                catch (StoreUnavailableException error)
                {
                    // A full disk or a failing one: nothing is stored, and the same request may be sent again.
                    await ApiErrors.StoreUnavailableAsync(http, context.Logger, error);
                    return;
                }
                catch (SchemaLimitException refusal)
                {
                    await SchemaLimitAsync(http, context, ns, refusal);
                    return;
                }
                catch (StorageException error)
                {
                    // The engine's message may name server files: it goes to the log, the client gets the error id.
                    string errorId = ApiErrors.NewErrorId();
                    context.Logger.LogError(error, "Write to namespace {Namespace} failed (error id {ErrorId})", ns, errorId);
                    await ApiErrors.WriteAsync(http, StatusCodes.Status500InternalServerError, "internal error",
                        $"the data could not be stored; nothing of this request was written (the server log has the details under error id {errorId})", errorId);
                    return;
                }
            }

            int rejectedCount = errors.Count + rejected.Count;
            context.Statistics.LinesRefused(rejectedCount);
            if (rejectedCount == 0)
            {
                http.Response.StatusCode = StatusCodes.Status204NoContent;
                return;
            }

            await PartialWriteAsync(http, context, ns, written, errors, rejected, rejectedCount);
        }
        finally
        {
            ReturnBatch(batch);
            if (attributed is not null)
            {
                ReturnBatch(attributed);
            }
        }
    }

    private static Task PartialWriteAsync(HttpContext http, ApiContext context, string ns, int written, LineErrorSink parseErrors, List<LineError> rejected, int rejectedCount)
    {
        var listed = parseErrors.Errors.Concat(rejected).OrderBy(e => e.Line).Take(context.Options.MaxReportedErrors).ToList();
        string errorId = ApiErrors.NewErrorId();
        string message = $"partial write: {rejectedCount} line{(rejectedCount == 1 ? "" : "s")} rejected, {written} point{(written == 1 ? "" : "s")} written; first: {listed[0]}";
        context.Logger.LogInformation("Write to {Namespace}: {Message} (error id {ErrorId})", ns, message, errorId);
        return ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, errorId, json =>
        {
            json.WriteNumber("written", written);
            json.WriteNumber("rejected", rejectedCount);
            json.WriteBoolean("errors_truncated", rejectedCount > listed.Count);
            json.WriteStartArray("errors");
            foreach (var error in listed)
            {
                json.WriteStartObject();
                json.WriteNumber("line", error.Line);
                json.WriteString("text", error.Text);
                json.WriteString("reason", error.Reason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    /// <summary>
    /// A whole request refused by a schema limit, nothing of it stored: 413 for a per-write limit (a smaller request
    /// would be accepted; Telegraf splits a batch on 413), 400 for a total such as the namespace limit. The body names
    /// the limit's option, its value and what the write would have reached.
    /// </summary>
    private static Task SchemaLimitAsync(HttpContext http, ApiContext context, string ns, SchemaLimitException refusal)
    {
        string errorId = ApiErrors.NewErrorId();
        context.Logger.LogInformation("Write to {Namespace} refused: {Message} (error id {ErrorId})", ns, refusal.Message, errorId);
        return refusal.PerWrite
            ? ApiErrors.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "request too large", refusal.Message, errorId, Limit)
            : ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", refusal.Message, errorId, Limit);

        void Limit(Utf8JsonWriter json)
        {
            json.WriteString("limit", refusal.Option);
            json.WriteNumber("max", refusal.Limit);
            json.WriteNumber("value", refusal.Value);
        }
    }

    private static Task TooLargeAsync(HttpContext http, long maxBytes) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "request too large",
            $"the request body is larger than the limit of {maxBytes} bytes (after decompression); split it into smaller batches or raise --max-body-size");

    private static PointBatch RentBatch() => Batches.Rent();

    private static void ReturnBatch(PointBatch batch) => Batches.Return(batch);

    /// <summary>The request body, decompressed as its Content-Encoding says; null after a 415 for an encoding it cannot read.</summary>
    internal static async Task<Stream?> OpenBodyAsync(HttpContext http)
    {
        try
        {
            return LineProtocolStream.OpenBody(http.Request.Body, http.Request.Headers.ContentEncoding);
        }
        catch (UnsupportedContentEncodingException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status415UnsupportedMediaType, "invalid", error.Message);
            return null;
        }
    }
}
