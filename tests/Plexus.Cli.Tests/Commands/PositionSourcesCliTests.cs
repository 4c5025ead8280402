using Plexus.TestKit;
using static Plexus.Cli.Tests.CliProcess;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus positions sources …`: the real executable against a real server.</summary>
public sealed class PositionSourcesCliTests
{
    [Fact]
    public async Task Add_list_and_remove_position_sources_through_the_cli()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { DeviceTag = "device,fleet=name" });
        using (var write = await server.WriteAsync("readings,name=truck_0 latitude=48.5,longitude=2.25,velocity=30 1000\n", "?bucket=fleet"))
        {
            Assert.True(write.IsSuccessStatusCode);
        }

        var added = await RunAsync(server, "positions", "sources", "add", "fleet.readings", "--lat", "latitude", "--lon", "longitude", "--speed", "velocity");
        Assert.Equal(0, added.ExitCode);
        Assert.Contains("declared fleet.readings (device column name)", added.Output);
        var waiting = await RunAsync(server, "positions", "sources", "add", "plant.gps", "--lat", "y", "--lon", "x", "--device", "machine");
        Assert.Equal(0, waiting.ExitCode);
        Assert.Contains("not yet available: measurement plant.gps does not exist yet", waiting.Error);

        var list = await RunAsync(server, "positions", "sources", "list");
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("fleet.readings  latitude  longitude  speed=velocity  name (default)  yes", list.Output);
        string plant = list.Output.Split('\n').Single(l => l.StartsWith("plant.gps", StringComparison.Ordinal));
        Assert.Equal(["plant.gps", "y", "x", "machine", "not", "yet:"], plant.Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(6));
        Assert.EndsWith("not yet: measurement plant.gps does not exist yet", plant.TrimEnd(), StringComparison.Ordinal);
        Assert.Equal(30, (await server.RowsAsync("SELECT speed FROM device_positions WHERE device = 'truck_0'"))[0][0].GetDouble());

        var bad = await RunAsync(server, "positions", "sources", "add", "fleet.readings", "--lat", "latitude", "--lon", "time");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("400 invalid: lon: \"time\" is the measurement's timestamp", bad.Error);

        Assert.Equal(0, (await RunAsync(server, "positions", "sources", "remove", "fleet.readings")).ExitCode);
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM device_positions"))[0][0].GetInt64());
        var missing = await RunAsync(server, "positions", "sources", "remove", "fleet.readings");
        Assert.Contains("404 not found: no position source \"fleet.readings\"", missing.Error);
    }
}
