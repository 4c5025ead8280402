using System.CommandLine;
using Plexus.Cli.Commands;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus geofences` against a real server: GeoJSON bodies and the geofence endpoint's own 400/404/409 messages.</summary>
public sealed class GeofencesCommandTests
{
    [Fact]
    public async Task Add_list_show_and_remove_geofences_with_the_servers_own_errors()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        string[] connection = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];
        using var directory = new TempDirectory("plexus-geofences-cli");
        string circle = Path.Combine(directory.Path, "depot.geojson");
        await File.WriteAllTextAsync(circle, """{"type": "Feature", "properties": {"name": "depot", "radius_m": 250}, "geometry": {"type": "Point", "coordinates": [13.4, 52.5]}}""");

        var add = await RunAsync(["geofences", "add", circle, .. connection]);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Contains("added depot (circle)", add.Output, StringComparison.Ordinal);

        var again = await RunAsync(["geofences", "add", circle, .. connection]);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("409 conflict: ", again.Error, StringComparison.Ordinal);

        string bad = Path.Combine(directory.Path, "bad.geojson");
        await File.WriteAllTextAsync(bad, """{"type": "Feature", "properties": {"name": "bad", "radius_m": -1}, "geometry": {"type": "Point", "coordinates": [13.4, 52.5]}}""");
        var invalid = await RunAsync(["geofences", "add", bad, .. connection]);
        Assert.Equal(1, invalid.ExitCode);
        Assert.Contains("400 invalid: ", invalid.Error, StringComparison.Ordinal);

        var list = await RunAsync(["geofences", "list", .. connection]);
        Assert.True(list.ExitCode == 0, list.Error);
        var lines = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["NAME", "KIND", "RADIUS_M", "BBOX", "(W,S,E,N)"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["depot", "circle", "250"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3));
        Assert.Contains("1 geofence", list.Error, StringComparison.Ordinal);

        var show = await RunAsync(["geofences", "show", "depot", .. connection]);
        Assert.True(show.ExitCode == 0, show.Error);
        Assert.Contains("\"radius_m\": 250", show.Output, StringComparison.Ordinal);

        var removed = await RunAsync(["geofences", "remove", "depot", .. connection]);
        Assert.Equal(0, removed.ExitCode);
        Assert.Contains("removed depot", removed.Output, StringComparison.Ordinal);
        var missing = await RunAsync(["geofences", "show", "depot", .. connection]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not found: ", missing.Error, StringComparison.Ordinal);
    }

    private static async Task<CliResult> RunAsync(string[] args)
    {
        var root = new RootCommand("plexus (test)") { GeofencesCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}
