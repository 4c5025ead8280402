using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Query;

namespace Plexus.Api.Endpoints;

/// <summary>`POST /api/v1/sql`: read-only SQL over everything stored, answered as JSON or CSV (docs/sql.md).</summary>
internal static class SqlEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context)
    {
        endpoints.MapPost("/api/v1/sql", http => QueryAsync(http, context));
    }

    private static async Task QueryAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitAsync(http, context, Auth.ApiScope.Read) is null)
        {
            return;
        }

        string? sql;
        string? db;
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, default, http.RequestAborted);
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

        QueryResult result;
        try
        {
            result = await context.Queries!.ExecuteAsync(sql, db, http.RequestAborted);
        }
        catch (QueryRefusedException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", error.Message);
            return;
        }
        catch (QueryTimeoutException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status408RequestTimeout, "timeout", error.Message);
            return;
        }
        catch (QueryFailedException error)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status400BadRequest, "invalid", error.Message);
            return;
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            return;
        }

        if (result.Truncated)
        {
            http.Response.Headers["X-Plexus-Truncated"] = "true";
        }

        if (WantsCsv(http.Request))
        {
            http.Response.ContentType = "text/csv; charset=utf-8";
            await using var writer = new StreamWriter(http.Response.Body, new UTF8Encoding(false), 64 * 1024) { NewLine = "\r\n" };
            await QueryResultWriter.WriteCsvAsync(writer, result);
            return;
        }

        http.Response.ContentType = "application/json; charset=utf-8";
        await using var json = new Utf8JsonWriter(http.Response.Body, PlexusApi.JsonOptions);
        QueryResultWriter.WriteJson(json, result);
        await json.FlushAsync(http.RequestAborted);
        context.Logger.LogDebug("Query returned {Rows} rows", result.Rows.Count);
    }

    private static bool WantsCsv(HttpRequest request)
    {
        string accept = request.Headers.Accept.ToString();
        return accept.Contains("text/csv", StringComparison.OrdinalIgnoreCase) ||
            string.Equals(request.Query["format"], "csv", StringComparison.OrdinalIgnoreCase);
    }
}
