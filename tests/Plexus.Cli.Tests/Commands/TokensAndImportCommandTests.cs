using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus tokens` and `plexus devices import` against a real server.</summary>
public sealed class TokensAndImportCommandTests
{
    [Fact]
    public async Task Tokens_create_list_and_revoke()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string[] admin = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var created = await CliRunner.RunAsync(["tokens", "create", "grafana", "--scope", "read", .. admin]);
        Assert.Equal(0, created.ExitCode);
        string token = created.Output.Trim();
        Assert.StartsWith("plxa_", token, StringComparison.Ordinal);
        Assert.Contains("shown only now", created.Error, StringComparison.Ordinal);

        var list = await CliRunner.RunAsync(["tokens", "list", .. admin]);
        Assert.Equal(0, list.ExitCode);
        var lines = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAME", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^grafana\s+read\s+all\s+all\s+\d{4}-", lines[1]);
        Assert.DoesNotContain(token, list.Output, StringComparison.Ordinal);

        // A read token may query but not manage tokens: the server's 403 message is shown.
        var forbidden = await CliRunner.RunAsync("tokens", "create", "x", "--scope", "admin", "--url", server.Address.ToString(), "--token", token);
        Assert.Equal(1, forbidden.ExitCode);
        Assert.Contains("403 forbidden", forbidden.Error, StringComparison.Ordinal);
        Assert.Contains("scope admin", forbidden.Error, StringComparison.Ordinal);

        var revoked = await CliRunner.RunAsync(["tokens", "revoke", "grafana", .. admin]);
        Assert.Equal(0, revoked.ExitCode);
        Assert.Empty(server.Server.ApiTokens.List());
        var missing = await CliRunner.RunAsync(["tokens", "revoke", "grafana", .. admin]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no API token named \"grafana\"", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tokens_create_with_namespaces_limits_the_token_and_list_shows_them()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string[] admin = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var created = await CliRunner.RunAsync(["tokens", "create", "partner", "--scope", "read", "--namespace", "partner_a", "--namespace", "partner_b", .. admin]);
        var list = await CliRunner.RunAsync(["tokens", "list", .. admin]);
        var adminLimited = await CliRunner.RunAsync(["tokens", "create", "boss", "--scope", "admin", "--namespace", "partner_a", .. admin]);

        Assert.True(created.ExitCode == 0, created.Error);
        Assert.Contains("(scope read, namespaces partner_a,partner_b)", created.Error, StringComparison.Ordinal);
        Assert.Equal(["partner_a", "partner_b"], server.Server.ApiTokens.List().Single().Namespaces);
        Assert.Matches(@"(?m)^partner\s+read\s+partner_a,partner_b\s+all\s+\d{4}-", list.Output);
        Assert.Equal(1, adminLimited.ExitCode);
        Assert.Contains("400 invalid: a token with scope admin cannot be limited to namespaces", adminLimited.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tokens_create_with_topic_filters_limits_the_token_and_list_shows_them()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string[] admin = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var created = await CliRunner.RunAsync(["tokens", "create", "dashboard", "--scope", "read", "--subscribe", "devices/+/telemetry", "--subscribe", "plant/#", "--deny-subscribe", "devices/secret/#", .. admin]);
        var list = await CliRunner.RunAsync(["tokens", "list", .. admin]);
        var readPublishing = await CliRunner.RunAsync(["tokens", "create", "reader", "--scope", "read", "--publish", "a/b", .. admin]);
        var badFilter = await CliRunner.RunAsync(["tokens", "create", "bad", "--scope", "write", "--deny-publish", "a/#/b", .. admin]);

        Assert.True(created.ExitCode == 0, created.Error);
        Assert.Contains("(scope read, mqtt subscribe=devices/+/telemetry|plant/#,deny-subscribe=devices/secret/#)", created.Error, StringComparison.Ordinal);
        var rules = server.Server.ApiTokens.List().Single().Mqtt!;
        Assert.Equal(["devices/+/telemetry", "plant/#"], rules.Subscribe);
        Assert.Equal(["devices/secret/#"], rules.DenySubscribe);
        Assert.Matches(@"(?m)^dashboard\s+read\s+all\s+subscribe=devices/\+/telemetry\|plant/#,deny-subscribe=devices/secret/#\s+\d{4}-", list.Output);
        Assert.Equal(1, readPublishing.ExitCode);
        Assert.Contains("400 invalid: mqtt.publish: a token with scope read may not publish", readPublishing.Error, StringComparison.Ordinal);
        Assert.Equal(1, badFilter.ExitCode);
        Assert.Contains("mqtt.deny_publish: the topic filter \"a/#/b\" has '#'", badFilter.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Devices_import_of_a_csv_prints_each_new_token_and_names_bad_lines()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var folder = new TempDirectory("plexus-import");
        string file = Path.Combine(folder.Path, "fleet.csv");
        await File.WriteAllTextAsync(file, "id,name,tag:fleet\ntruck-1,Truck 1,East\ntruck 2,Bad,West\ntruck-3,,West\n");

        var result = await CliRunner.RunAsync("devices", "import", file, "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken);

        Assert.Equal(1, result.ExitCode);
        var printed = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        Assert.Equal(["truck-1", "truck-3"], printed.Select(p => p[0]));
        Assert.All(printed, p => Assert.StartsWith("plxd_", p[1], StringComparison.Ordinal));
        Assert.True(server.Server.Devices.Validate("truck-1", printed[0][1]));
        Assert.Contains("fleet.csv: line 3 (id):", result.Error, StringComparison.Ordinal);
        Assert.Contains("2 created, 1 failed", result.Error, StringComparison.Ordinal);
        Assert.Equal("East", server.Server.Devices.Get("truck-1")!.Tags["fleet"]);
    }

    [Fact]
    public async Task Devices_import_of_json_with_out_writes_the_tokens_to_a_file()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var folder = new TempDirectory("plexus-import");
        string file = Path.Combine(folder.Path, "devices.json");
        string outFile = Path.Combine(folder.Path, "tokens.csv");
        await File.WriteAllTextAsync(file, """[{"id": "d1", "tags": {"site": "Oslo"}}, {"id": "d2"}]""");

        var result = await CliRunner.RunAsync("devices", "import", file, "--out", outFile, "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.Output);
        var lines = await File.ReadAllLinesAsync(outFile);
        Assert.Equal("id,token", lines[0]);
        Assert.Equal(["d1", "d2"], lines.Skip(1).Select(l => l.Split(',')[0]));
        Assert.True(server.Server.Devices.Validate("d2", lines[2].Split(',')[1]));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(outFile));
        }
    }
}
