using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

public sealed class ThresholdRuleTests
{
    private const string Overheat = """
        {"name": "overheat", "from": "telemetry", "where": "temperature > 80 AND device.type = 'freezer'", "for": "5m",
         "clear_when": "temperature < 75", "severity": "major"}
        """;

    private static async Task<PlexusTestServer> StartAsync(string? folder = null)
    {
        var server = await PlexusTestServer.StartAsync(folder);
        using var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1");
        await RegisterAsync(server, "f1", "freezer");
        await RegisterAsync(server, "f2", "fridge");
        return server;
    }

    [Fact]
    public async Task Condition_held_for_its_duration_in_event_time_opens_one_alarm_that_hysteresis_keeps_until_clear_when()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, Overheat);

        await WriteAsync(server, $"{Line("f1", 85, 0)}\n{Line("f2", 85, 0)}\n{Line("f1", 86, 2)}\n{Line("f2", 86, 6)}", 4);
        Assert.Empty(await AlarmsAsync(server));

        // Five minutes after the condition began, by the points' own times: the alarm opens with the value that raised it.
        await WriteAsync(server, Line("f1", 87, 5), 5);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("overheat", alarm.GetProperty("rule").GetString());
        Assert.Equal("f1", alarm.GetProperty("device").GetString());
        Assert.Equal("active", alarm.GetProperty("status").GetString());
        Assert.Equal("major", alarm.GetProperty("severity").GetString());
        Assert.Equal(87, alarm.GetProperty("raised_value").GetProperty("temperature").GetDouble());
        Assert.Equal(1, alarm.GetProperty("count").GetInt64());

        // Between the thresholds nothing changes; above again is a repeat on the same alarm.
        await WriteAsync(server, $"{Line("f1", 78, 6)}\n{Line("f1", 90, 7)}\n{Line("f1", 91, 7.5)}", 8);
        alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("active", alarm.GetProperty("status").GetString());
        Assert.Equal(3, alarm.GetProperty("count").GetInt64());
        Assert.Equal(91, alarm.GetProperty("last_value").GetProperty("temperature").GetDouble());

        await WriteAsync(server, Line("f1", 74, 8), 9);
        alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("cleared", alarm.GetProperty("status").GetString());
        Assert.Equal("rule", alarm.GetProperty("cleared_by").GetString());
        Assert.Equal(JsonValueKind.Null, alarm.GetProperty("acknowledged_at").ValueKind);

        // A late point (older than the newest seen from f1) changes nothing.
        await WriteAsync(server, $"{Line("f1", 99, 1)}\n{Line("f1", 99, 1.5)}", 11);
        await Eventually.TrueAsync(() => server.Server.RuleEngine.Statistics.LatePoints == 2);
        Assert.Single(await AlarmsAsync(server));
        Assert.Equal(2, server.Server.RuleEngine.Statistics.LatePoints);

        var history = await server.RowsAsync("SELECT status FROM alarm_history ORDER BY changed_at, status");
        Assert.Equal(["active", "cleared"], history.Select(r => r[0].GetString()));
    }

    [Fact]
    public async Task A_write_that_fires_a_rule_for_thousands_of_series_opens_and_clears_every_alarm_with_its_history()
    {
        // The engine writes all of one write's alarm changes in one transaction: none may be lost or doubled.
        await using var server = await PlexusTestServer.StartAsync();
        using var seed = await server.WriteAsync("load,device=seed v=0 1");
        await AddRuleAsync(server, """{"name": "hot", "from": "load", "where": "v > 1", "severity": "minor"}""");
        const int Series = 2_000;
        string Lines(double value, double minutes) =>
            string.Join('\n', Enumerable.Range(0, Series).Select(i => $"load,device=s{i} v={value.ToString(System.Globalization.CultureInfo.InvariantCulture)} {T0 + (long)(minutes * Minute)}"));

        await WriteAsync(server, Lines(2, 0), Series);
        Assert.Equal(Series, (await server.RowsAsync("SELECT count(DISTINCT device) FROM alarms WHERE status = 'active' AND count = 1"))[0][0].GetInt64());

        await WriteAsync(server, $"{Lines(3, 1)}\n{Lines(0.5, 2)}", 3 * Series);
        var rows = await server.RowsAsync("SELECT count(*), sum(count), count(DISTINCT id) FROM alarms WHERE status = 'cleared' AND cleared_by = 'rule'");
        Assert.Equal(Series, rows[0][0].GetInt64());
        Assert.Equal(2 * Series, rows[0][1].GetDouble());
        Assert.Equal(Series, rows[0][2].GetInt64());
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM alarms WHERE status <> 'cleared'"))[0][0].GetInt64());
        var history = await server.RowsAsync("SELECT status, count(*) FROM alarm_history GROUP BY status ORDER BY status");
        Assert.Equal([("active", (long)Series), ("cleared", (long)Series)], history.Select(r => (r[0].GetString()!, r[1].GetInt64())));
    }

    [Fact]
    public async Task Without_clear_when_the_alarm_clears_when_the_condition_is_false_and_a_point_without_device_is_its_own_series()
    {
        await using var server = await StartAsync();
        using (var seed = await server.WriteAsync("cpu,host=a usage=1 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        }

        await AddRuleAsync(server, """{"name": "busy", "from": "cpu", "where": "usage > 90", "severity": "minor"}""");
        await WriteAsync(server, $"cpu,host=a usage=95 {T0}\ncpu,host=b usage=50 {T0}", 2);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("cpu,host=a", alarm.GetProperty("device").GetString());

        // NULL (the field missing) is not false: the alarm stays open until usage is measured below the threshold.
        await WriteAsync(server, $"cpu,host=a other=1 {T0 + Minute}", 3);
        Assert.Equal("active", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
        await WriteAsync(server, $"cpu,host=a usage=89 {T0 + (2 * Minute)}", 4);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Acknowledged_then_cleared_alarm_records_who_and_when_and_a_new_one_opens_when_the_condition_returns()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "hot", "from": "telemetry", "where": "temperature > 80", "severity": "critical"}""");
        await WriteAsync(server, Line("f1", 85, 0), 1);
        long id = Assert.Single(await AlarmsAsync(server, "?status=active")).GetProperty("id").GetInt64();

        using var tokenResponse = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "operator", scope = "write" });
        string token = (await tokenResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var operatorClient = server.ClientWithToken(token);
        using var ack = await operatorClient.PostAsync($"/api/v1/alarms/{id}/ack", null);
        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);
        var acknowledged = await ack.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("acknowledged", acknowledged.GetProperty("status").GetString());
        Assert.Equal("operator", acknowledged.GetProperty("acknowledged_by").GetString());
        Assert.Empty(await AlarmsAsync(server, "?status=active"));

        // Still hot: a repeat on the acknowledged alarm, not a new one.
        await WriteAsync(server, Line("f1", 86, 1), 2);
        Assert.Equal(2, Assert.Single(await AlarmsAsync(server, "?device=f1")).GetProperty("count").GetInt64());

        using var clear = await operatorClient.PostAsync($"/api/v1/alarms/{id}/clear", null);
        Assert.Equal(HttpStatusCode.OK, clear.StatusCode);
        var cleared = await clear.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("cleared", cleared.GetProperty("status").GetString());
        Assert.Equal("operator", cleared.GetProperty("cleared_by").GetString());
        using var clearAgain = await operatorClient.PostAsync($"/api/v1/alarms/{id}/clear", null);
        Assert.Equal(HttpStatusCode.OK, clearAgain.StatusCode);

        await WriteAsync(server, Line("f1", 87, 2), 3);
        var all = await AlarmsAsync(server, "?device=f1");
        Assert.Equal(2, all.Count);
        Assert.Equal("active", all[0].GetProperty("status").GetString());

        using var reader = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "viewer", scope = "read" });
        using var viewer = server.ClientWithToken((await reader.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!);
        using var refused = await viewer.PostAsync($"/api/v1/alarms/{all[0].GetProperty("id").GetInt64()}/ack", null);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var missing = await operatorClient.PostAsync("/api/v1/alarms/999/ack", null);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var bad = await server.Client.GetAsync("/api/v1/alarms?status=open");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        var rows = await server.RowsAsync("SELECT status, acknowledged_by, cleared_by FROM alarms ORDER BY id");
        Assert.Equal("cleared", rows[0][0].GetString());
        Assert.Equal("operator", rows[0][1].GetString());
        var history = await server.RowsAsync($"SELECT status, changed_by FROM alarm_history WHERE alarm_id = {id} ORDER BY changed_at");
        Assert.Equal(["active", "acknowledged", "cleared"], history.Select(r => r[0].GetString()));
    }

    [Fact]
    public async Task Open_alarm_survives_a_restart_without_a_duplicate_and_its_clear_is_not_lost()
    {
        using var folder = new TempDirectory("plexus-rules-restart");
        await using (var server = await StartAsync(folder.Path))
        {
            await AddRuleAsync(server, Overheat);
            await WriteAsync(server, $"{Line("f1", 85, 0)}\n{Line("f1", 86, 5)}", 2);
            Assert.Single(await AlarmsAsync(server));
        }

        await using var restarted = await PlexusTestServer.StartAsync(folder.Path);
        await WriteAsync(restarted, Line("f1", 90, 6), 1);
        var alarm = Assert.Single(await AlarmsAsync(restarted));
        Assert.Equal(2, alarm.GetProperty("count").GetInt64());
        await WriteAsync(restarted, Line("f1", 70, 7), 2);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(restarted)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Rule_added_beside_a_running_one_leaves_its_pending_state_and_a_removed_rule_added_again_starts_afresh()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "hot-for", "from": "telemetry", "where": "temperature > 80", "for": "5m"}""");
        await WriteAsync(server, Line("f1", 85, 0) + "\n" + Line("f2", 85, 0), 2);

        // The engine's per-measurement groups are rebuilt for the new set; what hot-for remembers per device is kept.
        await AddRuleAsync(server, """{"name": "hot-later", "from": "telemetry", "where": "temperature > 80", "for": "5m"}""");
        await WriteAsync(server, Line("f1", 85, 6), 3);
        Assert.Equal(["hot-for"], (await AlarmsAsync(server)).Select(a => a.GetProperty("rule").GetString()));

        using (var remove = await server.Client.DeleteAsync("/api/v1/rules/hot-for"))
        {
            Assert.True(remove.IsSuccessStatusCode);
        }

        await AddRuleAsync(server, """{"name": "hot-for", "from": "telemetry", "where": "temperature > 80", "for": "5m"}""");

        // f2 was pending since minute 0 in the removed rule; the new one starts at minute 7, so minute 11 opens nothing.
        await WriteAsync(server, Line("f2", 85, 7), 4);
        await WriteAsync(server, Line("f2", 85, 11), 5);
        var alarms = await AlarmsAsync(server);
        Assert.DoesNotContain(alarms, a => a.GetProperty("device").GetString() == "f2");
        await WriteAsync(server, Line("f2", 85, 12), 6);
        alarms = await AlarmsAsync(server);
        Assert.Contains(alarms, a => a.GetProperty("rule").GetString() == "hot-for" && a.GetProperty("device").GetString() == "f2");
        Assert.Contains(alarms, a => a.GetProperty("rule").GetString() == "hot-later" && a.GetProperty("device").GetString() == "f2");
    }

    [Fact]
    public async Task Paused_rule_is_not_evaluated_and_resumed_rule_is()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "hot", "from": "telemetry", "where": "temperature > 80"}""");
        using (var pause = await server.Client.PostAsync("/api/v1/rules/hot/pause", null))
        {
            Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        }

        using (var write = await server.WriteAsync(Line("f1", 85, 0), "?precision=ns"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        Assert.Equal(0, server.Server.RuleEngine.Statistics.Points);
        Assert.Empty(await AlarmsAsync(server));
        using (var resume = await server.Client.PostAsync("/api/v1/rules/hot/resume", null))
        {
            Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        }

        await WriteAsync(server, Line("f1", 85, 1), 1);
        Assert.Single(await AlarmsAsync(server));
    }
}
