using System.Globalization;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary><c>plexus simulate --mqtt</c> against a real server: the trucks become devices that publish live over MQTT.</summary>
public sealed class SimulateMqttTests
{
    [Fact]
    public async Task Simulate_over_mqtt_registers_each_truck_and_its_rows_and_positions_arrive_through_the_broker()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string mqtt = "127.0.0.1:" + server.MqttEndpoint!.Port.ToString(CultureInfo.InvariantCulture);

        var result = await CliRunner.RunAsync(
            "simulate", "--trucks", "3", "--duration", "3s", "--interval", "1s", "--no-chaos", "--seed", "1",
            "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken, "--mqtt", mqtt, "--concurrency", "3");

        Assert.True(result.ExitCode == 0, result.Error + result.Output);
        Assert.Contains("registered 3 trucks as devices", result.Error, StringComparison.Ordinal);
        Assert.Contains("18 rows published", result.Output, StringComparison.Ordinal);

        var devices = await server.RowsAsync("SELECT id, type, tags['fleet'] IS NOT NULL FROM devices WHERE tags['simulated'] = 'true' ORDER BY id");
        Assert.Equal(["truck_0", "truck_1", "truck_2"], devices.Select(row => row[0].GetString()!));
        Assert.All(devices, row => Assert.Equal("truck", row[1].GetString()));

        // Each row went through the device path: the broker stamped the device tag from the topic.
        var readings = await server.RowsAsync("SELECT device, count(*) FROM main.readings GROUP BY device ORDER BY device");
        Assert.Equal(["truck_0", "truck_1", "truck_2"], readings.Select(row => row[0].GetString()!));
        Assert.All(readings, row => Assert.Equal(3, row[1].GetInt64()));
        Assert.Equal(9L, (await server.RowsAsync("SELECT count(*) FROM main.diagnostics WHERE device = name"))[0][0].GetInt64());

        // Positions came as location messages: they are the readings' coordinates, at the readings' times.
        var positions = await server.RowsAsync(
            "SELECT count(*) FROM main.positions p JOIN main.readings r ON r.device = p.device AND r.time = p.time AND r.latitude = p.lat AND r.longitude = p.lon");
        Assert.Equal(9L, positions[0][0].GetInt64());
    }

    [Fact]
    public async Task Simulate_over_mqtt_without_a_server_url_says_what_it_needs()
    {
        var result = await CliRunner.RunAsync("simulate", "--trucks", "1", "--duration", "1m", "--mqtt", "127.0.0.1:1883");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--mqtt registers the trucks as devices through the server at --url", result.Error, StringComparison.Ordinal);
    }
}
