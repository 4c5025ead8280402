using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Plexus.TestKit;
using Xunit.Abstractions;

namespace Plexus.Cli.Tests.Docs;

/// <summary>
/// The examples of docs/configuration.md and docs/getting-started.md that start <c>plexus serve</c>, run as a reader runs
/// them but on free ports of 127.0.0.1 and in a temporary data folder: the config file, what the server prints when it
/// starts, and the demo fleet showing up in SQL.
/// </summary>
public sealed partial class ServeDocsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_config_file_of_configuration_md_starts_a_server_that_prints_what_the_page_shows()
    {
        var blocks = DocsPages.Runnable("configuration.md", "json", "");
        string config = Assert.Single(blocks, block => block.Language == "json").Code;
        string welcome = Assert.Single(blocks, block => block.Language == "").Code;
        using var folder = new TempDirectory("plexus-serve-docs");
        string data = Path.Combine(folder.Path, "plexus-data");

        // The page's server listens on every interface of a machine of its own; this one on a free loopback port.
        string file = Path.Combine(folder.Path, "plexus.json");
        File.WriteAllText(file, config.Replace("/var/lib/plexus", data, StringComparison.Ordinal).Replace("0.0.0.0:8086", "127.0.0.1:0", StringComparison.Ordinal));
        await using var server = await Serve("--config", file, "--mqtt", "127.0.0.1:0", "--pg", "127.0.0.1:0");

        // The welcome as the page shows it: its folder and the default ports in place of this run's.
        string printed = server.Welcome
            .Replace(data, "/home/me/plexus/plexus-data", StringComparison.Ordinal)
            .Replace($"127.0.0.1:{server.HttpPort}", "127.0.0.1:8086", StringComparison.Ordinal)
            .Replace($"127.0.0.1:{server.Port("mqtt://")}", "127.0.0.1:1883", StringComparison.Ordinal)
            .Replace($"127.0.0.1:{server.Port("postgresql://")}", "127.0.0.1:5433", StringComparison.Ordinal);
        Assert.True(DocsPages.OutputMatches(welcome, printed), $"plexus serve printed:\n{printed}\n--- the page shows:\n{welcome}");

        // The token it printed is the one it takes, as the page's export line says.
        using var client = server.Client();
        Assert.Equal(1, await CountAsync(client, "SELECT 1"));
    }

    [Fact]
    public async Task A_bad_value_in_the_config_file_stops_the_server_before_it_starts_naming_the_option()
    {
        using var folder = new TempDirectory("plexus-serve-docs");
        string file = Path.Combine(folder.Path, "plexus.json");
        File.WriteAllText(file, """{"data": "data", "http": "127.0.0.1:0", "query-timeout": "soon"}""");

        var (exitCode, _, errors) = await ChildProcess.RunAsync("dotnet", [Plexus, "serve", "--config", file, "--mqtt", "off", "--pg", "off"], timeout: StartDeadline);

        // As the page quotes it.
        Assert.Equal(2, exitCode);
        string message = errors.Trim();
        Assert.StartsWith("plexus serve: query-timeout: \"soon\" is not a duration", message, StringComparison.Ordinal);
        Assert.Contains($"`{message}` (exit code 2)", DocsPages.Text("configuration.md").ReplaceLineEndings(" "), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_demo_shows_devices_positions_and_state_in_sql_within_a_minute()
    {
        using var folder = new TempDirectory("plexus-serve-docs");
        await using var server = await Serve("--demo", "--data", Path.Combine(folder.Path, "plexus-data"), "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0", "--pg", "off");
        using var client = server.Client();

        // The minute counts from the welcome, when the reader has the token to query with (starting .NET and opening
        // the store come before it, and take longer on a machine busy with other tests).
        var clock = Stopwatch.StartNew();

        // The queries getting-started.md shows right after the start. A miss says what the server printed (the demo
        // logs what stopped it there).
        try
        {
            await Eventually.TrueAsync(async () => await CountAsync(client, "SELECT count(DISTINCT device) FROM positions") == 4, TimeSpan.FromSeconds(60) - clock.Elapsed, "the four trucks' positions");
            await Eventually.TrueAsync(async () => await CountAsync(client, "SELECT count(*) FROM device_state WHERE online AND device LIKE 'demo-%' AND cardinality(properties) > 0") >= 8, TimeSpan.FromSeconds(60) - clock.Elapsed, "devices online with reported state");
            await Eventually.TrueAsync(async () => await CountAsync(client, "SELECT count(DISTINCT device) FROM telemetry") >= 6, TimeSpan.FromSeconds(60) - clock.Elapsed, "telemetry of the freezers and pumps");
        }
        catch (TimeoutException missed)
        {
            throw new TimeoutException($"{missed.Message}\nplexus serve --demo printed:\n{server.Printed}\nthe positions query answers: {await AnswerAsync(client, "SELECT device, count(*) FROM positions GROUP BY device")}", missed);
        }
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"plexus serve --demo: devices, positions and state in SQL {clock.Elapsed.TotalSeconds:0.0} s after the welcome"));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromMinutes(1));
    }

    /// <summary>The shell blocks of every page that start <c>plexus serve</c> (HTTPS, MQTT over TLS), as (page, block number).</summary>
    public static TheoryData<string, int> ServerBlocks()
    {
        var blocks = new TheoryData<string, int>();
        foreach (var block in DocsPages.All().SelectMany(DocsPages.Blocks).Where(block => block.Illustrative is null && DocsShell.StartsServer(block)))
        {
            blocks.Add(block.Page, block.Index);
        }

        return blocks;
    }

    /// <summary>
    /// Runs a block in three steps, in one folder: its commands before <c>plexus serve</c> (making a certificate), the
    /// server as the block starts it but on free loopback ports with a data folder and admin token of the test's, then the
    /// commands after it (the clients), with the page's ports mapped to the server's and <c>PLEXUS_TOKEN</c> set.
    /// </summary>
    [Theory]
    [MemberData(nameof(ServerBlocks))]
    public async Task Shell_blocks_that_start_a_server_run_with_it_on_free_ports(string page, int index)
    {
        var block = DocsPages.Blocks(page)[index - 1];
        var lines = block.Code.Split('\n');
        int serve = Array.FindIndex(lines, line => line.StartsWith("plexus serve ", StringComparison.Ordinal));
        Assert.True(serve > 0 && lines.Count(line => line.Contains("plexus serve", StringComparison.Ordinal)) == 1, $"{block}: one plexus serve line, after the commands that prepare it");
        using var folder = new TempDirectory("plexus-serve-block");
        const string Token = "docs-serve-admin-token-0123456789";
        var ports = new Dictionary<string, int> { ["8086"] = FreePort(), ["8883"] = FreePort(), ["1883"] = FreePort() };

        await RunShellAsync(folder.Path, string.Join('\n', lines[..serve]), Token, ports, block);
        string[] arguments = [.. lines[serve].Split('#')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(2).Select(argument => MapPorts(argument.Replace("0.0.0.0:", "127.0.0.1:", StringComparison.Ordinal), ports))];
        string[] defaults = ["--data", "plexus-data", "--mqtt", $"127.0.0.1:{ports["1883"]}", "--pg", "off", "--admin-token", Token];
        await using var server = await Serve(folder.Path, [.. arguments, .. defaults.Chunk(2).Where(option => !arguments.Contains(option[0])).SelectMany(option => option)]);
        await RunShellAsync(folder.Path, string.Join('\n', lines[(serve + 1)..]), Token, ports, block);
    }

    private static async Task RunShellAsync(string folder, string commands, string token, Dictionary<string, int> ports, DocsBlock block)
    {
        string script = $"set -e -o pipefail\ncd '{folder}'\nplexus() {{ dotnet '{Plexus}' \"$@\"; }}\ncurl() {{ command curl --fail-with-body \"$@\"; }}\n{MapPorts(commands, ports)}\n";
        var (exitCode, printed, errors) = await ChildProcess.RunAsync("bash", ["-c", script], new Dictionary<string, string> { ["PLEXUS_TOKEN"] = token, ["NO_COLOR"] = "1" }, TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"{block}: a command failed (exit code {exitCode}):\n{commands}\n--- output:\n{printed}{errors}");
    }

    /// <summary>The page's ports (8086 HTTP, 1883 MQTT, 8883 MQTT over TLS) as this run's.</summary>
    private static string MapPorts(string text, Dictionary<string, int> ports) =>
        ports.Aggregate(text, (mapped, port) => mapped
            .Replace($"127.0.0.1:{port.Key}", $"127.0.0.1:{port.Value}", StringComparison.Ordinal)
            .Replace($"-p {port.Key}", $"-p {port.Value}", StringComparison.Ordinal));

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Plexus => Path.Combine(AppContext.BaseDirectory, "plexus.dll");

    /// <summary>The count a query answers, or -1 while the measurement it reads does not exist yet.</summary>
    private static async Task<long> CountAsync(HttpClient client, string sql)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/sql", new { sql });
        if (!response.IsSuccessStatusCode)
        {
            return -1;
        }

        var row = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("rows")[0];
        return row[0].GetInt64();
    }

    private static async Task<string> AnswerAsync(HttpClient client, string sql)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/sql", new { sql });
        return $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
    }

    private static Task<ServeProcess> Serve(params string[] arguments) => Serve(Environment.CurrentDirectory, arguments);

    /// <summary>Starts <c>plexus serve</c> and waits for its welcome, up to its admin token's line.</summary>
    private static async Task<ServeProcess> Serve(string folder, string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet", [Plexus, "serve", .. arguments]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        var printed = new StringBuilder();
        var process = Process.Start(start)!;
        var server = new ServeProcess(process, printed);
        process.OutputDataReceived += (_, line) =>
        {
            lock (printed)
            {
                printed.Append(line.Data).Append('\n');
            }
        };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (printed)
            {
                printed.Append(line.Data).Append('\n');
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await Eventually.TrueAsync(() => process.HasExited || server.Printed.Contains("  export PLEXUS_TOKEN=", StringComparison.Ordinal) || server.Printed.Contains("  admin token  as given", StringComparison.Ordinal), StartDeadline, "plexus serve printed its welcome");
            Assert.False(process.HasExited, $"plexus serve exited:\n{server.Printed}");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private sealed partial class ServeProcess(Process process, StringBuilder printed) : IAsyncDisposable
    {
        public string Printed
        {
            get
            {
                lock (printed)
                {
                    return printed.ToString();
                }
            }
        }

        /// <summary>The welcome, from "Plexus is running." to the line that exports the admin token.</summary>
        public string Welcome
        {
            get
            {
                string text = Printed;
                int start = text.IndexOf("  Plexus is running.", StringComparison.Ordinal);
                int end = text.IndexOf('\n', text.IndexOf("  export PLEXUS_TOKEN=", StringComparison.Ordinal));
                return text[start..end];
            }
        }

        public int HttpPort => Port("HTTP       http://");

        /// <summary>The port of 127.0.0.1 the welcome prints after <paramref name="prefix"/>.</summary>
        public int Port(string prefix) =>
            int.Parse(Regex.Match(Printed, Regex.Escape(prefix) + @"127\.0\.0\.1:(\d+)").Groups[1].Value, CultureInfo.InvariantCulture);

        public HttpClient Client()
        {
            string token = Token().Match(Printed).Groups[1].Value;
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
            return client;
        }

        public async ValueTask DisposeAsync()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        [GeneratedRegex(@"export PLEXUS_TOKEN=(\S+)")]
        private static partial Regex Token();
    }
}
