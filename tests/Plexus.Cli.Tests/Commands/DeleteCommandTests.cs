using System.Net;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus delete` against a real server.</summary>
public sealed class DeleteCommandTests
{
    [Fact]
    public async Task Delete_rows_by_time_and_tags_then_drop_the_measurement_and_the_namespace_with_all()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var write = await server.WriteAsync("readings,device=a t=1 1000\nreadings,device=a t=2 2000\nreadings,device=b t=3 2000", "?bucket=lab&precision=ns"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        string[] admin = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var rows = await CliRunner.RunAsync(["delete", "lab.readings", "--from", "1500", "--where", "device = 'a'", .. admin]);
        Assert.Equal(0, rows.ExitCode);
        Assert.Equal("deleted 1 row", rows.Output.Trim());

        var unfiltered = await CliRunner.RunAsync(["delete", "lab.readings", .. admin]);
        Assert.Equal(1, unfiltered.ExitCode);
        Assert.Contains("--all to drop lab.readings", unfiltered.Error, StringComparison.Ordinal);

        var unknownTag = await CliRunner.RunAsync(["delete", "lab.readings", "--where", "truck = 'a'", .. admin]);
        Assert.Equal(1, unknownTag.ExitCode);
        Assert.Contains("unknown tag \"truck\"", unknownTag.Error, StringComparison.Ordinal);

        var hostile = await CliRunner.RunAsync(["delete", "lab.readings", "--where", "device = 'a' OR 1=1", .. admin]);
        Assert.Equal(1, hostile.ExitCode);
        Assert.Contains("400 invalid", hostile.Error, StringComparison.Ordinal);
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM readings", "lab"))[0][0].GetInt64());

        var dropped = await CliRunner.RunAsync(["delete", "lab.readings", "--all", .. admin]);
        Assert.Equal(0, dropped.ExitCode);
        Assert.Equal("deleted 2 rows; dropped readings", dropped.Output.Trim());

        using (var write = await server.WriteAsync("m v=1 1", "?bucket=lab"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        var namespaceDropped = await CliRunner.RunAsync(["delete", "lab", "--all", .. admin]);
        Assert.Equal(0, namespaceDropped.ExitCode);
        Assert.Equal("deleted 1 row; dropped namespace lab", namespaceDropped.Output.Trim());
    }
}
