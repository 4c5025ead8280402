using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Ingest.Import;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Streaming;
using Plexus.Query;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Api.Endpoints;

/// <summary>
/// <c>POST /api/v1/import?format=&amp;into=</c> (scope write): a CSV, JSON-lines, line-protocol or Parquet file streamed in,
/// decoded row by row by the decoders of <c>Plexus.Ingest.Import</c>, and stored through the ingest pipeline in batches,
/// each durable before the next is read; answered once every batch is, with the rows stored and the first refused
/// rows named by row, line and column (docs/export-import.md).
/// </summary>
internal static class ImportEndpoints
{
    /// <summary>Points per write: a batch is committed, durably, before more of the body is read.</summary>
    public const int BatchPoints = 5000;

    private static readonly PointBatchPool Batches = new();

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapPost("/api/v1/import", AuditTrail.Audited(context, "import", "namespace", null, http => ImportAsync(http, context)));

    private static async Task ImportAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Write, namespaced: true) is not { } principal)
        {
            return;
        }

        var query = http.Request.Query;
        if (!ImportFormats.TryParse(query["format"], out var format))
        {
            await Invalid(http, "format", $"format \"{query["format"]}\" is not one of {ImportFormats.Names}");
            return;
        }

        string into = query["into"].ToString();
        int dot = into.IndexOf('.', StringComparison.Ordinal);
        string nsText = dot < 0 ? into : into[..dot];
        string? measurement = dot < 0 ? null : into[(dot + 1)..];
        if (!Namespaces.TryNormalize(nsText, out string ns, out string? nsError))
        {
            await Invalid(http, "into", nsError!);
            return;
        }

        if (format == ImportFormat.LineProtocol ? measurement is not null : string.IsNullOrEmpty(measurement))
        {
            await Invalid(http, "into", format == ImportFormat.LineProtocol
                ? $"line protocol names its measurements: give into={ns} (a namespace), not \"{into}\""
                : $"a {format.Name()} import needs into=namespace.measurement, e.g. into=main.readings; the file's rows do not name one");
            return;
        }

        AuditTrail.Target(http, measurement is null ? ns : ns + "." + measurement, format.Name());
        if (!principal.MayUse(ns))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may write only to namespace(s) {string.Join(", ", principal.Namespaces ?? [])}, not \"{ns}\"");
            return;
        }

        if (!TimePrecisions.TryParse(query["precision"], out var precision))
        {
            await Invalid(http, "precision", $"precision \"{query["precision"]}\" is not one of ns, us (u), ms, s");
            return;
        }

        string? timeColumn = query["time_column"];
        string[]? tagColumns = query["tag_columns"].ToString() is { Length: > 0 } list ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null;
        long maxBytes = context.Options.MaxImportBytes;
        if (http.Request.ContentLength > maxBytes)
        {
            await TooLargeAsync(http, maxBytes, 0);
            return;
        }

        if (await WriteEndpoints.OpenBodyAsync(http) is not { } body)
        {
            return;
        }

        string? staged = null;
        Task<ExportOutcome>? parquetReading = null;
        Pipe? parquetPipe = null;
        try
        {
            if (format == ImportFormat.Parquet)
            {
                staged = context.Queries!.NewStagingPath();
                if (!await StageAsync(body, staged, maxBytes, http.RequestAborted))
                {
                    await TooLargeAsync(http, maxBytes, 0);
                    return;
                }

                parquetPipe = new Pipe();
                try
                {
                    parquetReading = await context.Queries.StartParquetAsCsvAsync(staged, tagColumns, parquetPipe.Writer, http.RequestAborted);
                }
                catch (QueryFailedException error)
                {
                    await Invalid(http, "body", "the body does not read as Parquet: " + error.Message);
                    return;
                }

                body = parquetPipe.Reader.AsStream();
            }

            await RunAsync(http, context, principal, ns, measurement, format, body, precision, timeColumn, tagColumns, maxBytes);
        }
        catch (QueryBusyException error)
        {
            await ApiErrors.QueryNotStartedAsync(http, context.Logger, error);
        }
        finally
        {
            if (parquetPipe is not null)
            {
                await parquetPipe.Reader.CompleteAsync();
            }

            if (parquetReading is not null)
            {
                await parquetReading;
            }

            if (staged is not null)
            {
                File.Delete(staged);
            }
        }
    }

    private static async Task RunAsync(HttpContext http, ApiContext context, ApiPrincipal principal, string ns, string? measurement, ImportFormat format, Stream body,
        TimePrecision precision, string? timeColumn, string[]? tagColumns, long maxBytes)
    {
        long now = context.Time.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
        int maxLine = (int)Math.Min(int.MaxValue - 64, context.Options.MaxBodyBytes);
        var reader = new ImportReader(format, body, measurement, maxLine, new LineProtocolOptions(precision, now), timeColumn, tagColumns);
        var errors = new ImportErrors(context.Options.MaxReportedErrors);
        long written = 0;
        long refusedByStore = 0;
        var batch = Batches.Rent();
        try
        {
            bool more = true;
            while (more)
            {
                batch.Reset();
                try
                {
                    more = await reader.ReadAsync(batch, BatchPoints, errors, http.RequestAborted);
                }
                catch (ImportFramingException error)
                {
                    await ReportAsync(http, context, ns, reader, written, errors, refusedByStore, StatusCodes.Status400BadRequest, error.Message);
                    return;
                }
                catch (InvalidBodyException error)
                {
                    await ReportAsync(http, context, ns, reader, written, errors, refusedByStore, StatusCodes.Status400BadRequest, error.Message);
                    return;
                }

                if (reader.BytesRead > maxBytes)
                {
                    await TooLargeAsync(http, maxBytes, written);
                    return;
                }

                if (batch.Count == 0)
                {
                    continue;
                }

                try
                {
                    var result = await context.Writer!.WriteAsync(ns, batch, CancellationToken.None);
                    written += result.PointsWritten;
                    foreach (var rejected in result.Rejected)
                    {
                        refusedByStore++;
                        errors.Add(0, new Ingest.IngestError(Ingest.IngestErrorKind.Type, null, rejected.Line, rejected.Reason));
                    }
                }
                catch (StoreUnavailableException error)
                {
                    await ApiErrors.StoreUnavailableAsync(http, context.Logger, error);
                    return;
                }
                catch (SchemaLimitException refusal)
                {
                    await ReportAsync(http, context, ns, reader, written, errors, refusedByStore, StatusCodes.Status400BadRequest,
                        $"a batch of {batch.Count} rows was refused whole: {refusal.Message}; the {written} rows before it are stored");
                    return;
                }
            }
        }
        finally
        {
            Batches.Return(batch);
        }

        context.Statistics.LinesRefused((int)Math.Min(int.MaxValue, errors.Count));
        context.Logger.LogInformation("{Principal} imported {Written} of {Rows} rows ({Format}) into {Namespace}", principal.AuditName, written, reader.Rows, format.Name(), ns);
        await ReportAsync(http, context, ns, reader, written, errors, refusedByStore, StatusCodes.Status200OK, null);
    }

    /// <summary>Writes the body to the staging file, false once it passes <paramref name="maxBytes"/>.</summary>
    private static async Task<bool> StageAsync(Stream body, string path, long maxBytes, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, FileOptions.Asynchronous);
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
            if (total > maxBytes)
            {
                return false;
            }

            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }

        return true;
    }

    private static Task ReportAsync(HttpContext http, ApiContext context, string ns, ImportReader reader, long written, ImportErrors errors, long refusedByStore, int status, string? failure)
    {
        AuditTrail.Detail(http, $"{written} of {reader.Rows} rows written, {errors.Count} refused");
        void Members(Utf8JsonWriter json)
        {
            json.WriteString("namespace", ns);
            json.WriteNumber("rows", reader.Rows);
            json.WriteNumber("written", written);
            json.WriteNumber("rejected", errors.Count);
            json.WriteBoolean("errors_truncated", errors.Count > errors.Listed.Count);
            json.WriteStartArray("errors");
            foreach (var error in errors.Listed)
            {
                json.WriteStartObject();
                if (error.Row > 0)
                {
                    json.WriteNumber("row", error.Row);
                }

                json.WriteNumber("line", error.Error.Line);
                if (error.Error.Path is not null)
                {
                    json.WriteString("column", error.Error.Path);
                }

                json.WriteString("reason", error.Error.Reason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        if (failure is not null)
        {
            string errorId = ApiErrors.NewErrorId();
            context.Logger.LogInformation("Import into {Namespace} stopped: {Message} (error id {ErrorId})", ns, failure, errorId);
            return ApiErrors.WriteAsync(http, status, "invalid", failure, errorId, Members);
        }

        return JsonBodies.WriteAsync(http, status, Members);
    }

    private static Task TooLargeAsync(HttpContext http, long maxBytes, long written) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, "request too large",
            $"the import is larger than the limit of {maxBytes} bytes (after decompression); {written} rows before the limit are stored; split the file or raise --max-import-size",
            extra: json => json.WriteNumber("written", written));

    private static Task Invalid(HttpContext http, string field, string message) =>
        ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", message, extra: json => json.WriteString("field", field));
}
