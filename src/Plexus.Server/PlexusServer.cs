using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Api;
using Plexus.Api.Auth;
using Plexus.Broker;
using Plexus.Broker.Auth;
using Plexus.Devices;
using Plexus.Query;
using Plexus.Storage;
using Plexus.Storage.Writing;

namespace Plexus.Server;

/// <summary>
/// The composition root, as a library: `plexus serve` and the tests start the same server, the tests on
/// port 0 with a temporary data folder.
/// </summary>
public sealed class PlexusServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ApiContext _api;
    private readonly PlexusServerOptions _options;
    private readonly ILogger _logger;
    private int _stopped;

    private readonly PlexusBroker? _broker;

    private PlexusServer(WebApplication app, ApiContext api, PlexusServerOptions options, PlexusStore store, AdminTokenStore tokens, DeviceRegistry devices, Uri address, PlexusBroker? broker, ILogger logger)
    {
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

    public PlexusStore Store { get; }

    /// <summary>Where the MQTT broker listens (the bound port when 0 was asked for); null when it is off.</summary>
    public IPEndPoint? MqttEndpoint => _broker?.Endpoint;

    public AdminTokenStore AdminTokens { get; }

    /// <summary>The device registry (issue 4 §2): device identities for the broker, metadata for the API and SQL.</summary>
    public DeviceRegistry Devices { get; }

    /// <summary>Assets (sites, buildings, fleets...) that devices belong to (issue 5).</summary>
    public AssetRegistry? Assets { get; private set; }

    private DeviceLinks? Links { get; set; }

    public string DataDirectory => _options.DataDirectory;

    public static async Task<PlexusServer> StartAsync(PlexusServerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        time ??= TimeProvider.System;
        var logger = loggerFactory.CreateLogger("Plexus.Server");
        var endpoint = ParseEndpoint(options.HttpEndpoint);
        var mqttEndpoint = IsOff(options.MqttEndpoint) ? null : ParseEndpoint(options.MqttEndpoint!);
        var deviceTags = DeviceTagMap.Parse(options.DeviceTag);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Plexus" });
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddLogging();
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(endpoint);
            kestrel.AddServerHeader = false;

            // The write endpoint enforces its own limit on decompressed bytes (413 with a clear message).
            kestrel.Limits.MaxRequestBodySize = null;
        });
        builder.WebHost.UseShutdownTimeout(options.ShutdownTimeout);

        var api = new ApiContext(new ApiOptions { MaxBodyBytes = options.MaxBodyBytes }, time, loggerFactory);
        var app = builder.Build();
        app.UseRouting();
        app.MapPlexusApi(api);

        // Listen first: /health answers 503 while the store opens (replaying its log can take a while).
        await app.StartAsync(cancellationToken);
        var address = BoundAddress(app, endpoint);
        try
        {
            var tokens = AdminTokenStore.Open(options.DataDirectory, options.AdminToken);
            var store = PlexusStore.Open(new StorageOptions { DataDirectory = options.DataDirectory, MemoryLimit = options.MemoryLimit }, loggerFactory);
            PlexusBroker? broker = null;
            DeviceRegistry? devices = null;
            AssetRegistry? assets = null;
            DeviceLinks? links = null;

            // HTTP and MQTT writes both go through it: main.devices is the registry's view, not a measurement.
            IPointWriter writer = new ReservedMeasurementWriter(store.Writer);
            try
            {
                devices = DeviceRegistry.Open(store, time);
                assets = AssetRegistry.Open(store, devices, time);
                links = DeviceLinks.Open(store, deviceTags, loggerFactory);

                // Device keys first seen in new data appear in main.devices (registered = false).
                writer = links.Watch(writer);

                // After the store: the broker's first acknowledgement needs a store to be durable in.
                if (mqttEndpoint is not null)
                {
                    // Applications with an API token (the admin token), devices with their id and device token.
                    var authenticator = new DeviceMqttAuthenticator(token => tokens.IsAdminToken(token), devices.Validate);
                    broker = await PlexusBroker.StartAsync(
                        new PlexusBrokerOptions { Endpoint = mqttEndpoint, DataDirectory = options.DataDirectory },
                        authenticator,
                        writer,
                        loggerFactory,
                        time);

                    // A rotated or removed token also ends the device's open connections, not only new CONNECTs.
                    var started = broker;
                    devices.TokenRevoked = id => _ = started.DisconnectDeviceAsync(id);
                }
            }
            catch (SocketException error)
            {
                links?.Dispose();
                assets?.Dispose();
                devices?.Dispose();
                await store.DisposeAsync();
                throw new IOException($"cannot listen for MQTT on {mqttEndpoint}: {error.Message}; choose another address with --mqtt host:port, or --mqtt off", error);
            }
            catch
            {
                links?.Dispose();
                assets?.Dispose();
                devices?.Dispose();
                await store.DisposeAsync();
                throw;
            }

            var queries = new SqlQueryService(store, new QueryOptions { Timeout = options.QueryTimeout, MaxRows = options.QueryMaxRows });
            api.Assets = assets;
            api.MarkReady(new RequestAuthenticator(tokens), writer, queries, options.DataDirectory, devices);
            logger.LogInformation("Plexus is ready on {Address}; MQTT on {MqttEndpoint}; data in {DataDirectory}", address, broker?.Endpoint.ToString() ?? "off", Path.GetFullPath(options.DataDirectory));
            return new PlexusServer(app, api, options, store, tokens, devices, address, broker, logger) { Assets = assets, Links = links };
        }
        catch
        {
            await app.StopAsync(CancellationToken.None);
            await app.DisposeAsync();
            throw;
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

        // Before the store closes: device messages being stored finish and are acknowledged.
        if (_broker is not null)
        {
            await _broker.StopAsync();
        }

        Links?.Dispose();
        Assets?.Dispose();
        Devices.Dispose();
        await Store.DisposeAsync();
        await _app.DisposeAsync();
        _logger.LogInformation("Plexus stopped cleanly");
    }

    public async ValueTask DisposeAsync() => await StopAsync();

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
}
