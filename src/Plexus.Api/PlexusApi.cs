using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Api.Endpoints;
using Plexus.Devices;
using Plexus.Query;
using Plexus.Storage.Writing;

namespace Plexus.Api;

public enum ServerPhase
{
    Starting,
    Ready,
    Stopping,
}

/// <summary>
/// What the endpoints need, filled in as the server comes up: the HTTP listener starts first so that
/// `/health` can answer 503 while the store opens (replaying its log can take a while after a crash).
/// </summary>
public sealed class ApiContext
{
    private volatile ServerPhase _phase = ServerPhase.Starting;

    public ApiContext(ApiOptions options, TimeProvider time, ILoggerFactory loggerFactory)
    {
        Options = options;
        Time = time;
        Logger = loggerFactory.CreateLogger("Plexus.Api");
    }

    public ApiOptions Options { get; }

    public TimeProvider Time { get; }

    public ILogger Logger { get; }

    public ServerPhase Phase => _phase;

    public RequestAuthenticator? Authenticator { get; private set; }

    public IPointWriter? Writer { get; private set; }

    public SqlQueryService? Queries { get; private set; }

    public string? DataDirectory { get; private set; }

    public DeviceRegistry? Devices { get; private set; }

    /// <summary>Set before <see cref="MarkReady"/> when the server has assets (issue 5).</summary>
    public AssetRegistry? Assets { get; set; }

    public void MarkReady(RequestAuthenticator authenticator, IPointWriter writer, SqlQueryService queries, string dataDirectory, DeviceRegistry? devices = null)
    {
        Devices = devices;
        Authenticator = authenticator;
        Writer = writer;
        Queries = queries;
        DataDirectory = dataDirectory;
        _phase = ServerPhase.Ready;
    }

    public void MarkStopping() => _phase = ServerPhase.Stopping;
}

public static class PlexusApi
{
    public static void MapPlexusApi(this IEndpointRouteBuilder endpoints, ApiContext context)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(context);
        HealthEndpoints.Map(endpoints, context);
        WriteEndpoints.Map(endpoints, context);
        SqlEndpoints.Map(endpoints, context);
        DevicesEndpoints.Map(endpoints, context);
        AssetsEndpoints.Map(endpoints, context);
    }

    /// <summary>Answers 503 until the server is ready and 401 without a valid token, before any endpoint runs.</summary>
    internal static async Task<bool> AdmitAsync(HttpContext http, ApiContext context)
    {
        if (context.Phase != ServerPhase.Ready || context.Authenticator is null)
        {
            http.Response.Headers.RetryAfter = "1";
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable",
                context.Phase == ServerPhase.Stopping ? "the server is shutting down" : "the server is starting");
            return false;
        }

        if (context.Authenticator.Authenticate(http.Request) == Principal.Anonymous)
        {
            await ApiErrors.UnauthorizedAsync(http);
            return false;
        }

        return true;
    }

    internal static readonly JsonWriterOptions JsonOptions = new() { Indented = false };
}
