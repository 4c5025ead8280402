using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Docs;

/// <summary>
/// Runs the shell examples of a docs page as a reader would, in one bash session in page order, against a test server:
/// <c>plexus</c> is this build, <c>PLEXUS_URL</c>/<c>PLEXUS_TOKEN</c> are set, and the default addresses the page
/// uses (HTTP 8086, MQTT 1883, PostgreSQL 5433) are mapped to the test server's.
/// <list type="bullet">
/// <item><c>console</c> blocks: the lines after <c>$ </c> are commands, the others the output the page shows, compared
/// with <see cref="DocsPages.OutputMatches"/> (<c>…</c> stands for what varies).</item>
/// <item><c>sh</c> and <c>bash</c> blocks: run with <c>set -e</c>, and <c>curl</c> fails on an HTTP error status, so
/// a command that fails fails the block.</item>
/// <item><c>python</c> blocks: run by /usr/bin/python3; <c>js</c> blocks: by Node.js as ES modules, with the npm
/// packages of tests/clients/node (mqtt.js); each must end with exit code 0.</item>
/// <item>a block marked <c>&lt;!-- file: name --&gt;</c> is written to that file in the session's folder.</item>
/// </list>
/// </summary>
internal static partial class DocsShell
{
    public static readonly string[] Languages = ["console", "sh", "bash", "python", "js"];

    private const string Marker = "@@docs-block ";

    /// <summary>
    /// The blocks the runner takes from a page: its shell blocks and the files they read, but not the blocks that start a
    /// server of their own (<see cref="StartsServer(DocsBlock)"/>), which <see cref="ServeDocsTests"/> runs on free ports.
    /// </summary>
    public static IReadOnlyList<DocsBlock> BlocksOf(string page) =>
        DocsPages.Blocks(page).Where(block => block.Illustrative is null && (Languages.Contains(block.Language) || block.File is not null) && !StartsServer(block)).ToList();

    /// <summary>Whether a shell block starts <c>plexus serve</c> (or a benchmark, which does), on the page's ports.</summary>
    public static bool StartsServer(DocsBlock block) =>
        Languages.Contains(block.Language) && ServeCommand().IsMatch(block.Language == "console" ? string.Join('\n', block.Commands) : block.Code);

    /// <summary>Runs the page's blocks; the failures, one per block, each naming the block (none when all passed).</summary>
    public static async Task<List<string>> RunPageAsync(PlexusTestServer server, string page, IReadOnlyDictionary<string, string>? environment = null)
    {
        var blocks = BlocksOf(page);
        if (MissingClient(blocks) is { } missing)
        {
            return [$"{page}: {missing}"];
        }

        using var folder = new TempDirectory("plexus-docs");

        // The JavaScript examples import mqtt.js as a reader's project would, from a node_modules beside them.
        Directory.CreateSymbolicLink(Path.Combine(folder.Path, "node_modules"), NodeModules);
        var script = new StringBuilder();
        string plexus = Path.Combine(AppContext.BaseDirectory, "plexus.dll");
        script.Append(CultureInfo.InvariantCulture, $"exec 2>&1\nset -o pipefail\ncd '{folder.Path}'\nplexus() {{ dotnet '{plexus}' \"$@\"; }}\n");

        // A console command's output ends its line, as the next prompt would on a terminal; with pipefail, $? after
        // it is still the command's exit code.
        script.Append("docs_eol() { sed -e '$a\\'; }\n");
        foreach (var block in blocks)
        {
            script.Append(CultureInfo.InvariantCulture, $"printf '\\n{Marker}{block.Index}@@\\n'\n");
            if (block.File is { } file)
            {
                File.WriteAllText(Path.Combine(folder.Path, file), block.Body);
            }
            else if (block.Language == "console")
            {
                foreach (string command in block.Commands)
                {
                    // Assignments and cd change the session, so they run in it; the others go through docs_eol.
                    script.Append(SessionCommand().IsMatch(command) ? command : "{ " + command + "\n} 2>&1 | docs_eol").Append('\n');
                }
            }
            else if (block.Language is "python" or "js")
            {
                string example = $"example-{block.Index}.{(block.Language == "js" ? "mjs" : "py")}";
                File.WriteAllText(Path.Combine(folder.Path, example), MapAddresses(server, block.Body));
                script.Append(CultureInfo.InvariantCulture, $"set -e\n{(block.Language == "js" ? "node" : "/usr/bin/python3")} {example}\nset +e\n");
            }
            else
            {
                script.Append("curl() { command curl --fail-with-body \"$@\"; }\nset -e\n").Append(block.Code).Append("\nset +e\nunset -f curl\n");
            }
        }

        script.Append(CultureInfo.InvariantCulture, $"printf '\\n{Marker}end@@\\n'\n");
        var variables = new Dictionary<string, string>
        {
            ["PLEXUS_URL"] = server.Address.ToString(),
            ["PLEXUS_TOKEN"] = PlexusTestServer.AdminToken,
            ["NO_COLOR"] = "1",
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        // A bound, not a timing: getting-started.md starts the CLI a dozen times, slow on a machine busy with other tests.
        var (_, output, errors) = await ChildProcess.RunAsync("bash", ["-c", MapAddresses(server, script.ToString())], variables, TimeSpan.FromMinutes(6));
        return Compare(blocks, output + errors);
    }

    private static List<string> Compare(IReadOnlyList<DocsBlock> blocks, string output)
    {
        var sections = new Dictionary<string, string>();
        string[] parts = output.Split(Marker);
        foreach (string part in parts.Skip(1))
        {
            int end = part.IndexOf("@@\n", StringComparison.Ordinal);
            // Trailing spaces and carriage returns (curl -i's headers end in CRLF) are not compared, nor blank lines
            // around a block's output.
            sections[part[..end]] = string.Join('\n', part[(end + 3)..].Split('\n').Select(line => line.TrimEnd())).Trim('\n');
        }

        var failures = new List<string>();
        foreach (var block in blocks)
        {
            string key = block.Index.ToString(CultureInfo.InvariantCulture);
            string next = blocks.SkipWhile(b => b != block).Skip(1).Select(b => b.Index.ToString(CultureInfo.InvariantCulture)).FirstOrDefault() ?? "end";
            if (!sections.TryGetValue(key, out string? actual))
            {
                failures.Add($"{block}: never ran (an earlier block stopped the session)");
                break;
            }

            if (!sections.ContainsKey(next))
            {
                failures.Add($"{block}: a command failed:\n{block.Code}\n--- output:\n{actual}");
                break;
            }

            if (block.Language == "console" && block.File is null && !DocsPages.OutputMatches(block.Expected, actual))
            {
                failures.Add($"{block}: the output differs from the page's.\n--- the page shows:\n{block.Expected}\n--- the commands printed:\n{actual}");
            }
        }

        return failures;
    }

    private static string NodeModules => Path.Combine(DocsPages.Root, "..", "tests", "clients", "node", "node_modules");

    /// <summary>Why a client the page's examples use cannot run here, or null.</summary>
    private static string? MissingClient(IReadOnlyList<DocsBlock> blocks)
    {
        string code = string.Join('\n', blocks.Select(block => block.Code));
        (string Uses, string Program, string Install)[] clients =
        [
            ("curl ", "/usr/bin/curl", "Debian's curl"),
            ("jq ", "/usr/bin/jq", "Debian's jq"),
            ("mosquitto_", "/usr/bin/mosquitto_pub", "Debian's mosquitto-clients"),
            ("psql ", "/usr/bin/psql", "Debian's postgresql-client"),
            ("influx ", "/usr/bin/influx", "Debian's influxdb-client"),
        ];
        foreach (var (uses, program, install) in clients)
        {
            if (code.Contains(uses, StringComparison.Ordinal) && !File.Exists(program))
            {
                return $"{program} is missing: install {install} (scripts/test.sh does)";
            }
        }

        if (blocks.Any(block => block.Language == "js") && !Directory.Exists(Path.Combine(NodeModules, "mqtt")))
        {
            return "mqtt.js is missing: run npm install in tests/clients/node (scripts/test.sh does)";
        }

        return null;
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

    private static string MapAddresses(PlexusTestServer server, string script)
    {
        string mqtt = server.MqttEndpoint!.Port.ToString(CultureInfo.InvariantCulture);
        string pg = server.Server.PgEndpoint?.Port.ToString(CultureInfo.InvariantCulture) ?? "5433";
        return script
            .Replace("-p 1883", "-p " + mqtt, StringComparison.Ordinal)
            .Replace("127.0.0.1:1883", "127.0.0.1:" + mqtt, StringComparison.Ordinal)
            .Replace("-p 5433", "-p " + pg, StringComparison.Ordinal)
            .Replace("port=5433", "port=" + pg, StringComparison.Ordinal)
            .Replace("127.0.0.1:8086", server.Address.Authority, StringComparison.Ordinal)
            .Replace("localhost:8086", server.Address.Authority, StringComparison.Ordinal)
            .Replace("\"127.0.0.1\", 1883", "\"127.0.0.1\", " + mqtt, StringComparison.Ordinal)
            .Replace("'127.0.0.1', 8086", "'127.0.0.1', " + server.Address.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("-port 8086", "-port " + server.Address.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"plexus serve|-- serve|scripts/bench\.sh")]
    private static partial Regex ServeCommand();

    [GeneratedRegex(@"^(export |cd |[A-Za-z_][A-Za-z0-9_]*=)")]
    private static partial Regex SessionCommand();
}
