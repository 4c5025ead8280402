using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

public sealed class AbsenceRuleTests
{
    [Fact]
    public async Task Device_silent_for_absent_for_by_the_injected_clock_opens_an_alarm_that_its_next_message_clears()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var server = await PlexusTestServer.StartAsync(time: time);
        using var registered = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "p1", type = "pump" });
        string token = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        await RegisterAsync(server, "v1", "valve");

        using (var device = await DeviceTestClients.ConnectAsync(server, "p1", token))
        {
            Assert.True((await DeviceTestClients.PublishAsync(device, "devices/p1/telemetry", """{"flow": 3}""")).IsSuccess);
            await AddRuleAsync(server, """{"name": "pump-deadman", "from": "telemetry", "where": "device.type = 'pump'", "absent_for": "10m", "severity": "critical"}""");
            Assert.True((await DeviceTestClients.PublishAsync(device, "devices/p1/telemetry", """{"flow": 4}""")).IsSuccess);
            await WriteAsync(server, "telemetry,device=v1 flow=1", 2);
            await device.DisconnectAsync(new MQTTnet.MqttClientDisconnectOptions());
        }

        long checks = server.Server.RuleEngine.Statistics.ClockChecks;
        time.Advance(TimeSpan.FromMinutes(9));
        await Eventually.TrueAsync(() => server.Server.RuleEngine.Statistics.ClockChecks > checks);
        Assert.Empty(await AlarmsAsync(server));

        time.Advance(TimeSpan.FromMinutes(2));
        await Eventually.TrueAsync(async () => (await AlarmsAsync(server)).Count == 1, because: "the pump has been silent for 11 minutes");
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("p1", alarm.GetProperty("device").GetString());
        Assert.Equal("critical", alarm.GetProperty("severity").GetString());
        Assert.Equal("2026-01-01T00:00:00.0000000Z", alarm.GetProperty("raised_value").GetProperty("last_seen").GetString());

        // Further ticks do not open a second alarm; the pump's next message clears it.
        checks = server.Server.RuleEngine.Statistics.ClockChecks;
        time.Advance(TimeSpan.FromMinutes(5));
        await Eventually.TrueAsync(() => server.Server.RuleEngine.Statistics.ClockChecks > checks);
        Assert.Single(await AlarmsAsync(server));
        using (var device = await DeviceTestClients.ConnectAsync(server, "p1", token))
        {
            Assert.True((await DeviceTestClients.PublishAsync(device, "devices/p1/telemetry", """{"flow": 5}""")).IsSuccess);
            await device.DisconnectAsync(new MQTTnet.MqttClientDisconnectOptions());
        }

        await Eventually.TrueAsync(async () => (await AlarmsAsync(server)).Single().GetProperty("status").GetString() == "cleared");
    }
}
