using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>A real `plexus serve` child process for the tests that kill it (crash tests) and talk to it over HTTP.</summary>
internal static class ServerProcess
{
    /// <summary>Starts `dotnet plexus.dll serve` with these arguments; its output is drained and dropped.</summary>
    public static Process Start(IEnumerable<string> serveArguments)
    {
        string plexus = Path.Combine(AppContext.BaseDirectory, "plexus.dll");
        var start = new ProcessStartInfo("dotnet", [plexus, "serve", .. serveArguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;

        // Drain the pipes so a chatty child never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static HttpClient Client(int port, string token)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        return client;
    }

    public static async Task WaitHealthyAsync(HttpClient client, Process server)
    {
        await Eventually.TrueAsync(async () =>
        {
            Assert.False(server.HasExited, $"plexus serve exited with code {(server.HasExited ? server.ExitCode : 0)}");
            try
            {
                using var response = await client.GetAsync("/health");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "plexus serve became healthy");
    }

    /// <summary>Runs a SQL query and returns its CSV answer; a failed query fails the test.</summary>
    public static async Task<string> QueryCsvAsync(HttpClient client, string sql)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sql")
        {
            Content = new StringContent(JsonSerializer.Serialize(new { sql }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        using var response = await client.SendAsync(request);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return body;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
