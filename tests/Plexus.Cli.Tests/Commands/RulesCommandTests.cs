using System.CommandLine;
using System.Net.Http.Json;
using Plexus.Cli.Commands;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus rules` against a real server: flags and JSON files in, the rule endpoint's own 400/404/409 messages out.</summary>
public sealed class RulesCommandTests
{
    [Fact]
    public async Task Add_list_show_update_pause_resume_and_remove_rules_with_the_servers_own_errors()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        await WriteAsync(server, "telemetry,device=f1 temperature=20 1000000000");

        string[] connection = Connection(server);
        var add = await RunAsync(["rules", "add", "overheat", "--from", "telemetry", "--where", "temperature > 80", "--for", "5m", "--severity", "major", "--webhook", "http://127.0.0.1:9/hook", .. connection]);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Contains("added rule overheat", add.Output, StringComparison.Ordinal);

        var again = await RunAsync(["rules", "add", "overheat", "--from", "telemetry", "--where", "temperature > 80", .. connection]);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("409 conflict: ", again.Error, StringComparison.Ordinal);

        var invalid = await RunAsync(["rules", "add", "typo", "--from", "telemetry", "--where", "temprature > 80", .. connection]);
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("400 invalid: where: unknown field or tag 'temprature'", invalid.Error, StringComparison.Ordinal);

        using var directory = new TempDirectory("plexus-rules-cli");
        string file = Path.Combine(directory.Path, "deadman.json");
        await File.WriteAllTextAsync(file, """{"name": "deadman", "from": "telemetry", "absent_for": "10m", "severity": "critical"}""");
        var fromFile = await RunAsync(["rules", "add", "--file", file, .. connection]);
        Assert.True(fromFile.ExitCode == 0, fromFile.Error);

        var update = await RunAsync(["rules", "update", "overheat", "--where", "temperature > 90", .. connection]);
        Assert.True(update.ExitCode == 0, update.Error);
        var show = await RunAsync(["rules", "show", "overheat", .. connection]);
        Assert.Contains("\"where\": \"temperature > 90\"", show.Output, StringComparison.Ordinal);
        Assert.Contains("\"for\": \"5m\"", show.Output, StringComparison.Ordinal);

        var pause = await RunAsync(["rules", "pause", "overheat", .. connection]);
        Assert.True(pause.ExitCode == 0, pause.Error);
        var list = await RunAsync(["rules", "list", .. connection]);
        var lines = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "FROM", "CONDITION", "FOR", "SEVERITY", "STATUS"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("deadman", lines[1], StringComparison.Ordinal);
        Assert.EndsWith("paused", lines[2], StringComparison.Ordinal);
        Assert.Contains("2 rules", list.Error, StringComparison.Ordinal);
        var resume = await RunAsync(["rules", "resume", "overheat", .. connection]);
        Assert.Contains("resumed rule overheat", resume.Output, StringComparison.Ordinal);

        var removed = await RunAsync(["rules", "remove", "overheat", .. connection]);
        Assert.Equal(0, removed.ExitCode);
        var missing = await RunAsync(["rules", "show", "overheat", .. connection]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not found: ", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Alarms_are_listed_acknowledged_and_cleared()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        await WriteAsync(server, "telemetry,device=f1 temperature=20 1000000000");

        string[] connection = Connection(server);
        Assert.Equal(0, (await RunAsync(["rules", "add", "hot", "--from", "telemetry", "--where", "temperature > 80", "--severity", "critical", .. connection])).ExitCode);
        await WriteAsync(server, "telemetry,device=f1 temperature=90 2000000000");

        await Eventually.TrueAsync(async () => (await RunAsync(["alarms", "list", "--status", "active", .. connection])).Output.Contains("critical", StringComparison.Ordinal));
        var list = await RunAsync(["alarms", "list", "--device", "f1", .. connection]);
        var row = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["1", "hot", "f1", "critical", "active", "1"], row.Take(6));

        var ack = await RunAsync(["alarms", "ack", "1", .. connection]);
        Assert.True(ack.ExitCode == 0, ack.Error);
        Assert.Contains("acknowledged alarm 1 (acknowledged)", ack.Output, StringComparison.Ordinal);
        var clear = await RunAsync(["alarms", "clear", "1", .. connection]);
        Assert.Contains("cleared alarm 1 (cleared)", clear.Output, StringComparison.Ordinal);
        var missing = await RunAsync(["alarms", "ack", "7", .. connection]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not found: no alarm 7", missing.Error, StringComparison.Ordinal);
        var bad = await RunAsync(["alarms", "list", "--status", "open", .. connection]);
        Assert.Contains("400 invalid: status \"open\" is not one of active, acknowledged, cleared", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Alarms_list_with_an_asset_shows_the_alarms_of_the_devices_below_it()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        using (var site = await server.Client.PostAsJsonAsync("/api/v1/assets", new { id = "site-1" }))
        {
            Assert.True(site.IsSuccessStatusCode, await site.Content.ReadAsStringAsync());
        }

        using (var device = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "f1", parent = "site-1" }))
        {
            Assert.True(device.IsSuccessStatusCode, await device.Content.ReadAsStringAsync());
        }

        await WriteAsync(server, "telemetry,device=f1 temperature=20 1000000000");

        string[] connection = Connection(server);
        Assert.Equal(0, (await RunAsync(["rules", "add", "hot", "--from", "telemetry", "--where", "temperature > 80", .. connection])).ExitCode);
        await WriteAsync(server, "telemetry,device=f1 temperature=90 2000000000\ntelemetry,device=f2 temperature=90 2000000000");

        await Eventually.TrueAsync(async () => (await RunAsync(["alarms", "list", .. connection])).Error.Contains("2 alarms", StringComparison.Ordinal));
        var list = await RunAsync(["alarms", "list", "--asset", "site-1", .. connection]);
        Assert.True(list.ExitCode == 0, list.Error);
        Assert.Equal("f1", list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[2]);
        Assert.Contains("1 alarm", list.Error, StringComparison.Ordinal);
        var missing = await RunAsync(["alarms", "list", "--asset", "site-2", .. connection]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not found: no asset \"site-2\" exists", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rule_in_a_YAML_file_is_sent_as_its_JSON_and_refused_with_the_servers_own_errors()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        await WriteAsync(server, "telemetry,device=f1 temperature=20,door=false 1000000000");

        using var folder = new TempDirectory("plexus-rule-yaml");
        string File(string name, string text)
        {
            string path = Path.Combine(folder.Path, name);
            System.IO.File.WriteAllText(path, text);
            return path;
        }

        string[] connection = Connection(server);
        string hot = File("hot.yml", "# a comment\nname: hot\nfrom: telemetry\nwhere: temperature > 80 AND NOT door\nfor: 5m\nseverity: critical\nactions:\n  - type: mqtt\n    topic: \"hot/{device}\"\n");
        var added = await RunAsync(["rules", "add", "-f", hot, .. connection]);
        Assert.True(added.ExitCode == 0, added.Error);
        Assert.Contains("added rule hot", added.Output, StringComparison.Ordinal);
        var show = await RunAsync(["rules", "show", "hot", .. connection]);
        Assert.Contains("\"where\": \"temperature > 80 AND NOT door\"", show.Output, StringComparison.Ordinal);
        Assert.Contains("\"topic\": \"hot/{device}\"", show.Output, StringComparison.Ordinal);

        var updated = await RunAsync(["rules", "update", "hot", "--file", File("hot.yaml", "name: hot\nfrom: telemetry\nwhere: temperature > 90\nfor: 10m\n"), .. connection]);
        Assert.True(updated.ExitCode == 0, updated.Error);
        Assert.Contains("\"for\": \"10m\"", (await RunAsync(["rules", "show", "hot", .. connection])).Output, StringComparison.Ordinal);

        // The server's checks and messages, as for JSON: a misspelt column, and a number where text belongs.
        var typo = await RunAsync(["rules", "add", "-f", File("typo.yaml", "name: typo\nfrom: telemetry\nwhere: temprature > 80\n"), .. connection]);
        Assert.Equal(1, typo.ExitCode);
        Assert.Contains("400 invalid: where: unknown field or tag 'temprature'", typo.Error, StringComparison.Ordinal);
        var number = await RunAsync(["rules", "add", "-f", File("number.yaml", "name: number\nfrom: telemetry\nwhere: temperature > 1\nseverity: 3\n"), .. connection]);
        Assert.Contains("400 invalid: severity must be a string, not number", number.Error, StringComparison.Ordinal);

        // What YAML could blow up is refused before anything is sent.
        var alias = await RunAsync(["rules", "add", "-f", File("alias.yaml", "name: &n alias\nfrom: *n\nwhere: temperature > 1\n"), .. connection]);
        Assert.Equal(1, alias.ExitCode);
        Assert.Contains("alias.yaml: line 1, column 7: anchors and aliases (&n, *n) are not read in a rule file", alias.Error, StringComparison.Ordinal);
        var two = await RunAsync(["rules", "add", "-f", File("two.yaml", "name: a\n---\nname: b\n"), .. connection]);
        Assert.Contains("two.yaml holds 2 YAML documents; a rule file holds one rule", two.Error, StringComparison.Ordinal);
        var broken = await RunAsync(["rules", "add", "-f", File("broken.yaml", "name: broken\nwhere: [unclosed\n"), .. connection]);
        Assert.Contains("broken.yaml: line ", broken.Error, StringComparison.Ordinal);
        Assert.Single((await RunAsync(["rules", "list", .. connection])).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1));
    }

    [Fact]
    public void Plain_YAML_values_take_their_core_types_and_quoted_ones_stay_text()
    {
        var rule = RuleYaml.ToJson("a: 80\nb: \"80\"\nc: -1.5e3\nd: true\ne: ~\nf: 5m\ng: 'x: y'\nh: [1, two]\ni:\n", "rule.yaml");
        Assert.Equal("""{"a":80,"b":"80","c":-1500,"d":true,"e":null,"f":"5m","g":"x: y","h":[1,"two"],"i":null}""", rule.ToJsonString());
    }

    private static string[] Connection(PlexusTestServer server) => ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

    private static async Task WriteAsync(PlexusTestServer server, string lines)
    {
        using var write = await server.WriteAsync(lines);
        Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
    }

    private static async Task<CliResult> RunAsync(string[] args)
    {
        var root = new RootCommand("plexus (test)") { RulesCommand.Create(), AlarmsCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}
