using Plexus.TestKit;
using static Plexus.Cli.Tests.CliProcess;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus geofences …`: the real executable against a real server.</summary>
public sealed class GeofencesCliTests
{
    [Fact]
    public async Task Add_list_show_and_remove_through_the_cli()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var folder = new TempDirectory("plexus-geo-cli");
        string file = Path.Combine(folder.Path, "fences.geojson");
        await File.WriteAllTextAsync(file, """
            {"type": "FeatureCollection", "features": [
              {"type": "Feature", "id": "depot-7", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[4.28, 52.08], [4.32, 52.08], [4.32, 52.12], [4.28, 52.08]]]}},
              {"type": "Feature", "properties": {"name": "yard", "radius_m": 250}, "geometry": {"type": "Point", "coordinates": [4.35, 52.1]}}]}
            """);
        string bad = Path.Combine(folder.Path, "bad.geojson");
        await File.WriteAllTextAsync(bad, """{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[4.28, 52.08], [4.32, 52.08], [4.32, 52.12], [4.28, 52.09]]]}}""");

        var added = await RunAsync(server, "geofences", "add", file);
        Assert.Equal(0, added.ExitCode);
        Assert.Contains("added depot-7 (polygon)", added.Output);
        Assert.Contains("added yard (circle)", added.Output);

        var again = await RunAsync(server, "geofences", "add", file);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("409 conflict", again.Error);
        Assert.Equal(0, (await RunAsync(server, "geofences", "add", file, "--replace")).ExitCode);

        var refused = await RunAsync(server, "geofences", "add", bad);
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("not closed", refused.Error);

        var list = await RunAsync(server, "geofences", "list");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("depot-7  polygon", list.Output);
        Assert.Contains("yard     circle   250", list.Output);

        var show = await RunAsync(server, "geofences", "show", "yard");
        Assert.Contains("\"radius_m\": 250", show.Output);

        Assert.Equal(0, (await RunAsync(server, "geofences", "remove", "yard")).ExitCode);
        var missing = await RunAsync(server, "geofences", "show", "yard");
        Assert.Contains("404 not found: no geofence \"yard\"", missing.Error);
    }
}
