using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Query;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Api.Endpoints;

/// <summary>
/// `POST /api/v1/sql`: read-only SQL over everything stored, answered as JSON or CSV while the engine produces it
/// (docs/http-api.md#querying-post-apiv1sql).
/// </summary>
internal static class SqlEndpoints
{
    /// <summary>How the end of a CSV answer is told: CSV has no place for it in the data.</summary>
    public const string TruncatedTrailer = "X-Plexus-Truncated";

    /// <summary>After an error that came once rows were already sent, its message, in a CSV answer's trailers.</summary>
    public const string ErrorTrailer = "X-Plexus-Error";

    private const int MaxSqlBodyBytes = 1024 * 1024;

    // The window between the engine and the socket: enough to keep both busy, small beside any memory limit.
    private static readonly PipeOptions AnswerPipe = new(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/sql", async http =>
        {
            long started = context.Time.GetTimestamp();
            await QueryAsync(http, context);
            context.Statistics.SqlAnswered(context.Time.GetElapsedTime(started), http.Response.StatusCode >= 400);
        });
    }

    private static async Task QueryAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, Auth.ApiScope.Read, namespaced: true) is not { } principal)
        {
            return;
        }

        if (await JsonBodies.ReadBoundedAsync(http, MaxSqlBodyBytes, $"the body is larger than {MaxSqlBodyBytes / 1024} KiB; one SQL statement fits well within that") is not { } body)
        {
            return;
        }

        string? sql;
        string? db;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException("expected a JSON object");
            }

            sql = document.RootElement.TryGetProperty("sql", out var sqlElement) && sqlElement.ValueKind == JsonValueKind.String ? sqlElement.GetString() : null;
            db = document.RootElement.TryGetProperty("db", out var dbElement) && dbElement.ValueKind == JsonValueKind.String ? dbElement.GetString() : null;
        }
        catch (JsonException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "the body must be JSON like {\"sql\": \"SELECT 1\", \"db\": \"main\"}: " + error.Message);
            return;
        }

        if (string.IsNullOrWhiteSpace(sql))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "the body has no \"sql\" string: send {\"sql\": \"SELECT 1\"}");
            return;
        }

        // A token limited to namespaces reads only those: its default namespace is its first, and the query's plan may
        // touch no table outside them (checked in the query service).
        if (principal.Namespaces is { } allowed)
        {
            db ??= allowed[0];
            if (!Namespaces.TryNormalize(db, out string normalized, out _) || !principal.MayUse(normalized))
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", $"{principal} may read namespace(s) {string.Join(", ", allowed)} only, not \"{db}\"");
                return;
            }
        }

        var format = WantsCsv(http.Request) ? QueryResultFormat.Csv : QueryResultFormat.Json;
        var pipe = new Pipe(AnswerPipe);
        RunningQuery running;
        try
        {
            running = await context.Queries!.StartAsync(new QueryRequest(sql, db, principal.Namespaces), format, pipe.Writer, PlexusApi.JsonOptions, http.RequestAborted);
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

        // From here the status is sent: how the answer ends is in the answer (JSON) or its trailers (CSV).
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = format == QueryResultFormat.Csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
        var trailers = format == QueryResultFormat.Csv ? AnswerTrailers.Begin(http) : null;
        try
        {
            var output = trailers?.Body ?? http.Response.Body;
            await pipe.Reader.CopyToAsync(output, http.RequestAborted);
            await pipe.Reader.CompleteAsync();
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ConnectionResetException)
        {
            // The client left: the query's thread sees the pipe closed (or the cancellation) and stops.
            await pipe.Reader.CompleteAsync(error);
            await running.Completion;
            return;
        }

        var outcome = await running.Completion;
        if (trailers is not null)
        {
            await trailers.EndAsync(outcome);
        }

        context.Logger.LogDebug("Query returned {Rows} rows, {Bytes} bytes, ended {End}", outcome.Rows, outcome.Bytes, outcome.End);
    }

    private static bool WantsCsv(HttpRequest request)
    {
        string accept = request.Headers.Accept.ToString();
        return accept.Contains("text/csv", StringComparison.OrdinalIgnoreCase) ||
            string.Equals(request.Query["format"], "csv", StringComparison.OrdinalIgnoreCase);
    }
}
