// One file on purpose (about 660 lines): the composition root. Start reads top to bottom in the order services are
// built and pushed on the disposal stack, which is the reverse of the order they stop in; split, that order would be
// spread over files.
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Api;
using Plexus.Api.Auth;
using Plexus.Api.Endpoints;
using Plexus.Broker;
using Plexus.Broker.Auth;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Devices.Twin;
using Plexus.Geo;
using Plexus.PgWire;
using Plexus.Pipeline;
using Plexus.Pipeline.Devices;
using Plexus.Pipeline.Observers;
using Plexus.Query;
using Plexus.Query.Functions;
using Plexus.Rules;
using Plexus.Rules.Actions;
using Plexus.Rules.Alarms;
using Plexus.Rules.Engine;
using Plexus.Storage;
using Plexus.Storage.Retention;
using Plexus.Storage.Rollups;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Server;

/// <summary>
/// The composition root, as a library: `plexus serve` and the tests start the same server, the tests on
/// port 0 with a temporary data folder. Starting sets the process umask to 077 (<see cref="PrivateFiles"/>), so
/// everything created afterwards in the process, DuckDB's files included, is private to its owner.
/// </summary>
public sealed class PlexusServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ApiContext _api;
    private readonly PlexusServerOptions _options;
    private readonly ILogger _logger;
    private int _stopped;

    private readonly PlexusBroker? _broker;
    private readonly DisposalStack _owned;

    private DeviceLiveState? _deviceState;

    private RollupMaintainer? _rollupMaintainer;

    private PlexusServer(WebApplication app, ApiContext api, PlexusServerOptions options, PlexusStore store, AdminTokenStore tokens, DeviceRegistry devices, Uri address, PlexusBroker? broker, ILogger logger, DisposalStack owned)
    {
        _owned = owned;
        _app = app;
        Devices = devices;
        _broker = broker;
        _api = api;
        _options = options;
        Store = store;
        AdminTokens = tokens;
        HttpAddress = address;
        _logger = logger;
    }

    public Uri HttpAddress { get; }

    /// <summary>
    /// The HTTP endpoints the server maps (route and methods), as ASP.NET Core routes requests to them; the scope table
    /// of docs/http-api.md is checked against this list.
    /// </summary>
    public IReadOnlyList<Endpoint> HttpEndpoints => ((IEndpointRouteBuilder)_app).DataSources.SelectMany(source => source.Endpoints).ToList();

    /// <summary>The one way data enters the store; components observe stored data at <see cref="IngestPipeline.Observers"/>.</summary>
    public IngestPipeline Pipeline { get; private init; } = null!;

    public PlexusStore Store { get; }

    /// <summary>Where the MQTT broker listens (the bound port when 0 was asked for); null when it is off.</summary>
    public IPEndPoint? MqttEndpoint => _broker?.Endpoint;

    /// <summary>The embedded MQTT broker; null when it is switched off.</summary>
    public PlexusBroker? Broker => _broker;

    /// <summary>Where the PostgreSQL wire-protocol listener listens; null when it is off.</summary>
    public IPEndPoint? PgEndpoint { get; private init; }

    /// <summary>Where the MQTT-over-TLS listener listens; null when there is none.</summary>
    public IPEndPoint? MqttTlsEndpoint => _broker?.TlsEndpoint;

    public AdminTokenStore AdminTokens { get; }

    /// <summary>The query service behind <c>POST /api/v1/sql</c>.</summary>
    public SqlQueryService Queries => _api.Queries!;

    /// <summary>The scoped API tokens (read, write, admin).</summary>
    public ApiTokenStore ApiTokens => _api.ApiTokens!;

    /// <summary>The device registry: device identities for the broker, metadata for the API and SQL.</summary>
    public DeviceRegistry Devices { get; }

    /// <summary>Live device state: online, last seen, reported properties, last position, dead letters (docs/devices.md).</summary>
    public DeviceLiveState DeviceState => _deviceState!;

    /// <summary>Assets (sites, buildings, fleets...) that devices belong to.</summary>
    public AssetRegistry? Assets { get; private set; }

    private DeviceLinks? Links { get; set; }

    public string DataDirectory => _options.DataDirectory;

    /// <summary>Named geofences and the geo SQL functions (docs/geo.md).</summary>
    public GeofenceRegistry Geofences { get; private init; } = null!;

    /// <summary>Rules over stored data (docs/rules.md).</summary>
    public RuleRegistry Rules { get; private init; } = null!;

    /// <summary>Alarms the rules open (docs/rules.md#alarms).</summary>
    public AlarmStore Alarms { get; private init; } = null!;

    /// <summary>The observer that evaluates the rules.</summary>
    public RuleEngine RuleEngine { get; private init; } = null!;

    /// <summary>Stored points of watched devices for live streams (the console's live charts).</summary>
    public DeviceLiveFeed LiveFeed { get; private init; } = null!;

    /// <summary>Commands sent to devices and their outcome (docs/devices.md#desired-properties-and-commands).</summary>
    public DeviceCommands Commands { get; private init; } = null!;

    /// <summary>Declared position sources and the view main.device_positions (docs/geo.md#position-sources).</summary>
    public PositionSourceRegistry PositionSources { get; private init; } = null!;

    /// <summary>Retention policies (docs/storage.md#retention).</summary>
    public RetentionPolicies Retention => _api.Retention!;

    /// <summary>The rollups (docs/storage.md#rollups).</summary>
    public RollupRegistry Rollups => _api.Rollups!;

    /// <summary>Keeps the rollups up to date; tests run it with <see cref="RollupMaintainer.RunOnceAsync"/>.</summary>
    public RollupMaintainer RollupMaintainer => _rollupMaintainer!;

    public static async Task<PlexusServer> StartAsync(PlexusServerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        time ??= TimeProvider.System;
        var logger = loggerFactory.CreateLogger("Plexus.Server");
        var endpoint = ParseEndpoint(options.HttpEndpoint);
        var mqttEndpoint = IsOff(options.MqttEndpoint) ? null : ParseEndpoint(options.MqttEndpoint!);
        var pgEndpoint = IsOff(options.PgEndpoint) ? null : ParseEndpoint(options.PgEndpoint!);
        var deviceTags = DeviceTagMap.Parse(options.DeviceTag);
        if (!string.IsNullOrEmpty(options.AdminToken) && !AdminTokenStore.IsLongEnough(options.AdminToken, out string? tokenProblem))
        {
            throw new ArgumentException(tokenProblem);
        }

        // Before anything in the data folder is opened: DuckDB creates its files with the process umask.
        PrivateFiles.RestrictProcessUmask();
        LogTightened(logger, options.DataDirectory, PrivateFiles.Tighten(options.DataDirectory));
        var httpsCertificate = options.HttpsCertificate is null && options.HttpsKey is null
            ? null
            : TlsCertificate.LoadCertificate(options.HttpsCertificate, options.HttpsKey, "HTTPS", "https-cert", "https-key");

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Plexus" });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddLogging();
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            // With a certificate the port speaks only HTTPS: tokens never cross it in cleartext, /mqtt included.
            kestrel.Listen(endpoint, listen =>
            {
                if (httpsCertificate is not null)
                {
                    listen.UseHttps(httpsCertificate);
                }
            });
            kestrel.AddServerHeader = false;

            // The write endpoint enforces its own limit on decompressed bytes (413 with a clear message).
            kestrel.Limits.MaxRequestBodySize = null;
        });
        if (httpsCertificate is not null)
        {
            builder.WebHost.UseKestrelHttpsConfiguration();
        }

        builder.WebHost.UseShutdownTimeout(options.ShutdownTimeout);

        var api = new ApiContext(new ApiOptions { MaxBodyBytes = options.MaxBodyBytes, MaxImportBytes = options.MaxImportBytes, MaxDeviceMessageBytes = options.MqttMaxMessageSize, MetricsPublic = options.MetricsPublic, MapTiles = options.MapTiles }, time, loggerFactory);
        var app = builder.Build();
        app.UseServerTiming(time);
        app.UseNoContentSniffing();
        app.UseRouting();
        app.UseStoreUnavailableAnswers(api);
        app.MapPlexusApi(api);
        var mqttWebSocket = app.MapMqttWebSocket(brokerOff: mqttEndpoint is null);

        // Listen first: /health answers 503 while the store opens (replaying its log can take a while).
        var owned = new DisposalStack(logger);
        if (httpsCertificate is not null)
        {
            owned.Own("the HTTPS certificate", httpsCertificate);
        }

        owned.Own("the HTTP listener", app);
        try
        {
            await app.StartAsync(cancellationToken);
            var address = BoundAddress(app, endpoint);
            var tokens = AdminTokenStore.Open(options.DataDirectory, options.AdminToken);
            var apiTokens = ApiTokenStore.Open(options.DataDirectory, time);
            var store = owned.Own("the store", PlexusStore.Open(new StorageOptions { DataDirectory = options.DataDirectory, MemoryLimit = options.MemoryLimit, SchemaLimits = options.SchemaLimits, ColdTier = options.ColdTier, Time = time }, loggerFactory));

            // SQL macros for time alignment and anomaly scores (docs/sql.md), in main so that every namespace sees them.
            TimeFunctions.Install(store);
            AnomalyFunctions.Install(store);

            // Every write goes through it: HTTP, MQTT on every transport, the HTTP device API, the live state's own history.
            // Rollups (docs/storage.md#rollups): their names are refused to writes, so the registry comes before the pipeline.
            var rollups = owned.Own("the rollups", RollupRegistry.Open(store, time, options.RollupsMax));
            var pipeline = new IngestPipeline(store.Writer, [new ReservedMeasurementGuard(), new RollupNameGuard(rollups)], logger: loggerFactory.CreateLogger("Plexus.Pipeline"), time: time);
            var audit = owned.Own("the audit log", AuditLog.Open(store));
            var retention = owned.Own("the retention policies", RetentionPolicies.Open(store, time));
            owned.Own("the retention enforcer", new RetentionEnforcer(retention, store.Writer, options.RetentionCheckInterval, time, loggerFactory.CreateLogger("Plexus.Storage")));
            // The maintainer is disposed before the registry and the store: its last run brings every rollup up to date.
            var rollupMaintainer = owned.Own("the rollup maintainer", new RollupMaintainer(store, rollups, options.RollupInterval, time, loggerFactory.CreateLogger("Plexus.Storage")));
            pipeline.Observers.Add(new RollupObserver(rollupMaintainer));
            var devices = owned.Own("the device registry", DeviceRegistry.Open(store, time));
            var assets = owned.Own("the asset registry", AssetRegistry.Open(store, devices, time));
            var links = owned.Own("device linking", DeviceLinks.Open(store, deviceTags, loggerFactory, time));

            // Device keys first seen in new data appear in main.devices (registered = false).
            pipeline.OnSchemaChanged("main.devices", links.SchemaChanged);

            // main.device_positions and device_state_asof (docs/geo.md, docs/devices.md), regenerated once what they
            // wait for exists; the position view first, the macro reads it.
            var positionSources = owned.Own("the position sources", PositionSourceRegistry.Open(store, deviceTags.TagFor, time));
            var deviceStateSql = owned.Own("the device state SQL", DeviceStateSql.Install(store));
            pipeline.OnSchemaChanged("main.device_positions", () =>
            {
                if (positionSources.IsWaiting)
                {
                    positionSources.Refresh();
                }
            });
            pipeline.OnSchemaChanged("main.device_state_asof", () =>
            {
                if (deviceStateSql.IsWaiting)
                {
                    deviceStateSql.Refresh();
                }
            });

            // Plexus's own data: state_history and dead_letters are reserved for it, not for HTTP writes, and their
            // fixed columns must not be refused because users filled namespace main.
            var deviceState = owned.Own("the live device state", await DeviceLiveState.OpenAsync(store, pipeline.For(IngestOrigin.Internal), time, loggerFactory.CreateLogger("Plexus.Devices")));
            deviceState.AllowLists = devices.AllowLists;

            // Desired properties and commands (docs/devices.md#desired-properties-and-commands): after the live state,
            // whose view the desired view joins; the broker, which delivers them, starts later and is set below.
            var desired = owned.Own("the desired properties", DesiredProperties.Open(store, options.MaxDesiredBytes, time, loggerFactory.CreateLogger("Plexus.Devices")));
            var commands = owned.Own("the device commands", DeviceCommands.Open(
                store,
                new DeviceCommandOptions { MaxBytes = options.MaxCommandBytes, MaxTimeout = options.MaxCommandTimeout, MaxPendingPerDevice = options.MaxPendingCommands, HistoryRetention = options.CommandHistoryRetention },
                time,
                loggerFactory.CreateLogger("Plexus.Devices")));

            // The live position follows every stored write of main.positions, whichever source wrote it, and every delete.
            pipeline.Observers.Add(new LiveStateObserver(deviceState));
            store.Writer.DeleteObserver = (selection, result) =>
            {
                if (selection.Namespace == DeviceDataNames.Namespace && (selection.Measurement is null || selection.Measurement == DeviceDataNames.Positions))
                {
                    _ = deviceState.PositionsDeleted(dropped: result.MeasurementsDropped.Contains(DeviceDataNames.Positions));
                }
            };

            // Deletes of raw rows reach the rollups (their windows are recomputed); retention's do not.
            store.Writer.DeleteObserver += rollupMaintainer.Deleted;

            // Geo SQL functions and geofences (docs/geo.md), before any request or message can query them.
            var geofences = owned.Own("the geofences", GeofenceRegistry.Open(store, time));

            // Rules (docs/rules.md): checked against the catalog and the geofences when they are made.
            var rules = owned.Own("the rules", RuleRegistry.Open(store, geofences.ShapeOf, time, options.RulesMax, options.RuleLimits));
            var alarms = owned.Own("the alarms", AlarmStore.Open(store, time, loggerFactory.CreateLogger("Plexus.Rules")));

            // Actions publish through the broker, which starts later; disposed after the engine, which may still clear alarms.
            PlexusBroker? actionBroker = null;
            var ruleActions = owned.Own("the rule actions", new RuleActions(
                store,
                rules,
                (topic, payload) => actionBroker?.PublishAsServerAsync(topic, payload) ?? throw new InvalidOperationException("the MQTT broker is off (--mqtt off)"),
                new RuleActionOptions { WebhookTimeout = options.WebhookTimeout, WebhookRetries = options.WebhookRetries },
                time,
                loggerFactory.CreateLogger("Plexus.Rules")));
            alarms.Transition = ruleActions.OnTransition;

            // Derived points go through the pipeline like any write, under their own origin: the engine skips them, so
            // that no rule re-triggers itself through what its actions write.
            ruleActions.Points = pipeline.For(new IngestOrigin(IngestSource.Rules));
            ruleActions.Desired = desired;
            ruleActions.Commands = commands;
            ruleActions.IsRegisteredDevice = id => devices.Get(id) is not null;

            // Rules run off the writer's thread: with none defined the observer costs one check per write.
            var ruleEngine = new RuleEngine(rules, alarms, devices, new LiveStateFacts(deviceState), deviceTags.TagFor, geofences.ShapeOf, time, options.RulesQueue, loggerFactory.CreateLogger("Plexus.Rules"), new RuleStateOptions { DataDirectory = options.DataDirectory, Interval = options.RulesStateInterval });
            owned.Own("the rule engine", new ObserverRegistration(pipeline.Observers, ruleEngine));

            // The console's live charts: with nobody watching it costs one check per write.
            var liveFeed = new DeviceLiveFeed(options.LiveMaxClients, options.LiveQueue);
            pipeline.Observers.Add(liveFeed);

            // After the store: the broker's first acknowledgement needs a store to be durable in.
            var broker = mqttEndpoint is null ? null : owned.Own("the MQTT broker", await StartBrokerAsync(options, mqttEndpoint, tokens, apiTokens, devices, audit, deviceState, desired, commands, pipeline, loggerFactory, time));
            actionBroker = broker;
            if (broker is not null)
            {
                // A rotated or removed token also ends the device's open connections, not only new CONNECTs.
                devices.TokenRevoked = id => _ = broker.DisconnectDeviceAsync(id);
                devices.Certificates.Changed = id => _ = broker.DisconnectDeviceCertificatesAsync(
                    id, thumbprint => devices.Certificates.DeviceOf(thumbprint) == id || (options.MqttClientCa is not null && !devices.Certificates.HasAny(id)));
                apiTokens.TokenRevoked = name => _ = broker.DisconnectApplicationAsync(name);
                mqttWebSocket.Broker = broker;
                desired.Publisher = broker.PublishDesiredAsync;
                commands.Publisher = broker.PublishCommandAsync;
            }

            var queries = owned.Own("the query service", new SqlQueryService(store, new QueryOptions
            {
                Timeout = options.QueryTimeout,
                MaxRows = options.QueryMaxRows,
                MaxBytes = options.QueryMaxBytes,
                MaxConcurrent = options.QueryConcurrency,
            }, time));
            // After the query service, so that it closes first: its connections' queries end before the service goes.
            var pgCertificate = pgEndpoint is null || (options.PgTlsCertificate is null && options.PgTlsKey is null)
                ? null
                : owned.Own("the PostgreSQL TLS certificate", TlsCertificate.LoadCertificate(options.PgTlsCertificate, options.PgTlsKey, "the PostgreSQL listener", "pg-tls-cert", "pg-tls-key"));
            var pg = pgEndpoint is null ? null : owned.Own("the PostgreSQL listener", StartPgWire(options, pgEndpoint, pgCertificate, queries, tokens, apiTokens, loggerFactory, time));
            WarnAboutCleartext(logger, endpoint, httpsCertificate is not null, mqttEndpoint);
            api.MarkReady(new ApiServices(new RequestAuthenticator(tokens, apiTokens, devices), pipeline.For(new IngestOrigin(IngestSource.HttpWrite)), queries, options.DataDirectory, devices, apiTokens, store.Writer)
            {
                DeviceState = deviceState,
                Desired = desired,
                Commands = commands,
                DeviceMessages = new DeviceIngest(pipeline.For(new IngestOrigin(IngestSource.HttpDevice)), Namespaces.Default, time, deviceState, loggerFactory.CreateLogger("Plexus.Devices")),
                Assets = assets,
                Geofences = geofences,
                PositionSources = positionSources,
                Tracks = new TrackReader(store),
                Audit = audit,
                Retention = retention,
                Rollups = rollups,
                RollupMaintainer = rollupMaintainer,
                Rules = rules,
                Alarms = alarms,
                RuleEngine = ruleEngine,
                RuleActions = ruleActions,
                LiveFeed = liveFeed,
                ServerMetrics = () => ServerMetrics.Of(pipeline, broker),
                BackupMetadataFiles = BackupMetadataFiles,
            });
            logger.LogInformation("Plexus is ready on {Address}; MQTT on {MqttEndpoint}; PostgreSQL on {PgEndpoint}; data in {DataDirectory}", address, broker?.Endpoint.ToString() ?? "off", pg?.Endpoint.ToString() ?? "off", Path.GetFullPath(options.DataDirectory));
            return new PlexusServer(app, api, options, store, tokens, devices, address, broker, logger, owned)
            {
                _deviceState = deviceState,
                _rollupMaintainer = rollupMaintainer,
                Pipeline = pipeline,
                Geofences = geofences,
                Assets = assets,
                Links = links,
                PositionSources = positionSources,
                PgEndpoint = pg?.Endpoint,
                Rules = rules,
                Alarms = alarms,
                RuleEngine = ruleEngine,
                LiveFeed = liveFeed,
                Commands = commands,
            };
        }
        catch
        {
            await app.StopAsync(CancellationToken.None);
            await owned.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Every file the data folder holds beside the database, its write log and the cold folder: what a backup copies
    /// (docs/storage.md#backup-and-restore). A part of the server that keeps a new file there adds it here.
    /// </summary>
    public static IReadOnlyList<string> BackupMetadataFiles { get; } =
        [AdminTokenStore.FileName, ApiTokenStore.FileName, DeviceRegistry.CredentialFileName, Plexus.Broker.Retained.RetainedMessageJournal.FileName, Plexus.Broker.Retained.RetainedMessageFile.FileName];

    private static async Task<PlexusBroker> StartBrokerAsync(
        PlexusServerOptions options,
        IPEndPoint mqttEndpoint,
        AdminTokenStore tokens,
        ApiTokenStore apiTokens,
        DeviceRegistry devices,
        AuditLog audit,
        DeviceLiveState deviceState,
        DesiredProperties desired,
        DeviceCommands commands,
        IngestPipeline pipeline,
        ILoggerFactory loggerFactory,
        TimeProvider time)
    {
        // Applications with an API token (its scope decides), devices with their id and device token or with a
        // client certificate over TLS (registered, or issued by the client CA with CN = device id).
        if (options.MqttClientCa is not null && IsOff(options.MqttTlsEndpoint))
        {
            throw new IOException("--mqtt-client-ca needs the MQTT TLS listener: set --mqtt-tls (with --mqtt-tls-cert and --mqtt-tls-key), or drop --mqtt-client-ca");
        }

        var certificates = new MqttClientCertificates(
            devices.Certificates.DeviceOf,
            devices.Certificates.HasAny,
            id => devices.Get(id) is not null,
            options.MqttClientCa is null ? null : TlsCertificate.LoadAuthorities(options.MqttClientCa, "mqtt-client-ca"),
            time);
        var authenticator = new DeviceMqttAuthenticator(
            token => ApplicationOf(tokens, apiTokens, token),
            devices.Validate,
            string.IsNullOrEmpty(options.ProvisioningKey) ? null : new DeviceProvisioning(options.ProvisioningKey, id => devices.Get(id) is not null, (id, token) => Provision(devices, audit, time, id, token)),
            loggerFactory.CreateLogger("Plexus.Broker"),
            certificates);
        try
        {
            return await PlexusBroker.StartAsync(
                new PlexusBrokerOptions
                {
                    Endpoint = mqttEndpoint,
                    DataDirectory = options.DataDirectory,
                    DeviceState = deviceState,
                    Desired = desired,
                    Commands = commands,
                    TlsEndpoint = IsOff(options.MqttTlsEndpoint) ? null : ParseEndpoint(options.MqttTlsEndpoint!),
                    TlsCertificatePath = options.MqttTlsCertificate,
                    TlsKeyPath = options.MqttTlsKey,
                    MaxMessageSize = (int)Math.Min(options.MqttMaxMessageSize, 268_435_455),
                    MaxMessagesPerSecond = options.MqttMaxRate,
                    MaxBurst = options.MqttMaxBurst,
                    ReceiveMaximum = options.MqttReceiveMaximum,
                    TopicAliasMaximum = options.MqttMaxTopicAliases,
                    MaxKeepAlive = (ushort)Math.Clamp(options.MqttMaxKeepAlive.TotalSeconds, 1, ushort.MaxValue),
                    MaxSessionExpiry = (uint)Math.Clamp(options.MqttMaxSessionExpiry.TotalSeconds, 1, uint.MaxValue - 1),
                    AclFilePath = string.IsNullOrEmpty(options.MqttAclFile) ? null : options.MqttAclFile,
                    MaxConnectSize = (int)Math.Min(options.MqttMaxConnectSize, 268_435_455),
                    ConnectTimeout = options.MqttConnectTimeout,
                    MaxConnections = options.MqttMaxConnections,
                    MaxConnectionsPerIp = options.MqttMaxConnectionsPerIp,
                    MaxRetainedMessages = options.MqttMaxRetainedMessages,
                    MaxRetainedBytes = options.MqttMaxRetainedBytes,
                    MaxSessionStoreBytes = options.MqttMaxSessionStoreBytes,
                    MaxRetainedMessagesPerClient = options.MqttMaxRetainedMessagesPerClient,
                    MaxRetainedBytesPerClient = options.MqttMaxRetainedBytesPerClient,
                },
                authenticator,
                pipeline.For(new IngestOrigin(IngestSource.Mqtt)),
                loggerFactory,
                time);
        }
        catch (SocketException error)
        {
            throw new IOException($"cannot listen for MQTT on {mqttEndpoint}: {error.Message}; choose another address with --mqtt host:port, or --mqtt off", error);
        }
    }

    private static PgWireServer StartPgWire(PlexusServerOptions options, IPEndPoint endpoint, X509Certificate2? certificate, SqlQueryService queries, AdminTokenStore tokens, ApiTokenStore apiTokens, ILoggerFactory loggerFactory, TimeProvider time)
    {
        try
        {
            return PgWireServer.Start(
                new PgWireOptions
                {
                    Endpoint = endpoint,
                    Certificate = certificate,
                    AllowLoopbackCleartext = options.PgAllowLoopbackCleartext,
                    MaxConnections = options.PgMaxConnections,
                    MaxConnectionsPerIp = options.PgMaxConnectionsPerIp,
                    AuthenticationTimeout = options.PgAuthTimeout,
                    MaxMessageSize = (int)Math.Clamp(options.PgMaxMessageSize, 1024, int.MaxValue - 5),

                    // Any API token with scope read or more (the admin token too) reads over this door as over
                    // /api/v1/sql; a device token reads nothing.
                    Authenticate = token => tokens.IsAdminToken(token)
                        ? new PgPrincipal(ApiPrincipal.AdminTokenName, null) { StillAuthorized = () => tokens.IsAdminToken(token) }
                        : apiTokens.Find(token) is { } info && info.Scope >= ApiScope.Read
                            ? new PgPrincipal(info.Name, info.Namespaces) { StillAuthorized = () => apiTokens.Find(token) is { Scope: >= ApiScope.Read } }
                            : null,
                },
                queries,
                loggerFactory,
                time);
        }
        catch (SocketException error)
        {
            throw new IOException($"cannot listen for PostgreSQL clients on {endpoint}: {error.Message}; choose another address with --pg host:port, or --pg off", error);
        }
    }

    /// <summary>
    /// Stops taking requests, lets those in flight finish (their writes are committed and acknowledged),
    /// then closes the store with a checkpoint.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        _api.MarkStopping();
        _logger.LogInformation("Plexus is stopping: finishing requests in flight");
        await _app.StopAsync(CancellationToken.None);

        // Before the broker stops: device messages being stored finish and are acknowledged, none starts.
        _deviceState?.MarkStopping();

        // Everything the start opened, newest first: the broker, the live state, the registries, the store (with a
        // checkpoint), the listener.
        await _owned.DisposeAsync();
        _logger.LogInformation("Plexus stopped cleanly");
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static MqttPrincipal? ApplicationOf(AdminTokenStore adminToken, ApiTokenStore apiTokens, string token)
    {
        if (adminToken.IsAdminToken(token))
        {
            return MqttPrincipal.AdminApplication;
        }

        return apiTokens.Find(token) is { } info ? MqttPrincipal.Application(info.Name, (MqttApplicationScope)(int)info.Scope, info.Namespaces, info.Mqtt) : null;
    }

    /// <summary>
    /// Warns when tokens would cross the network in cleartext: plain HTTP (and so MQTT over WebSocket) or plain MQTT on an
    /// address other hosts can reach. Loopback is left alone: a TLS proxy in front is the usual reason to listen there.
    /// </summary>
    public static void WarnAboutCleartext(ILogger logger, IPEndPoint http, bool https, IPEndPoint? mqtt)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(http);
        if (!https && !IPAddress.IsLoopback(http.Address))
        {
            logger.LogWarning("HTTP on {Address} is not encrypted: tokens and data (MQTT over WebSocket on /mqtt too) travel in cleartext to anyone on the network; give --https-cert and --https-key, or listen on 127.0.0.1 behind a TLS proxy", http);
        }

        if (mqtt is not null && !IPAddress.IsLoopback(mqtt.Address))
        {
            logger.LogWarning("MQTT on {Address} is not encrypted: device and API tokens and data travel in cleartext to anyone on the network; give remote clients MQTT over TLS (--mqtt-tls) and keep --mqtt on 127.0.0.1, or turn it off with --mqtt off", mqtt);
        }
    }

    private static void LogTightened(ILogger logger, string dataDirectory, TightenResult result)
    {
        if (result.Changed.Count > 0)
        {
            logger.LogWarning("The data folder {DataDirectory} was readable by other users; made private: {Changed}", Path.GetFullPath(dataDirectory), string.Join(", ", result.Changed));
        }

        if (result.Failed.Count > 0)
        {
            logger.LogWarning("Could not make everything in the data folder {DataDirectory} private: {Failed}; change the owner or mode of these files by hand", Path.GetFullPath(dataDirectory), string.Join(", ", result.Failed));
        }
    }

    /// <summary>Registers an auto-provisioned device, tagged <c>provisioned=auto</c>, and audits it; null when done, else why not.</summary>
    private static string? Provision(DeviceRegistry devices, AuditLog? audit, TimeProvider time, string id, string token)
    {
        if (!DeviceValidation.IsValidId(id, out string? problem))
        {
            return "invalid device id: " + problem;
        }

        try
        {
            devices.AddWithToken(new NewDevice(id, Tags: new Dictionary<string, string> { ["provisioned"] = "auto" }), token);

            // Only what succeeded: a refusal changed nothing, and whoever holds the key could otherwise fill the log.
            audit?.Record(new AuditEntry(time.GetUtcNow(), "device:" + id, "device.provision", "device", id, "registered with the provisioning key over MQTT", null, "ok", null));
            return null;
        }
        catch (RegistryException error)
        {
            return error.Message;
        }
    }

    /// <summary>True for an MQTT endpoint setting that turns the broker off: null, empty or "off".</summary>
    public static bool IsOff(string? endpoint) => string.IsNullOrWhiteSpace(endpoint) || string.Equals(endpoint.Trim(), PlexusServerOptions.MqttOff, StringComparison.OrdinalIgnoreCase);

    public static IPEndPoint ParseEndpoint(string hostPort)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostPort);
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), out int port) || port is < 0 or > 65535)
        {
            throw new ArgumentException($"\"{hostPort}\" is not host:port (for example 127.0.0.1:8086 or 0.0.0.0:8086)");
        }

        string host = hostPort[..colon].Trim('[', ']');
        IPAddress address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "" or "*" => IPAddress.Any,
            _ when IPAddress.TryParse(host, out var parsed) => parsed,
            _ => throw new ArgumentException($"\"{host}\" is not an IP address; use 127.0.0.1, 0.0.0.0, :: or localhost"),
        };
        return new IPEndPoint(address, port);
    }

    private static Uri BoundAddress(WebApplication app, IPEndPoint requested)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        string? first = addresses?.FirstOrDefault();
        if (first is null)
        {
            return new Uri($"http://{requested}");
        }

        // Kestrel reports the wildcard host as given; clients need an address they can connect to.
        var uri = new Uri(first.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "[::1]", StringComparison.Ordinal));
        return uri;
    }

    /// <summary>An observer added to the pipeline for as long as it is owned: removed first, then disposed (its queue drained).</summary>
    private sealed class ObserverRegistration : IAsyncDisposable
    {
        private readonly ObserverStage _stage;
        private readonly RuleEngine _engine;

        public ObserverRegistration(ObserverStage stage, RuleEngine engine)
        {
            _stage = stage;
            _engine = engine;
            stage.Add(engine);
        }

        public async ValueTask DisposeAsync()
        {
            _stage.Remove(_engine);
            await _engine.DisposeAsync();
        }
    }
}
