using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Query;
using Plexus.Query.Export;
using Plexus.Storage;
using Plexus.Storage.Deleting;
using Plexus.Storage.Exporting;
using Plexus.Storage.Schema;

namespace Plexus.Api.Endpoints;

/// <summary>
/// <c>POST /api/v1/export</c> (scope read, limited to the token's namespaces): one measurement's rows as CSV, JSON
/// lines, line protocol or Parquet, streamed while they are read (docs/export-import.md).
/// </summary>
internal static class ExportEndpoints
{
    /// <summary>Set on an export's answer: the columns and what each is (<c>time</c>, <c>tag:NAME</c>, <c>TYPE:NAME</c>), as the CSV header names them.</summary>
    public const string ColumnsHeader = "X-Plexus-Export-Columns";

    private const int MaxBodyBytes = 64 * 1024;

    private static readonly PipeOptions AnswerPipe = new(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapPost("/api/v1/export", AuditTrail.Audited(context, "export", "measurement", null, http => ExportAsync(http, context)));

    private static async Task ExportAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Read, namespaced: true) is not { } principal)
        {
            return;
        }

        const string Example = "{\"measurement\": \"main.readings\", \"format\": \"csv\", \"from\": \"2026-01-01\", \"to\": \"2026-01-02\", \"where\": \"device = 'truck_1'\"}";
        if (await JsonBodies.ReadBoundedAsync(http, MaxBodyBytes, $"the body is larger than {MaxBodyBytes / 1024} KiB; an export's parameters fit well within that") is not { } body)
        {
            return;
        }

        string? name, formatText, fromText, toText, whereText;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException("expected a JSON object");
            }

            name = Text(document.RootElement, "measurement");
            formatText = Text(document.RootElement, "format");
            fromText = Text(document.RootElement, "from");
            toText = Text(document.RootElement, "to");
            whereText = Text(document.RootElement, "where");
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"the body must be JSON like {Example}: {error.Message}");
            return;
        }

        int dot = name?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (name is null || dot <= 0 || dot == name.Length - 1)
        {
            await Invalid(http, "measurement", $"\"measurement\" must be namespace.measurement, e.g. main.readings (a measurement's own dots stay: main.cpu.load is measurement cpu.load); send {Example}");
            return;
        }

        if (!Namespaces.TryNormalize(name[..dot], out string ns, out string? nsError))
        {
            await Invalid(http, "measurement", nsError!);
            return;
        }

        if (!principal.MayUse(ns))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may read namespace(s) {string.Join(", ", principal.Namespaces ?? [])} only, not \"{ns}\"");
            return;
        }

        var format = ExportFormat.Csv;
        if (formatText is not null && !ExportFormats.TryParse(formatText, out format))
        {
            await Invalid(http, "format", $"format \"{formatText}\" is not one of {ExportFormats.Names}");
            return;
        }

        long? from = null;
        long? to = null;
        if (fromText is not null)
        {
            if (!DeleteTimes.TryParse(fromText, out long parsed))
            {
                await Invalid(http, "from", $"from: \"{fromText}\" is not a time; use {DeleteTimes.Example}");
                return;
            }

            from = parsed;
        }

        if (toText is not null)
        {
            if (!DeleteTimes.TryParse(toText, out long parsed))
            {
                await Invalid(http, "to", $"to: \"{toText}\" is not a time; use {DeleteTimes.Example}");
                return;
            }

            to = parsed;
        }

        TagPredicate? where = null;
        if (!string.IsNullOrWhiteSpace(whereText) && !TagPredicate.TryParse(whereText, out where, out string? problem))
        {
            await Invalid(http, "where", $"where: {problem}; write tag = 'value', tag IN ('a', 'b'), with AND, OR and parentheses");
            return;
        }

        var selection = new ExportSelection(ns, name[(dot + 1)..], from, to, where);

        // A copy of stored data leaving the server is what an audit of who read what needs first.
        AuditTrail.Target(http, ns + "." + selection.Measurement, (formatText ?? "csv") + (fromText is null && toText is null ? ", all time" : $", from {fromText ?? "the start"} to {toText ?? "the end"}") + (where is null ? "" : ", where " + (whereText!.Length <= 200 ? whereText : whereText[..200] + "…")));
        if (selection.Validate() is { } invalid)
        {
            await Invalid(http, "to", invalid);
            return;
        }

        var pipe = new Pipe(AnswerPipe);
        RunningExport running;
        try
        {
            running = await context.Queries!.StartExportAsync(selection, format, pipe.Writer, http.RequestAborted);
        }
        catch (ExportTargetNotFoundException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not_found", error.Message);
            return;
        }
        catch (DeletePredicateException error)
        {
            await Invalid(http, "where", error.Message);
            return;
        }
        catch (Exception error) when (ApiErrors.IsQueryNotStarted(error))
        {
            await ApiErrors.QueryNotStartedAsync(http, context.Logger, error);
            return;
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = ExportFormats.ContentType(format);
        http.Response.Headers[ColumnsHeader] = string.Join(",", running.Columns.Select(c => Uri.EscapeDataString(ExportFormats.CsvHeader(c))));
        try
        {
            await pipe.Reader.CopyToAsync(http.Response.Body, http.RequestAborted);
            await pipe.Reader.CompleteAsync();
        }
        catch (IOException error) when (!http.RequestAborted.IsCancellationRequested)
        {
            // The export failed after its first bytes: the status is sent, so the connection is cut, and a client never
            // mistakes the part it got for the whole measurement.
            await pipe.Reader.CompleteAsync(error);
            var failed = await running.Completion;
            context.Logger.LogWarning("Export of {Namespace}.{Measurement} failed after {Rows} rows: {Error}", ns, selection.Measurement, failed.Rows, failed.Error);
            http.Abort();
            return;
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ConnectionResetException)
        {
            await pipe.Reader.CompleteAsync(error);
            await running.Completion;
            return;
        }

        var outcome = await running.Completion;
        context.Logger.LogInformation("{Principal} exported {Rows} rows of {Namespace}.{Measurement} as {Format} ({Bytes} bytes)",
            principal.AuditName, outcome.Rows, ns, selection.Measurement, format, outcome.Bytes);
    }

    private static string? Text(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null ? null
        : value.ValueKind == JsonValueKind.Number ? value.GetRawText()
        : value.GetString();

    private static Task Invalid(HttpContext http, string field, string message) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, extra: json => json.WriteString("field", field));
}
