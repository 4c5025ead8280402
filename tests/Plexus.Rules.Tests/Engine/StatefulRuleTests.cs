using System.Net.Http.Json;
using System.Text.Json;
using MQTTnet;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

public sealed class StatefulRuleTests
{
    [Fact]
    public async Task Rate_of_change_per_second_opens_an_alarm_per_device()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1"))
        {
            Assert.True(seed.IsSuccessStatusCode);
        }

        await AddRuleAsync(server, """{"name": "heating-fast", "from": "telemetry", "where": "rate(temperature) > 0.1", "severity": "minor"}""");

        // f1 warms 30 degrees in a minute (0.5/s); f2 warms 3 (0.05/s); f2's first point has no rate yet.
        await WriteAsync(server, $"{Line("f1", 20, 0)}\n{Line("f2", 20, 0)}\n{Line("f1", 50, 1)}\n{Line("f2", 23, 1)}", 4);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("f1", alarm.GetProperty("device").GetString());

        // Steady again: the rate is 0, the condition false, the alarm clears.
        await WriteAsync(server, Line("f1", 50, 2), 5);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Changed_reported_firmware_is_seen_by_the_devices_next_point()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var registered = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d1", type = "sensor" });
        string token = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token);
        Assert.True((await DeviceTestClients.PublishAsync(device, "devices/d1/state", """{"firmware": "1.4.2"}""")).IsSuccess);
        Assert.True((await DeviceTestClients.PublishAsync(device, "devices/d1/telemetry", """{"temperature": 20}""")).IsSuccess);
        await AddRuleAsync(server, """{"name": "firmware-changed", "from": "telemetry", "where": "changed(state.firmware)", "severity": "info"}""");

        Assert.True((await DeviceTestClients.PublishAsync(device, "devices/d1/telemetry", """{"temperature": 21}""")).IsSuccess);
        await Eventually.TrueAsync(() => server.Server.RuleEngine.Statistics.Points >= 1);
        Assert.Empty(await AlarmsAsync(server));

        Assert.True((await DeviceTestClients.PublishAsync(device, "devices/d1/state", """{"firmware": "2.0.0"}""")).IsSuccess);
        Assert.True((await DeviceTestClients.PublishAsync(device, "devices/d1/telemetry", """{"temperature": 22}""")).IsSuccess);
        await Eventually.TrueAsync(async () => (await AlarmsAsync(server)).Count == 1, because: "the firmware changed");
        Assert.True((await DeviceTestClients.PublishAsync(device, "devices/d1/telemetry", """{"temperature": 23}""")).IsSuccess);
        await Eventually.TrueAsync(async () => (await AlarmsAsync(server)).Single().GetProperty("status").GetString() == "cleared");
        await device.DisconnectAsync(new MqttClientDisconnectOptions());
    }
}
