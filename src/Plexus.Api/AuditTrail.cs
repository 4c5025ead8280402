using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Storage;

namespace Plexus.Api;

/// <summary>
/// The one place admin actions reach the audit log (docs/http-api.md#audit-log). An endpoint that changes something
/// is mapped through <see cref="Audited"/>; admission (<see cref="PlexusApi.AdmitAsync"/>) tells it who asked, the
/// handler may name the target it made (<see cref="Target"/>), and <see cref="ApiErrors"/> tells it why a request
/// failed. The entry is written when the answer's status is final and before its first byte is sent, so an answer
/// the client saw always has its entry.
/// </summary>
/// <remarks>
/// Requests without a valid token are not recorded: nobody known attempted anything, and recording them would let
/// anyone on the network grow the database at will.
/// </remarks>
internal static class AuditTrail
{
    /// <summary>Wraps the handler of an admin endpoint: <paramref name="action"/> such as <c>device.remove</c>.</summary>
    /// <param name="routeKey">The route value that names the target (<c>id</c>, <c>name</c>), if the path has one.</param>
    public static RequestDelegate Audited(ApiContext context, string action, string targetKind, string? routeKey, RequestDelegate handler) => async http =>
    {
        var request = new AuditedRequest(action, targetKind) { TargetId = routeKey is null ? null : http.Request.RouteValues[routeKey] as string };
        http.Features.Set(request);
        http.Response.OnStarting(() =>
        {
            Record(context, http, request);
            return Task.CompletedTask;
        });
        await handler(http);
    };

    /// <summary>Called on admission: the request's principal is known.</summary>
    public static void Admitted(HttpContext http, ApiPrincipal principal)
    {
        if (http.Features.Get<AuditedRequest>() is { } request)
        {
            request.Principal = principal;
        }
    }

    /// <summary>Names the target when the path does not (a new device's id); <paramref name="detail"/> must hold no secret.</summary>
    public static void Target(HttpContext http, string? id, string? detail = null)
    {
        if (http.Features.Get<AuditedRequest>() is { } request)
        {
            request.TargetId = id ?? request.TargetId;
            request.Detail = detail ?? request.Detail;
        }
    }

    /// <summary>Adds a short detail (counts of a bulk request, the fields changed) without changing the target.</summary>
    public static void Detail(HttpContext http, string detail) => Target(http, null, detail);

    /// <summary>Called by <see cref="ApiErrors"/>: the answer is an error with this code and message.</summary>
    public static void Failed(HttpContext http, string code, string message)
    {
        if (http.Features.Get<AuditedRequest>() is { } request)
        {
            request.ErrorCode = code;
            request.ErrorMessage = message;
        }
    }

    private static void Record(ApiContext context, HttpContext http, AuditedRequest request)
    {
        if (request.Principal is not { } principal || context.Audit is not { } audit)
        {
            return;
        }

        int status = http.Response.StatusCode;
        string outcome = status < 400 ? "ok" : request.ErrorCode ?? "error";
        string? detail = status < 400 || request.ErrorMessage is null
            ? request.Detail
            : request.Detail is null ? request.ErrorMessage : request.Detail + "; " + request.ErrorMessage;
        var entry = new AuditEntry(context.Time.GetUtcNow(), principal.AuditName, request.Action, request.TargetKind, request.TargetId, detail,
            http.Connection.RemoteIpAddress?.ToString(), outcome, status);
        try
        {
            audit.Record(entry);
        }
        catch (Exception error)
        {
            // The change itself is done; failing its answer would only make the client retry it.
            context.Logger.LogError(error, "The audit entry of {Action} {TargetKind} {TargetId} by {Principal} ({Outcome}) could not be stored", entry.Action, entry.TargetKind, entry.TargetId, entry.Principal, entry.Outcome);
        }
    }

    private sealed class AuditedRequest(string action, string targetKind)
    {
        public string Action { get; } = action;

        public string TargetKind { get; } = targetKind;

        public ApiPrincipal? Principal { get; set; }

        public string? TargetId { get; set; }

        public string? Detail { get; set; }

        public string? ErrorCode { get; set; }

        public string? ErrorMessage { get; set; }
    }
}
