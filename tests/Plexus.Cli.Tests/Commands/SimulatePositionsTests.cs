using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary><c>plexus simulate --positions</c> against a real server: the trucks' readings appear in main.positions too.</summary>
public sealed class SimulatePositionsTests
{
    [Fact]
    public async Task Simulate_with_positions_fills_main_positions_with_every_readings_location()
    {
        await using var server = await PlexusTestServer.StartAsync();

        var result = await CliRunner.RunAsync(
            "simulate", "--trucks", "3", "--duration", "10m", "--seed", "1", "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken, "--db", "fleet", "--positions");

        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Contains("rows written to main.positions", result.Error, StringComparison.Ordinal);
        var rows = await server.RowsAsync(
            "SELECT count(*), count(DISTINCT p.device) FROM main.positions p JOIN fleet.readings r ON r.name = p.device AND r.time = p.time AND r.latitude = p.lat AND r.longitude = p.lon");
        var readings = await server.RowsAsync("SELECT count(*) FROM fleet.readings WHERE name IS NOT NULL AND latitude IS NOT NULL AND longitude IS NOT NULL");
        Assert.Equal(readings[0][0].GetInt64(), rows[0][0].GetInt64());
        Assert.True(rows[0][1].GetInt64() >= 2);
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM positions WHERE lat IS NULL"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Simulate_with_positions_but_no_server_says_what_it_needs()
    {
        var result = await CliRunner.RunAsync("simulate", "--trucks", "1", "--duration", "1m", "--positions", "--out", "-");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--positions", result.Error, StringComparison.Ordinal);
        Assert.Contains("needs --url", result.Error, StringComparison.Ordinal);
    }
}
