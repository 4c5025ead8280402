using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.WebConsole;

namespace Plexus.Api.Endpoints;

/// <summary>
/// The browser console (docs/console.md): <c>/</c> answers its page and <c>/console/…</c> its scripts and styles, all
/// embedded in the binary. The files hold no data and need no token; every call they make goes to the API with the
/// signed-in token.
/// </summary>
internal static class ConsoleEndpoints
{
    /// <summary>
    /// Scripts, styles and connections only from this origin, nothing inline, no plugins, no framing: an injected
    /// <c>&lt;script&gt;</c> or <c>onclick=</c> does not run, and the page cannot be framed to click through it.
    /// Images may also come from the map's tile server when the operator configured one, and from nowhere else.
    /// </summary>
    internal static string ContentSecurityPolicy(MapTiles? tiles) =>
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:" + (tiles is null ? string.Empty : " " + tiles.Origin) +
        "; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static void Map(IEndpointRouteBuilder endpoints, ApiOptions options)
    {
        string policy = ContentSecurityPolicy(options.MapTiles);
        endpoints.MapMethods("/", ["GET", "HEAD"], http => ServeAsync(http, ConsoleAssets.IndexPath, policy));
        endpoints.MapMethods("/console/{**path}", ["GET", "HEAD"], http => ServeAsync(http, (string?)http.Request.RouteValues["path"] ?? string.Empty, policy));
    }

    private static async Task ServeAsync(HttpContext http, string path, string policy)
    {
        SetSecurityHeaders(http.Response, policy);
        if (ConsoleAssets.Find(path) is not { } asset)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status404NotFound, "not found", $"the console has no file {path}; open / for the console");
            return;
        }

        // Revalidated on every load (cheap with the ETag): a new binary's console is never mixed with an old one's.
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch.Contains(asset.ETag))
        {
            http.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        http.Response.ContentType = asset.ContentType;
        http.Response.ContentLength = asset.Content.Length;
        if (!HttpMethods.IsHead(http.Request.Method))
        {
            await http.Response.Body.WriteAsync(asset.Content, http.RequestAborted);
        }
    }

    internal static void SetSecurityHeaders(HttpResponse response, string policy)
    {
        response.Headers.ContentSecurityPolicy = policy;
        response.Headers.XFrameOptions = "DENY";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers["Cross-Origin-Opener-Policy"] = "same-origin";
        response.Headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
    }
}
