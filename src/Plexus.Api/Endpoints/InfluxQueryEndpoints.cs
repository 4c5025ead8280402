using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Primitives;
using Plexus.Api.Auth;
using Plexus.InfluxQL.Execution;
using Plexus.InfluxQL.Results;
using Plexus.InfluxQL.Syntax;
using Plexus.Query;
using Plexus.Storage.Schema;

namespace Plexus.Api.Endpoints;

/// <summary>
/// InfluxDB 1.x's query API, <c>GET</c>/<c>POST /query</c> (InfluxQL, docs/influxql.md), answered from Plexus's SQL,
/// and <c>/api/v2/query</c> (Flux), which Plexus does not answer but explains. Request errors are 400/401/403 with
/// the API's error body (which has InfluxDB 1.x's <c>error</c> member); once the query parses and the token may run
/// it, the answer is 200 and each statement's result carries its own error, as InfluxDB does.
/// </summary>
internal static class InfluxQueryEndpoints
{
    // A form body holds the query text and a few parameters; the longest dashboard queries are a few KiB.
    private const int MaxFormBytes = 1024 * 1024;

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapMethods("/query", ["GET", "POST"], http => QueryAsync(http, context));
        endpoints.MapMethods("/api/v2/query", ["GET", "POST"], http => FluxAsync(http, context));
    }

    private static async Task QueryAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Read) is not { } principal)
        {
            return;
        }

        var request = http.Request;
        Dictionary<string, StringValues>? form = null;
        if (HttpMethods.IsPost(request.Method) && request.HasFormContentType)
        {
            // The whole body is bounded before it is parsed (a chunked body included).
            if (await JsonBodies.ReadBoundedAsync(http, MaxFormBytes, $"the form body is larger than {MaxFormBytes / 1024} KiB; a query fits well within that") is not { } body)
            {
                return;
            }

            form = QueryHelpers.ParseQuery(Encoding.UTF8.GetString(body));
        }

        // Go's FormValue: a body parameter wins over the same one in the URL.
        string? Parameter(string name) => form is not null && form.TryGetValue(name, out var value) && !StringValues.IsNullOrEmpty(value)
            ? value[0]
            : request.Query.TryGetValue(name, out value) && value.Count > 0 ? value[0] : null;

        string? text = Parameter("q");
        if (string.IsNullOrWhiteSpace(text))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "missing required parameter \"q\": send the InfluxQL query, e.g. /query?db=mydb&q=SHOW+MEASUREMENTS");
            return;
        }

        if (!Namespaces.TryNormalize(Parameter("db"), out string database, out string? databaseError))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", databaseError!);
            return;
        }

        if (!InfluxOutputOptions.TryParseEpoch(Parameter("epoch"), out long? epoch))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"epoch \"{Parameter("epoch")}\" is not one of ns, u (µ), ms, s, m, h; leave it out for RFC 3339 times");
            return;
        }

        int chunkSize = InfluxOutputOptions.DefaultChunkSize;
        if (Parameter("chunk_size") is { Length: > 0 } chunkText && (!int.TryParse(chunkText, NumberStyles.None, CultureInfo.InvariantCulture, out chunkSize) || chunkSize <= 0))
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", $"chunk_size \"{chunkText}\" is not a positive whole number");
            return;
        }

        IReadOnlyList<Statement> statements;
        try
        {
            statements = InfluxQLParser.Parse(text);
        }
        catch (InfluxQLSyntaxException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", "error parsing query: " + error.Message);
            return;
        }

        // As InfluxDB authorizes a query before running any of it: a statement that changes the server needs write.
        foreach (var statement in statements)
        {
            if (statement is CreateDatabaseStatement or DeleteStatement or DropMeasurementStatement or DropDatabaseStatement or DeleteDataStatement)
            {
                // Deleting data is an admin's act, as on DELETE /api/v1/measurements.
                var needed = statement is CreateDatabaseStatement ? ApiScope.Write : ApiScope.Admin;
                if (!principal.Has(needed))
                {
                    await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden",
                        $"error authorizing query: {statement.Text} needs a token with scope {ApiScopes.Name(needed)}; {principal} may not");
                    return;
                }

                if (HttpMethods.IsGet(request.Method))
                {
                    http.Response.Headers.Allow = "POST";
                    await ApiErrors.WriteAsync(http, StatusCodes.Status405MethodNotAllowed, "method not allowed",
                        $"{statement.Text} changes the server: send it with POST /query, not GET");
                    return;
                }
            }
        }

        string accept = request.Headers.Accept.ToString();
        bool csv = accept.Contains("application/csv", StringComparison.OrdinalIgnoreCase) || accept.Contains("text/csv", StringComparison.OrdinalIgnoreCase);
        var queries = context.Queries!;
        var options = new InfluxOutputOptions(
            csv,
            Chunked: string.Equals(Parameter("chunked"), "true", StringComparison.OrdinalIgnoreCase),
            chunkSize,
            Pretty: string.Equals(Parameter("pretty"), "true", StringComparison.OrdinalIgnoreCase),
            epoch,
            queries.Options.MaxRows,
            queries.Options.MaxBytes);

        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8";
        http.Response.Headers["X-Influxdb-Version"] = HealthEndpoints.InfluxVersion;
        http.Response.Headers["X-Influxdb-Build"] = "OSS";
        var trailers = csv ? AnswerTrailers.Begin(http) : null;
        var writer = context.StoreWriter;
        var executor = new InfluxQueryExecutor(queries, writer is null ? null : writer.CreateNamespaceAsync, context.Time, writer is null ? null : (selection, cancellation) => DeleteEndpoints.DeleteAsync(context, principal, http.Connection.RemoteIpAddress?.ToString(), selection, cancellation));
        try
        {
            var outcome = await executor.RunAsync(statements, database, options, trailers?.Body ?? http.Response.Body, http.RequestAborted);
            if (trailers is not null)
            {
                await trailers.EndAsync(new QueryOutcome(outcome.Rows, outcome.Bytes, outcome.Truncated ? QueryEnd.RowLimit : QueryEnd.Complete, outcome.LastError));
            }

            context.Logger.LogDebug("InfluxQL query of {Statements} statements returned {Rows} rows, {Bytes} bytes", statements.Count, outcome.Rows, outcome.Bytes);
        }
        catch (Exception error) when (error is OperationCanceledException or IOException or ConnectionResetException)
        {
            // The client left; the query's thread has seen the pipe close and stopped.
        }
    }

    private static async Task FluxAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, ApiScope.Read) is null)
        {
            return;
        }

        await ApiErrors.WriteAsync(http, StatusCodes.Status501NotImplemented, "not implemented",
            "Flux is not supported by Plexus: query with InfluxQL on /query (the InfluxDB 1.x API: GET /query?db=<bucket>&q=SELECT …, see docs/influxql.md) or with SQL on POST /api/v1/sql");
    }
}
