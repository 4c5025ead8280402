using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Plexus.Api.Auth;
using Plexus.Api.Endpoints;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Geo;
using Plexus.Pipeline.Devices;
using Plexus.Pipeline.Observers;
using Plexus.Query;
using Plexus.Rules;
using Plexus.Rules.Actions;
using Plexus.Rules.Alarms;
using Plexus.Rules.Engine;
using Plexus.Storage;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Api;

public enum ServerPhase
{
    Starting,
    Ready,
    Stopping,
}

/// <summary>
/// Everything the endpoints use, built once by the composition root (<c>PlexusServer</c>) when the store and the
/// registries are open, and handed over whole: nothing in it changes afterwards. Optional parts are null on a server
/// that runs without them (their endpoints answer 503).
/// </summary>
public sealed record ApiServices(
    RequestAuthenticator Authenticator,
    IPointWriter Writer,
    SqlQueryService Queries,
    string DataDirectory,
    DeviceRegistry Devices,
    ApiTokenStore ApiTokens,
    StoreWriter StoreWriter)
{
    /// <summary>Live device state for <c>GET /api/v1/devices/{id}</c> and the dead-letter stats.</summary>
    public DeviceLiveState? DeviceState { get; init; }

    /// <summary>Desired properties of devices (docs/devices.md#desired-properties-and-commands).</summary>
    public Devices.Twin.DesiredProperties? Desired { get; init; }

    /// <summary>Commands to devices and their outcome.</summary>
    public Devices.Twin.DeviceCommands? Commands { get; init; }

    /// <summary>Device messages of the HTTP device API (the pipeline's device stage).</summary>
    public DeviceIngest? DeviceMessages { get; init; }

    /// <summary>Named geofences (docs/geo.md).</summary>
    public GeofenceRegistry? Geofences { get; init; }

    /// <summary>Declared position sources (docs/geo.md#position-sources).</summary>
    public PositionSourceRegistry? PositionSources { get; init; }

    /// <summary>Device tracks from main.positions (docs/geo.md).</summary>
    public TrackReader? Tracks { get; init; }

    public AssetRegistry? Assets { get; init; }

    /// <summary>Where admin actions are recorded (<see cref="AuditTrail"/>); null records nothing.</summary>
    public AuditLog? Audit { get; init; }

    /// <summary>Retention policies (docs/storage.md#retention).</summary>
    public Storage.Retention.RetentionPolicies? Retention { get; init; }

    /// <summary>Rollups (docs/storage.md#rollups).</summary>
    public Storage.Rollups.RollupRegistry? Rollups { get; init; }

    /// <summary>Brings the rollups up to date on <c>POST /api/v1/rollups/refresh</c>.</summary>
    public Storage.Rollups.RollupMaintainer? RollupMaintainer { get; init; }

    /// <summary>Rules evaluated on stored data (docs/rules.md).</summary>
    public RuleRegistry? Rules { get; init; }

    public AlarmStore? Alarms { get; init; }

    public RuleEngine? RuleEngine { get; init; }

    public RuleActions? RuleActions { get; init; }

    /// <summary>Watched devices' stored points for the console's live charts (server-sent events).</summary>
    public DeviceLiveFeed? LiveFeed { get; init; }

    /// <summary>Counters of parts the API does not hold (the MQTT broker...), added to <c>GET /metrics</c>.</summary>
    public Func<IReadOnlyList<MetricSample>>? ServerMetrics { get; init; }

    /// <summary>The files beside the database that a backup copies (token hashes, device credentials, retained messages).</summary>
    public IReadOnlyList<string> BackupMetadataFiles { get; init; } = [];
}

/// <summary>
/// The API's view of the server: its options and phase from the start, and its <see cref="ApiServices"/> once ready.
/// The HTTP listener starts before the store opens so that `/health` can answer 503 meanwhile (replaying the log can
/// take a while after a crash); every endpoint but health admits requests only when <see cref="Phase"/> is ready,
/// so the service properties below are never read before <see cref="MarkReady"/> set them.
/// </summary>
public sealed class ApiContext
{
    private volatile ServerPhase _phase = ServerPhase.Starting;
    private ApiServices? _services;

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

    /// <summary>The API's own counters for <c>GET /metrics</c>.</summary>
    public ApiStatistics Statistics { get; } = new();

    /// <summary>The services, once the server is ready; null while it starts.</summary>
    public ApiServices? Services => Volatile.Read(ref _services);

    public RequestAuthenticator? Authenticator => Services?.Authenticator;

    public IPointWriter? Writer => Services?.Writer;

    public SqlQueryService? Queries => Services?.Queries;

    public string? DataDirectory => Services?.DataDirectory;

    public DeviceRegistry? Devices => Services?.Devices;

    public ApiTokenStore? ApiTokens => Services?.ApiTokens;

    public DeviceLiveState? DeviceState => Services?.DeviceState;

    public Devices.Twin.DesiredProperties? Desired => Services?.Desired;

    public Devices.Twin.DeviceCommands? Commands => Services?.Commands;

    public GeofenceRegistry? Geofences => Services?.Geofences;

    public PositionSourceRegistry? PositionSources => Services?.PositionSources;

    public TrackReader? Tracks => Services?.Tracks;

    public AssetRegistry? Assets => Services?.Assets;

    /// <summary>The store's writer, whose <see cref="Storage.Writing.StoreWriter.Fault"/> `/health` reports.</summary>
    public StoreWriter? StoreWriter => Services?.StoreWriter;

    public DeviceIngest? DeviceMessages => Services?.DeviceMessages;

    public AuditLog? Audit => Services?.Audit;

    public Storage.Retention.RetentionPolicies? Retention => Services?.Retention;

    public Storage.Rollups.RollupRegistry? Rollups => Services?.Rollups;

    public Storage.Rollups.RollupMaintainer? RollupMaintainer => Services?.RollupMaintainer;

    public RuleRegistry? Rules => Services?.Rules;

    public AlarmStore? Alarms => Services?.Alarms;

    public RuleEngine? RuleEngine => Services?.RuleEngine;

    public RuleActions? RuleActions => Services?.RuleActions;

    public DeviceLiveFeed? LiveFeed => Services?.LiveFeed;

    /// <summary>Hands the endpoints their services and opens the API; once only.</summary>
    public void MarkReady(ApiServices services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (Interlocked.CompareExchange(ref _services, services, null) is not null)
        {
            throw new InvalidOperationException("the API is ready already: its services are handed over once");
        }

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
        ExportEndpoints.Map(endpoints, context);
        ImportEndpoints.Map(endpoints, context);
        SqlEndpoints.Map(endpoints, context);
        InfluxQueryEndpoints.Map(endpoints, context);
        DevicesEndpoints.Map(endpoints, context);
        DeviceTwinEndpoints.Map(endpoints, context);
        DeviceCertificatesEndpoints.Map(endpoints, context);
        DeviceDataEndpoints.Map(endpoints, context);
        TokensEndpoints.Map(endpoints, context);
        GeofencesEndpoints.Map(endpoints, context);
        TrackEndpoints.Map(endpoints, context);
        DeviceHistoryEndpoints.Map(endpoints, context);
        DeviceStateEndpoints.Map(endpoints, context);
        PositionSourcesEndpoints.Map(endpoints, context);
        AssetsEndpoints.Map(endpoints, context);
        AuditEndpoints.Map(endpoints, context);
        RulesEndpoints.Map(endpoints, context);
        AlarmsEndpoints.Map(endpoints, context);
        DeleteEndpoints.Map(endpoints, context);
        RetentionEndpoints.Map(endpoints, context);
        RollupEndpoints.Map(endpoints, context);
        BackupEndpoints.Map(endpoints, context);
        ConsoleEndpoints.Map(endpoints, context.Options);
        ConsoleApiEndpoints.Map(endpoints, context);
        LiveEndpoints.Map(endpoints, context);
        MetricsEndpoints.Map(endpoints, context);
    }

    /// <summary>
    /// Tells browsers never to guess a content type: Plexus's JSON keeps quotes and angle brackets unescaped
    /// (<see cref="ReadableJson"/>), which is safe only while nothing renders it as HTML. An answer that is cleared and
    /// rewritten as an error gets it again from <see cref="ApiErrors"/>.
    /// </summary>
    public static IApplicationBuilder UseNoContentSniffing(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use((http, next) =>
        {
            http.Response.Headers.XContentTypeOptions = NoSniff;
            return next(http);
        });
    }

    internal const string NoSniff = "nosniff";

    /// <summary>
    /// Adds <c>Server-Timing: app;dur=…</c> (milliseconds from the request reaching the pipeline to its headers) to every
    /// answer, so that a browser's resource timings tell the server's share of a call from the network's and its own
    /// (the console's first render is measured that way: docs/benchmarks.md#the-consoles-first-render).
    /// </summary>
    public static IApplicationBuilder UseServerTiming(this IApplicationBuilder app, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(time);
        return app.Use((http, next) =>
        {
            long started = time.GetTimestamp();
            http.Response.OnStarting(() =>
            {
                http.Response.Headers["Server-Timing"] = "app;dur=" + time.GetElapsedTime(started).TotalMilliseconds.ToString("F1", CultureInfo.InvariantCulture);
                return Task.CompletedTask;
            });
            return next(http);
        });
    }

    /// <summary>
    /// Answers 503 with Retry-After for every endpoint that meets a store that cannot serve now: a query whose read
    /// connection is refused because acknowledged writes cannot be applied (a full disk), or a registry read or
    /// write that meets the same. One place, so that no endpoint answers 500 (or without its newest data) for it.
    /// </summary>
    public static IApplicationBuilder UseStoreUnavailableAnswers(this IApplicationBuilder app, ApiContext context)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(context);
        return app.Use(async (http, next) =>
        {
            try
            {
                await next(http);
            }
            catch (StoreUnavailableException error) when (!http.Response.HasStarted)
            {
                http.Response.Clear();
                await ApiErrors.StoreUnavailableAsync(http, context.Logger, error);
            }
        });
    }

    /// <summary>Answers 503 until the server is ready and 401 without a valid token, before any endpoint runs.</summary>
    internal static async Task<bool> AdmitAsync(HttpContext http, ApiContext context) =>
        await AdmitAsync(http, context, ApiScope.Admin) is not null;

    /// <summary>
    /// Admits the request with <paramref name="scope"/>, then answers 503 when the server runs without
    /// <paramref name="service"/> (<paramref name="what"/> names it: "assets are not available on this server").
    /// Returns the service, or null when the request is answered.
    /// </summary>
    internal static async Task<T?> AdmitServiceAsync<T>(HttpContext http, ApiContext context, ApiScope scope, T? service, string what)
        where T : class
    {
        if (await AdmitAsync(http, context, scope) is null)
        {
            return null;
        }

        if (service is null)
        {
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", $"{what} not available on this server");
        }

        return service;
    }

    /// <summary>
    /// As above, then 403 unless the token has <paramref name="scope"/> (a device token only where
    /// <paramref name="allowDevice"/>); the message names the scope needed. Returns who is asking, or null when answered.
    /// </summary>
    /// <param name="namespaced">
    /// The endpoint checks the request's namespace against <see cref="ApiPrincipal.MayUse"/> itself (writes, SQL). Every
    /// other endpoint shows or changes what lives in namespace <c>main</c> (the registries, device data), so a token
    /// limited to namespaces without <c>main</c> is refused here.
    /// </param>
    internal static async Task<ApiPrincipal?> AdmitAsync(HttpContext http, ApiContext context, ApiScope scope, bool allowDevice = false, bool namespaced = false)
    {
        if (context.Phase != ServerPhase.Ready || context.Authenticator is null)
        {
            http.Response.Headers.RetryAfter = "1";
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable",
                context.Phase == ServerPhase.Stopping ? "the server is shutting down" : "the server is starting");
            return null;
        }

        var principal = context.Authenticator.Authenticate(http.Request);
        if (principal.Kind == ApiPrincipalKind.Anonymous)
        {
            await ApiErrors.UnauthorizedAsync(http);
            return null;
        }

        AuditTrail.Admitted(http, principal);
        if (principal.Has(scope) || (allowDevice && principal.Kind == ApiPrincipalKind.Device))
        {
            if (!namespaced && !principal.MayUse(Namespaces.Default))
            {
                await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden",
                    $"{http.Request.Method} {http.Request.Path} shows data of namespace {Namespaces.Default} (the registries and device data); {principal} may not; use a token that includes namespace {Namespaces.Default}");
                return null;
            }

            return principal;
        }

        string endpoint = http.Request.Method + " " + http.Request.Path;
        string message = principal.Kind == ApiPrincipalKind.Device
            ? $"{endpoint} needs a token with scope {ApiScopes.Name(scope)}; a device token may only write its own data (POST /api/v2/write or /write to namespace main)"
            : $"{endpoint} needs a token with scope {ApiScopes.Name(scope)}; {principal} may not";
        await ApiErrors.WriteAsync(http, StatusCodes.Status403Forbidden, "forbidden", message);
        return null;
    }

    internal static JsonWriterOptions JsonOptions => ReadableJson.Options;
}
