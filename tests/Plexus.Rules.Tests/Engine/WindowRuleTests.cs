using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

/// <summary>Rules over a device's recent points: geofence crossings, counts in a window, anomaly scores.</summary>
public sealed class WindowRuleTests
{
    private const string Depot = """{"type": "Feature", "properties": {"name": "depot", "radius_m": 500}, "geometry": {"type": "Point", "coordinates": [4.9, 52.37]}}""";

    private static string Position(double lat, double lon, long milliseconds) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"lat": {{lat}}, "lon": {{lon}}, "ts": {{milliseconds}}}""");

    [Fact]
    public async Task Night_exit_from_a_depot_published_over_MQTT_opens_an_alarm_and_a_late_point_changes_nothing()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var fence = await server.Client.PostAsync("/api/v1/geofences", Json(Depot)))
        {
            Assert.Equal(HttpStatusCode.Created, fence.StatusCode);
        }

        using var registered = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "t1", type = "truck" });
        string token = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var truck = await DeviceTestClients.ConnectAsync(server, "t1", token);
        long t0 = T0 / 1_000_000; // 2026-01-01T00:00Z in milliseconds: night
        async Task PublishAsync(double lat, double lon, long atMs, int evaluated)
        {
            Assert.True((await DeviceTestClients.PublishAsync(truck, "devices/t1/location", Position(lat, lon, atMs))).IsSuccess);
            if (evaluated > 0)
            {
                await Eventually.TrueAsync(() => server.Server.RuleEngine.Statistics.Points >= evaluated, because: $"the engine evaluates {evaluated} points");
            }
        }

        // The measurement exists once the truck has sent a position; the rule is checked against it.
        await PublishAsync(52.37, 4.9, t0, 0);
        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM positions"))[0][0].GetInt64() == 1);
        await AddRuleAsync(server, """{"name": "depot-exit-at-night", "from": "positions", "where": "exits_geofence(lat, lon, 'depot') AND (hour(time) >= 22 OR hour(time) < 5)", "severity": "major"}""");

        await PublishAsync(52.37, 4.9, t0 + 60_000, 1);
        Assert.Empty(await AlarmsAsync(server));
        await PublishAsync(52.45, 4.9, t0 + 120_000, 2);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("t1", alarm.GetProperty("device").GetString());
        Assert.Equal("active", alarm.GetProperty("status").GetString());

        // A point from before the exit, arriving late: neither a new crossing nor a clear.
        await PublishAsync(52.37, 4.9, t0 + 90_000, 3);
        Assert.Equal(1, server.Server.RuleEngine.Statistics.LatePoints);
        Assert.Equal("active", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());

        // Still outside: no crossing, the alarm clears. Back in and out again by day: no alarm.
        await PublishAsync(52.45, 4.9, t0 + 180_000, 4);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
        await PublishAsync(52.37, 4.9, t0 + (10 * 3_600_000), 5);
        await PublishAsync(52.45, 4.9, t0 + (10 * 3_600_000) + 60_000, 6);
        Assert.Single(await AlarmsAsync(server));
        await truck.DisconnectAsync(new MqttClientDisconnectOptions());
    }

    [Fact]
    public async Task More_door_openings_in_a_minute_than_the_limit_open_an_alarm_that_clears_when_the_window_empties()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var seed = await server.WriteAsync("telemetry,device=seed door=false,temperature=-20 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        }

        await AddRuleAsync(server, """{"name": "door-busy", "from": "telemetry", "where": "count_within('1m', door) > 3", "severity": "minor"}""");
        string Door(string device, bool open, double seconds) => $"telemetry,device={device} door={(open ? "true" : "false")} {T0 + (long)(seconds * 1e9)}";

        // f1: four openings in 30 s; f2: four openings two minutes apart.
        var lines = new StringBuilder();
        for (int i = 0; i < 4; i++)
        {
            lines.Append(Door("f1", true, i * 10)).Append('\n').Append(Door("f1", false, (i * 10) + 5)).Append('\n').Append(Door("f2", true, i * 120)).Append('\n');
        }

        await WriteAsync(server, lines.ToString().TrimEnd(), 12);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("f1", alarm.GetProperty("device").GetString());
        Assert.True(alarm.GetProperty("raised_value").GetProperty("door").GetBoolean());
        Assert.Equal(T0 + (30 * 1_000_000_000L), alarm.GetProperty("raised_value").GetProperty("time_ns").GetInt64());

        // Two minutes later the window holds this opening only.
        await WriteAsync(server, Door("f1", true, 150), 13);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Vibration_spike_opens_an_anomaly_alarm_for_that_device_only()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var seed = await server.WriteAsync("telemetry,device=seed vibration=1 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        }

        await AddRuleAsync(server, """{"name": "vibration-anomaly", "from": "telemetry", "where": "anomaly(vibration, 'mad', 20) > 3.5", "severity": "major"}""");
        var random = new Random(3);
        var lines = new StringBuilder();
        for (int i = 0; i < 40; i++)
        {
            foreach (string device in new[] { "p1", "p2" })
            {
                double value = 2 + (random.NextDouble() * 0.2) + (device == "p1" && i == 30 ? 5 : 0);
                lines.Append(CultureInfo.InvariantCulture, $"telemetry,device={device} vibration={value} {T0 + (i * Minute)}\n");
            }
        }

        await WriteAsync(server, lines.ToString().TrimEnd(), 80);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("p1", alarm.GetProperty("device").GetString());
        Assert.Equal("cleared", alarm.GetProperty("status").GetString());
        Assert.Equal(T0 + (30 * Minute), alarm.GetProperty("raised_value").GetProperty("time_ns").GetInt64());
    }

    [Theory]
    [InlineData("anomaly(vibration, 'fft') > 3", "where: the method of anomaly is one of 'zscore', 'ewma', 'mad'")]
    [InlineData("count_within('soon', door) > 3", "where: the window of count_within is a duration in quotes")]
    [InlineData("enters_geofence(lat, lon, 'nowhere')", "where: unknown field or tag 'lat'")]
    public async Task Rule_with_an_invalid_window_function_is_refused_with_400_naming_the_problem(string where, string expected)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var seed = await server.WriteAsync("telemetry,device=seed vibration=1,door=true 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        }

        using var response = await server.Client.PostAsync("/api/v1/rules", Json(JsonSerializer.Serialize(new { name = "bad", from = "telemetry", where })));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("where", error.GetProperty("field").GetString());
        Assert.Contains(expected, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
