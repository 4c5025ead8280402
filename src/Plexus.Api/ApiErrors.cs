using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Query;
using Plexus.Storage;

namespace Plexus.Api;

/// <summary>
/// Error responses in one shape for every endpoint: `code` and `message` as InfluxDB 2.x clients read them,
/// `error` as 1.x clients read it, and an `error_id` that the server log repeats so an operator can find it.
/// </summary>
public static class ApiErrors
{
    public static string NewErrorId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    public static async Task WriteAsync(HttpContext context, int status, string code, string message, string? errorId = null, Action<Utf8JsonWriter>? extra = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        AuditTrail.Failed(context, code, message);
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.XContentTypeOptions = PlexusApi.NoSniff;
        await using var json = new Utf8JsonWriter(context.Response.Body, ReadableJson.Options);
        json.WriteStartObject();
        json.WriteString("code", code);
        json.WriteString("message", message);
        json.WriteString("error", message);
        json.WriteString("error_id", errorId ?? NewErrorId());
        extra?.Invoke(json);
        json.WriteEndObject();
        await json.FlushAsync();
    }

    /// <summary>
    /// 503 with Retry-After for a store that cannot serve the request now (a full disk, acknowledged writes it
    /// cannot apply). The exception's message is written for clients; its inner exception, which may name server
    /// files, goes only to the log, under the error id of the answer.
    /// </summary>
    public static Task StoreUnavailableAsync(HttpContext context, ILogger logger, StoreUnavailableException error)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(error);
        string errorId = NewErrorId();
        logger.LogWarning(error, "{Method} {Path} answered 503: {Message} (error id {ErrorId})", context.Request.Method, context.Request.Path.Value, error.Message, errorId);
        context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(error.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        return WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "unavailable", error.Message, errorId);
    }

    /// <summary>True for the reasons a query (a SQL answer, an export, a Parquet import's read) can fail to start, which <see cref="QueryNotStartedAsync"/> answers.</summary>
    public static bool IsQueryNotStarted(Exception error) =>
        error is QueryRefusedException or QueryBusyException or QueryTimeoutException or QueryFailedException or StoreUnavailableException;

    /// <summary>One answer per reason a query could not start, for every endpoint that runs one: 403, 503 busy with Retry-After, 408, 400, or the store's 503.</summary>
    public static Task QueryNotStartedAsync(HttpContext context, ILogger logger, Exception error)
    {
        ArgumentNullException.ThrowIfNull(context);
        switch (error)
        {
            case QueryRefusedException:
                return WriteAsync(context, StatusCodes.Status403Forbidden, "forbidden", error.Message);
            case QueryBusyException busy:
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(busy.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return WriteAsync(context, StatusCodes.Status503ServiceUnavailable, "busy", error.Message);
            case QueryTimeoutException:
                return WriteAsync(context, StatusCodes.Status408RequestTimeout, "timeout", error.Message);
            case QueryFailedException:
                return WriteAsync(context, StatusCodes.Status400BadRequest, "invalid", error.Message);
            case StoreUnavailableException unavailable:
                return StoreUnavailableAsync(context, logger, unavailable);
            default:
                throw new ArgumentException($"{error.GetType().Name} is not a reason a query could not start", nameof(error));
        }
    }

    public static Task UnauthorizedAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.Headers.WWWAuthenticate = "Token realm=\"plexus\"";
        return WriteAsync(context, StatusCodes.Status401Unauthorized, "unauthorized",
            "a valid token is required: send 'Authorization: Token <token>' (or Bearer, Basic with the token as password, or ?u=&p=)");
    }
}
