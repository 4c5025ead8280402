using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Plexus.Cli.Client;
using Plexus.TestKit;

namespace Plexus.Cli.Tests;

/// <summary>
/// docs/getting-started.md as a newcomer follows it: every <c>console</c> block runs in bash (with <c>plexus</c> being
/// this build, <c>PLEXUS_URL</c>/<c>PLEXUS_TOKEN</c> set, the default ports mapped to the test server's) against a server
/// with the demo fleet running, and its output must be what the page shows. Every other block must say why it is only
/// illustrative.
/// </summary>
public sealed partial class GettingStartedDocsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Every_console_block_of_getting_started_prints_what_the_page_shows()
    {
        var blocks = DocsBlocks.Read("getting-started.md");
        Assert.True(blocks.Count(b => b.Language == "console") >= 3, "the page has console blocks to run");
        await using var server = await PlexusTestServer.StartAsync();
        using var stop = new CancellationTokenSource();
        var demo = DemoRunner.RunInProcessAsync(server.Server, TextWriter.Null, TimeSpan.FromMilliseconds(200), stop.Token);
        await Eventually.TrueAsync(async () => await DocsBlocks.CountAsync(server, "SELECT count(DISTINCT device) FROM positions") == 4, Deadline, "the demo trucks' positions");

        foreach (var block in blocks)
        {
            if (block.Illustrative is { } reason)
            {
                Assert.False(string.IsNullOrWhiteSpace(reason), $"block {block.Index} is marked illustrative without a reason");
                continue;
            }

            Assert.True(block.Language == "console", $"block {block.Index} ({block.Language}) is neither a console block the test runs nor marked <!-- illustrative: why -->");
            var (exit, output) = await DocsBlocks.RunAsync(server, block.Commands);
            Assert.True(exit == 0, $"block {block.Index} failed ({exit}):\n{block.Commands}\n{output}");
            Assert.Equal(block.Expected, output);
        }

        await stop.CancelAsync();
        await demo;
    }

    [Fact]
    public async Task Console_blocks_of_the_cli_page_print_what_the_page_shows()
    {
        var blocks = DocsBlocks.Read("cli.md").Where(b => b.Language == "console" && b.Illustrative is null).ToList();
        Assert.NotEmpty(blocks);
        await using var server = await PlexusTestServer.StartAsync();
        foreach (var block in blocks)
        {
            // These show mistakes and their answers: the exit code is part of the example, not a failure.
            var (_, output) = await DocsBlocks.RunAsync(server, block.Commands, stopAtError: false);
            Assert.Equal(block.Expected, output);
        }
    }
}

/// <summary>The fenced blocks of a page in docs/, and a bash that runs a console block's commands as a reader would.</summary>
internal static partial class DocsBlocks
{
    public sealed record Block(int Index, string Language, string Commands, string Expected, string? Illustrative);

    public static List<Block> Read(string page)
    {
        string markdown = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", page));
        var blocks = new List<Block>();
        foreach (Match match in Fence().Matches(markdown))
        {
            string? illustrative = match.Groups["why"].Success ? match.Groups["why"].Value.Trim() : null;
            var commands = new List<string>();
            var expected = new List<string>();
            foreach (string line in match.Groups["body"].Value.TrimEnd('\n').Split('\n'))
            {
                if (line.StartsWith("$ ", StringComparison.Ordinal))
                {
                    commands.Add(line[2..]);
                }
                else
                {
                    expected.Add(line.TrimEnd());
                }
            }

            blocks.Add(new Block(blocks.Count + 1, match.Groups["language"].Value, string.Join('\n', commands), string.Join('\n', expected), illustrative));
        }

        return blocks;
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(PlexusTestServer server, string commands, bool stopAtError = true)
    {
        string plexus = Path.Combine(AppContext.BaseDirectory, "plexus.dll");
        string script = (stopAtError ? "set -e\n" : "") + $"exec 2>&1\nplexus() {{ dotnet '{plexus}' \"$@\"; }}\n" + commands
            .Replace("-p 1883", "-p " + server.MqttEndpoint!.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("127.0.0.1:8086", server.Address.Authority, StringComparison.Ordinal);
        var environment = new Dictionary<string, string>
        {
            ["PLEXUS_URL"] = server.Address.ToString(),
            ["PLEXUS_TOKEN"] = PlexusTestServer.AdminToken,
            ["NO_COLOR"] = "1",
        };
        var (exitCode, output, errors) = await ChildProcess.RunAsync("bash", ["-c", script], environment, TimeSpan.FromMinutes(2));
        string text = output + errors;
        return (exitCode, string.Join('\n', text.TrimEnd('\n').Split('\n').Select(line => line.TrimEnd())));
    }

    /// <summary>The count, or -1 while the measurement it reads does not exist yet.</summary>
    public static async Task<long> CountAsync(PlexusTestServer server, string sql)
    {
        try
        {
            var rows = await server.RowsAsync(sql);
            return rows[0][0].ValueKind == JsonValueKind.Number ? rows[0][0].GetInt64() : -1;
        }
        catch (HttpRequestException error) when (error.Message.Contains("does not exist", StringComparison.Ordinal))
        {
            return -1;
        }
    }

    [GeneratedRegex(@"(?:<!-- illustrative:(?<why>[^>]*)-->\n)?```(?<language>\w*)\n(?<body>.*?)```", RegexOptions.Singleline)]
    private static partial Regex Fence();
}
