using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus retention` against a real server.</summary>
public sealed class RetentionCommandTests
{
    [Fact]
    public async Task Retention_set_list_and_remove()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string[] admin = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var set = await CliRunner.RunAsync(["retention", "set", "main.readings", "--raw", "30d", .. admin]);
        Assert.Equal(0, set.ExitCode);
        Assert.StartsWith("retention of main.readings: 30d", set.Output, StringComparison.Ordinal);

        var list = await CliRunner.RunAsync(["retention", "list", .. admin]);
        Assert.Equal(0, list.ExitCode);
        Assert.Matches(@"main\.readings\s+30d\s+\d{4}-", list.Output.Split('\n')[1]);

        var bad = await CliRunner.RunAsync(["retention", "set", "main.readings", "--raw", "30 days", .. admin]);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("is not a retention such as 30d", bad.Error, StringComparison.Ordinal);

        var removed = await CliRunner.RunAsync(["retention", "remove", "main.readings", .. admin]);
        Assert.Equal(0, removed.ExitCode);
        Assert.Empty(server.Server.Retention.List());
    }
}
