using System.CommandLine;
using Plexus.Cli.Client;
using Plexus.Cli.Commands;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus assets` against a real server.</summary>
public sealed class AssetsCommandTests
{
    [Fact]
    public async Task Add_list_show_update_import_and_remove_assets()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        string[] connection = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var add = await RunAsync(null, ["assets", "add", "site-1", "--name", "Plant 1", "--type", "site", "--tag", "region=EU", .. connection]);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Contains("\"region\": \"EU\"", add.Output, StringComparison.Ordinal);

        using var directory = new TempDirectory("plexus-assets-cli");
        string csv = Path.Combine(directory.Path, "assets.csv");
        await File.WriteAllTextAsync(csv, "id,name,type,parent\nroom-1,Room 1,room,floor-1\nfloor-1,Floor 1,floor,site-1\n");
        var import = await RunAsync(null, ["assets", "import", csv, .. connection]);
        Assert.True(import.ExitCode == 0, import.Error);
        Assert.Contains("created 2, failed 0", import.Output, StringComparison.Ordinal);

        var json = await RunAsync("""[{"id": "room-2", "parent": "floor-1"}, {"id": "bad", "parent": "ghost"}]""", ["assets", "import", "-", .. connection]);
        Assert.Equal(1, json.ExitCode);
        Assert.Contains("item 1: parent \"ghost\" is not an asset", json.Error, StringComparison.Ordinal);

        var list = await RunAsync(null, ["assets", "list", "--parent", "floor-1", .. connection]);
        Assert.Equal(0, list.ExitCode);
        Assert.Equal(["ID", "room-1", "room-2"], list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]));
        Assert.Contains("2 of 2 assets", list.Error, StringComparison.Ordinal);

        var update = await RunAsync(null, ["assets", "update", "room-2", "--name", "Room 2", "--clear-parent", .. connection]);
        Assert.Equal(0, update.ExitCode);
        Assert.Contains("\"parent\": null", update.Output, StringComparison.Ordinal);

        var show = await RunAsync(null, ["assets", "show", "floor-1", .. connection]);
        Assert.Contains("\"room-1\"", show.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("\"room-2\"", show.Output, StringComparison.Ordinal);

        var refused = await RunAsync(null, ["assets", "remove", "site-1", .. connection]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("409 conflict", refused.Error, StringComparison.Ordinal);

        var removed = await RunAsync(null, ["assets", "remove", "site-1", "--cascade", "delete", .. connection]);
        Assert.Equal(0, removed.ExitCode);
        var missing = await RunAsync(null, ["assets", "show", "room-1", .. connection]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not found: no asset \"room-1\" exists", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_a_bad_device_tag_before_starting()
    {
        using var directory = new TempDirectory("plexus-serve-device-tag");
        var result = await RunAsync(null, ["serve", "--data", directory.Path, "--http", "127.0.0.1:0", "--mqtt", "off", "--pg", "off", "--device-tag", "device,fleet="]);

        // Exit code 2 is the option check's (the message goes to the process's stderr); a started server would not return.
        Assert.Equal(2, result.ExitCode);
    }

    [Theory]
    [InlineData("--map-tiles", "https://tile.example.org/{z}/{x}.png")]
    [InlineData("--map-tiles", "https://tile.example.org/{z}/{x}/{y}.png; script-src *")]
    [InlineData("--map-attribution", "credit without a tile server")]
    public async Task Serve_refuses_a_bad_map_tile_option_before_starting(string option, string value)
    {
        using var directory = new TempDirectory("plexus-serve-map-tiles");
        var result = await RunAsync(null, ["serve", "--data", directory.Path, "--http", "127.0.0.1:0", "--mqtt", "off", "--pg", "off", option, value]);
        Assert.Equal(2, result.ExitCode);
    }

    private static async Task<CliResult> RunAsync(string? input, string[] args)
    {
        var root = new RootCommand("plexus (test)") { AssetsCommand.Create(), ServeCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var redirect = input is null ? null : CliConsole.RedirectInput(() => new MemoryStream(System.Text.Encoding.UTF8.GetBytes(input)));
        int exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}
