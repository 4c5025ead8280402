using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Api;
using Plexus.Api.Auth;
using Plexus.Query;
using Plexus.Storage;

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

    private PlexusServer(WebApplication app, ApiContext api, PlexusServerOptions options, PlexusStore store, AdminTokenStore tokens, Uri address, ILogger logger)
    {
        _app = app;
        _api = api;
        _options = options;
        Store = store;
        AdminTokens = tokens;
        HttpAddress = address;
        _logger = logger;
    }

    public Uri HttpAddress { get; }

    public PlexusStore Store { get; }

    public AdminTokenStore AdminTokens { get; }

    public string DataDirectory => _options.DataDirectory;

    public static async Task<PlexusServer> StartAsync(PlexusServerOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        loggerFactory ??= NullLoggerFactory.Instance;
        time ??= TimeProvider.System;
        var logger = loggerFactory.CreateLogger("Plexus.Server");
        var endpoint = ParseEndpoint(options.HttpEndpoint);

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
            var queries = new SqlQueryService(store, new QueryOptions { Timeout = options.QueryTimeout, MaxRows = options.QueryMaxRows });
            api.MarkReady(new RequestAuthenticator(tokens), store.Writer, queries, options.DataDirectory);
            logger.LogInformation("Plexus is ready on {Address}; data in {DataDirectory}", address, Path.GetFullPath(options.DataDirectory));
            return new PlexusServer(app, api, options, store, tokens, address, logger);
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
        await Store.DisposeAsync();
        await _app.DisposeAsync();
        _logger.LogInformation("Plexus stopped cleanly");
    }

    public async ValueTask DisposeAsync() => await StopAsync();

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
