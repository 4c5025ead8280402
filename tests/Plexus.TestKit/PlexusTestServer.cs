using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Plexus.Server;

namespace Plexus.TestKit;

/// <summary>
/// A real Plexus server in the test process: Kestrel on 127.0.0.1 port 0, a temporary data folder, a known
/// admin token. Disposing it stops the server and fails the test if the server logged an error.
/// </summary>
public sealed class PlexusTestServer : IAsyncDisposable
{
    public const string AdminToken = "test-admin-token";

    private readonly TempDirectory? _ownedDirectory;
    private readonly ILoggerFactory _loggerFactory;

    private PlexusTestServer(PlexusServer server, TempDirectory? ownedDirectory, CollectingLoggerProvider logs, ILoggerFactory loggerFactory)
    {
        Server = server;
        _ownedDirectory = ownedDirectory;
        Logs = logs;
        _loggerFactory = loggerFactory;
        Client = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromMinutes(2) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", AdminToken);
    }

    public PlexusServer Server { get; }

    public HttpClient Client { get; }

    public CollectingLoggerProvider Logs { get; }

    public Uri Address => Server.HttpAddress;

    /// <summary>The embedded MQTT broker's endpoint (127.0.0.1 and a free port); null when a test turned it off.</summary>
    public System.Net.IPEndPoint? MqttEndpoint => Server.MqttEndpoint;

    /// <summary>Errors a test provokes on purpose; they do not fail the test on dispose.</summary>
    public bool AllowErrorLogs { get; set; }

    public static async Task<PlexusTestServer> StartAsync(string? dataDirectory = null, Func<PlexusServerOptions, PlexusServerOptions>? configure = null, TimeProvider? time = null)
    {
        var owned = dataDirectory is null ? new TempDirectory("plexus-server") : null;
        var options = new PlexusServerOptions
        {
            DataDirectory = dataDirectory ?? owned!.Path,
            HttpEndpoint = "127.0.0.1:0",
            MqttEndpoint = "127.0.0.1:0",
            PgEndpoint = "127.0.0.1:0",
            AdminToken = AdminToken,
        };
        options = configure?.Invoke(options) ?? options;
        var logs = new CollectingLoggerProvider();
        var loggerFactory = LoggerFactory.Create(builder => builder.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var server = await PlexusServer.StartAsync(options, loggerFactory, time);
        return new PlexusTestServer(server, owned, logs, loggerFactory);
    }

    /// <summary>An HTTP client of this server that sends another token (an API token, a device token); the caller disposes it.</summary>
    public HttpClient ClientWithToken(string token)
    {
        var client = new HttpClient { BaseAddress = Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        return client;
    }

    public Task<HttpResponseMessage> WriteAsync(string lineProtocol, string query = "") =>
        Client.PostAsync("/api/v2/write" + query, new StringContent(lineProtocol, Encoding.UTF8, "text/plain"));

    public async Task<JsonElement> SqlAsync(string sql, string? db = null)
    {
        using var response = await Client.PostAsJsonAsync("/api/v1/sql", new { sql, db });
        string body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"SQL failed with {(int)response.StatusCode}: {body}");
        }

        return JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>The rows of a query as lists of JSON values, for compact assertions.</summary>
    public async Task<List<List<JsonElement>>> RowsAsync(string sql, string? db = null)
    {
        var result = await SqlAsync(sql, db);
        return result.GetProperty("rows").EnumerateArray().Select(r => r.EnumerateArray().ToList()).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Server.DisposeAsync();
        _loggerFactory.Dispose();
        _ownedDirectory?.Dispose();
        var errors = Logs.Errors.ToList();
        if (errors.Count > 0 && !AllowErrorLogs)
        {
            throw new InvalidOperationException("The server logged errors:\n" + string.Join("\n", errors));
        }
    }
}
