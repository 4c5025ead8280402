using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Plexus.Rules.Engine;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

/// <summary>What a rule remembers per device survives a restart of the server (docs/rules.md#restarts).</summary>
public sealed class RuleStateRestartTests
{
    private const string Overheat = """
        {"name": "overheat", "from": "telemetry", "where": "temperature > 80", "for": "5m", "clear_when": "temperature < 75", "severity": "major"}
        """;

    private static string StateFile(string folder) => Path.Combine(folder, RuleStateFile.FileName);

    private static async Task<PlexusTestServer> StartAsync(string folder, TimeProvider? time = null, TimeSpan? interval = null) =>
        await PlexusTestServer.StartAsync(folder, options => options with { RulesStateInterval = interval ?? RuleStateOptions.DefaultInterval }, time);

    [Fact]
    public async Task Condition_pending_for_its_for_before_a_restart_raises_exactly_one_alarm_after_it_and_a_later_clear_clears_that_alarm()
    {
        using var folder = new TempDirectory("plexus-rule-state");
        await using (var server = await StartAsync(folder.Path))
        {
            using var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1");
            await AddRuleAsync(server, Overheat);

            // The condition begins at minute 0 and still holds at minute 3; the alarm would open at minute 5.
            await WriteAsync(server, $"{Line("f1", 85, 0)}\n{Line("f1", 86, 3)}", 2);
            Assert.Empty(await AlarmsAsync(server));
        }

        await using (var restarted = await StartAsync(folder.Path))
        {
            Assert.Equal(1, restarted.Server.RuleEngine.RestoredKeys);

            // Five minutes after the condition began, by the points' own time: it held across the restart.
            await WriteAsync(restarted, Line("f1", 87, 5), 1);
            var alarm = Assert.Single(await AlarmsAsync(restarted));
            Assert.Equal("active", alarm.GetProperty("status").GetString());
            Assert.Equal(0, alarm.GetProperty("raised_value").GetProperty("time_ns").GetInt64() - (T0 + (5 * Minute)));

            // More points that meet it repeat on the alarm; a point older than the newest before the restart is late.
            await WriteAsync(restarted, $"{Line("f1", 88, 6)}\n{Line("f1", 70, 2)}", 2);
            Assert.Equal(1, restarted.Server.RuleEngine.Statistics.LatePoints);
            alarm = Assert.Single(await AlarmsAsync(restarted));
            Assert.Equal(2, alarm.GetProperty("count").GetInt64());
        }

        await using (var again = await StartAsync(folder.Path))
        {
            // Still true after a second restart: a repeat, not a second alarm. Then the clear clears the alarm opened before.
            await WriteAsync(again, Line("f1", 89, 7), 1);
            Assert.Equal(3, Assert.Single(await AlarmsAsync(again)).GetProperty("count").GetInt64());
            await WriteAsync(again, Line("f1", 70, 8), 2);
            var cleared = Assert.Single(await AlarmsAsync(again));
            Assert.Equal("cleared", cleared.GetProperty("status").GetString());
            Assert.Equal("rule", cleared.GetProperty("cleared_by").GetString());
        }
    }

    [Fact]
    public async Task Windows_and_previous_values_survive_a_restart()
    {
        using var folder = new TempDirectory("plexus-rule-state");
        await using (var server = await StartAsync(folder.Path))
        {
            using var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1");
            await AddRuleAsync(server, """{"name": "busy", "from": "telemetry", "where": "count_within('10m') >= 9"}""");
            await AddRuleAsync(server, """{"name": "odd", "from": "telemetry", "where": "anomaly(temperature, 'mad', 8) > 4"}""");
            await AddRuleAsync(server, """{"name": "fast", "from": "telemetry", "where": "rate(temperature) > 1"}""");

            // Eight ordinary readings a minute apart fill the anomaly window and the count's ten minutes.
            double[] readings = [20, 21, 20.5, 19.5, 20, 21.5, 20, 19];
            await WriteAsync(server, string.Join('\n', readings.Select((t, i) => Line("f1", t, i))), 8);
            Assert.Empty(await AlarmsAsync(server));
        }

        await using var restarted = await StartAsync(folder.Path);

        // One more point: the ninth in ten minutes, a spike against the window and a rise of 2 °C per second since the
        // point before the restart. Without the state, none of the three would hold.
        await WriteAsync(restarted, Line("f1", 79, 7.5), 1);
        var alarms = await AlarmsAsync(restarted);
        Assert.Equal(["busy", "fast", "odd"], alarms.Select(a => a.GetProperty("rule").GetString()).Order());
    }

    [Fact]
    public async Task Absence_counts_a_device_seen_before_a_restart_but_not_the_time_the_server_was_down()
    {
        using var folder = new TempDirectory("plexus-rule-state");
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using (var server = await StartAsync(folder.Path, time))
        {
            using var seed = await server.WriteAsync("telemetry,device=seed flow=0 1");
            await AddRuleAsync(server, """{"name": "silent", "from": "telemetry", "absent_for": "10m"}""");
            await WriteAsync(server, "telemetry,device=p1 flow=1", 1);
            time.Advance(TimeSpan.FromMinutes(6));
        }

        // Down for an hour: that is not silence. Six minutes before the stop and five after it are eleven.
        time.Advance(TimeSpan.FromHours(1));
        await using var restarted = await StartAsync(folder.Path, time);
        Assert.Equal(1, restarted.Server.RuleEngine.RestoredKeys);
        long checks = restarted.Server.RuleEngine.Statistics.ClockChecks;
        time.Advance(TimeSpan.FromMinutes(3));
        await Eventually.TrueAsync(() => restarted.Server.RuleEngine.Statistics.ClockChecks > checks);
        Assert.Empty(await AlarmsAsync(restarted));

        time.Advance(TimeSpan.FromMinutes(2));
        await Eventually.TrueAsync(async () => (await AlarmsAsync(restarted)).Count == 1, because: "p1 has been silent for 11 minutes of the server's time");
        Assert.Equal("p1", Assert.Single(await AlarmsAsync(restarted)).GetProperty("device").GetString());
    }

    [Fact]
    public async Task A_crash_loses_only_the_points_evaluated_after_the_last_interval_snapshot()
    {
        using var folder = new TempDirectory("plexus-rule-state");
        using var crashed = new TempDirectory("plexus-rule-state-crash");
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using (var server = await StartAsync(folder.Path, time, TimeSpan.FromSeconds(30)))
        {
            using var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1");
            await AddRuleAsync(server, Overheat);
            await WriteAsync(server, Line("f1", 85, 0), 1);
            Assert.Equal(0, server.Server.RuleEngine.StateSnapshots);

            time.Advance(TimeSpan.FromSeconds(31));
            await Eventually.TrueAsync(() => server.Server.RuleEngine.StateSnapshots == 1, because: "the state changed and the interval passed");

            // What a crash now would leave is this snapshot; the next point, which ends the condition, comes after it.
            File.Copy(StateFile(folder.Path), StateFile(crashed.Path));
            await WriteAsync(server, Line("f1", 70, 1), 2);
        }

        // The crash: the state of the interval instead of the one written at stop. The point at minute 1 is lost to the
        // rule (as if it had not been evaluated), so the condition begun at minute 0 still counts.
        File.Copy(StateFile(crashed.Path), StateFile(folder.Path), overwrite: true);
        await using var restarted = await StartAsync(folder.Path, time);
        await WriteAsync(restarted, Line("f1", 86, 5), 1);
        Assert.Equal("f1", Assert.Single(await AlarmsAsync(restarted)).GetProperty("device").GetString());
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("flipped")]
    [InlineData("cut")]
    public async Task Damaged_state_file_is_not_used_and_the_rules_start_afresh(string damage)
    {
        using var folder = new TempDirectory("plexus-rule-state");
        await using (var server = await StartAsync(folder.Path))
        {
            using var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1");
            await AddRuleAsync(server, Overheat);
            await WriteAsync(server, Line("f1", 85, 0), 1);
        }

        byte[] bytes = File.ReadAllBytes(StateFile(folder.Path));
        bytes = damage switch
        {
            "garbage" => "not a rule state at all, just text"u8.ToArray(),
            "flipped" => Flip(bytes, bytes.Length - 3),
            _ => bytes[..^5],
        };
        File.WriteAllBytes(StateFile(folder.Path), bytes);

        await using var restarted = await StartAsync(folder.Path);
        Assert.Equal(0, restarted.Server.RuleEngine.RestoredKeys);
        Assert.Contains(restarted.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("start afresh", StringComparison.Ordinal));

        // Without the state the condition must hold for five minutes again, from the first point after the restart.
        await WriteAsync(restarted, Line("f1", 86, 5), 1);
        Assert.Empty(await AlarmsAsync(restarted));
        await WriteAsync(restarted, Line("f1", 87, 10), 2);
        Assert.Single(await AlarmsAsync(restarted));
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        bytes[at] ^= 0x5A;
        return bytes;
    }
}
