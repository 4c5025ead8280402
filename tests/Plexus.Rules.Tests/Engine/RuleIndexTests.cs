using System.Globalization;
using System.Text;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

/// <summary>
/// The engine indexes rules by a numeric comparison their condition cannot be true without (<c>speed &gt; 80</c>) and
/// evaluates an idle rule only at points that meet it: every outcome (alarms, their counts and values, late points) must
/// be what evaluating every rule at every point gives, also while a rule is pending or has an open alarm.
/// </summary>
public sealed class RuleIndexTests
{
    private static string Truck(string device, double speed, double minutes, string fleet = "East") =>
        string.Create(CultureInfo.InvariantCulture, $"trucks,device={device},fleet={fleet} speed={speed} {T0 + (long)(minutes * Minute)}");

    private static async Task<PlexusTestServer> StartAsync(bool index = true)
    {
        var server = await PlexusTestServer.StartAsync();
        server.Server.RuleEngine.IndexRules = index;
        using var seed = await server.WriteAsync("trucks,device=seed,fleet=none speed=0,grade=0,load=0 1");
        return server;
    }

    [Fact]
    public async Task A_pending_for_ends_at_a_point_that_fails_the_indexed_comparison()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "fast", "from": "trucks", "where": "speed > 80", "for": "5m", "severity": "minor"}""");

        // Pending from minute 0, ended by the slow point at minute 1 (which the index alone would pass over), pending again from 6.
        await WriteAsync(server, $"{Truck("t1", 90, 0)}\n{Truck("t1", 50, 1)}\n{Truck("t1", 90, 6)}", 3);
        Assert.Empty(await AlarmsAsync(server));

        await WriteAsync(server, Truck("t1", 90, 11), 4);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal(T0 + (11 * Minute), alarm.GetProperty("raised_value").GetProperty("time_ns").GetInt64());
    }

    [Fact]
    public async Task An_open_alarm_keeps_seeing_points_that_fail_the_indexed_comparison_until_its_clear_condition_holds()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "fast", "from": "trucks", "where": "speed > 80", "clear_when": "speed < 60", "severity": "minor"}""");

        await WriteAsync(server, $"{Truck("t1", 90, 0)}\n{Truck("t1", 95, 1)}", 2);
        await WriteAsync(server, $"{Truck("t1", 70, 2)}\n{Truck("t1", 85, 3)}", 4);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("active", alarm.GetProperty("status").GetString());
        Assert.Equal(3, alarm.GetProperty("count").GetInt64());

        await WriteAsync(server, Truck("t1", 55, 4), 5);
        alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("cleared", alarm.GetProperty("status").GetString());
        Assert.Equal(55, alarm.GetProperty("last_value").GetProperty("speed").GetDouble());
    }

    [Fact]
    public async Task A_point_older_than_one_an_idle_rule_was_passed_over_at_is_late_for_it()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "fast", "from": "trucks", "where": "speed > 80", "severity": "minor"}""");

        // The rule is passed over at minute 10 (speed 50 cannot meet speed > 80): the point at minute 5 is older, so late.
        await WriteAsync(server, $"{Truck("t1", 50, 0)}\n{Truck("t1", 50, 10)}", 2);
        await WriteAsync(server, Truck("t1", 95, 5), 3);
        Assert.Equal(1, server.Server.RuleEngine.Statistics.LatePoints);
        Assert.Empty(await AlarmsAsync(server));

        await WriteAsync(server, Truck("t1", 95, 11), 4);
        Assert.Single(await AlarmsAsync(server));
    }

    [Fact]
    public async Task A_changed_or_paused_rule_with_an_open_alarm_clears_it_at_a_point_that_fails_its_comparison()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "fast", "from": "trucks", "where": "speed > 80", "severity": "minor"}""");
        await WriteAsync(server, Truck("t1", 90, 0), 1);

        using (var put = await server.Client.PutAsync("/api/v1/rules/fast", Json("""{"from": "trucks", "where": "speed > 85", "severity": "minor"}""")))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        await WriteAsync(server, $"{Truck("t1", 90, 1)}\n{Truck("t1", 95, 2)}", 3);
        await WriteAsync(server, Truck("t1", 60, 3), 4);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("cleared", alarm.GetProperty("status").GetString());
        Assert.Equal(3, alarm.GetProperty("count").GetInt64());

        await WriteAsync(server, Truck("t1", 90, 4), 5);
        using (var paused = await server.Client.PostAsync("/api/v1/rules/fast/pause", null))
        {
            Assert.True(paused.IsSuccessStatusCode);
        }

        using (var resumed = await server.Client.PostAsync("/api/v1/rules/fast/resume", null))
        {
            Assert.True(resumed.IsSuccessStatusCode);
        }

        await WriteAsync(server, $"{Truck("t1", 91, 5)}\n{Truck("t1", 20, 6)}", 7);
        var alarms = await AlarmsAsync(server);
        Assert.Equal(2, alarms.Count);
        Assert.All(alarms, a => Assert.Equal("cleared", a.GetProperty("status").GetString()));
        Assert.Equal(2, alarms[0].GetProperty("count").GetInt64());
    }

    [Fact]
    public async Task A_rule_whose_comparison_a_device_never_met_keeps_no_state_for_it_yet_fires_once_it_does()
    {
        using var folder = new TempDirectory("plexus-rule-index");
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            using var seed = await server.WriteAsync("trucks,device=seed,fleet=none speed=0 1");
            await AddRuleAsync(server, """{"name": "fast", "from": "trucks", "where": "speed > 80", "for": "1m", "severity": "minor"}""");
            await WriteAsync(server, $"{Truck("t1", 50, 0)}\n{Truck("t1", 60, 1)}", 2);
        }

        // Its first point could not meet speed > 80, nor could any later one: the state written at stop does not hold it.
        await using var restarted = await PlexusTestServer.StartAsync(folder.Path);
        Assert.Equal(0, restarted.Server.RuleEngine.RestoredKeys);

        await WriteAsync(restarted, $"{Truck("t1", 90, 2)}\n{Truck("t1", 90, 3)}", 2);
        Assert.Equal(T0 + (3 * Minute), Assert.Single(await AlarmsAsync(restarted)).GetProperty("raised_value").GetProperty("time_ns").GetInt64());
    }

    [Fact]
    public async Task Random_points_open_clear_and_repeat_exactly_the_alarms_they_do_without_the_index()
    {
        // Every shape of bound (>, >=, <, <=, =, BETWEEN, literal first, negative), with for, clear_when, text equalities,
        // a rule without a bound and one that remembers, over devices whose points come in order, late, or without a field.
        string[] rules =
        [
            """{"name": "fast", "from": "trucks", "where": "speed > 80", "clear_when": "speed < 60", "severity": "minor"}""",
            """{"name": "fast-for", "from": "trucks", "where": "speed >= 70 AND fleet = 'East'", "for": "3m", "severity": "minor"}""",
            """{"name": "slow", "from": "trucks", "where": "speed < 10", "for": "2m", "severity": "minor"}""",
            """{"name": "slow-eq", "from": "trucks", "where": "20 >= speed AND grade > 3", "severity": "minor"}""",
            """{"name": "steep", "from": "trucks", "where": "grade BETWEEN 5 AND 8", "severity": "minor"}""",
            """{"name": "cold", "from": "trucks", "where": "grade < -2", "clear_when": "grade > 0", "severity": "minor"}""",
            """{"name": "exact", "from": "trucks", "where": "load = 3", "severity": "minor"}""",
            """{"name": "either", "from": "trucks", "where": "speed > 90 OR load > 4", "severity": "minor"}""",
            """{"name": "rising", "from": "trucks", "where": "speed > 50 AND rate(speed) > 0.05", "severity": "minor"}""",
            """{"name": "west-heavy", "from": "trucks", "where": "load > 2 AND fleet = 'West'", "for": "1m", "severity": "minor"}""",
        ];

        var random = new Random(20261206);
        var writes = new List<(string Lines, int Points)>();
        string[] devices = ["t1", "t2", "t3", "t4", "t5"];
        var minutes = devices.ToDictionary(d => d, _ => 0.0);
        int points = 0;
        for (int w = 0; w < 12; w++)
        {
            var lines = new StringBuilder();
            for (int p = 0; p < 40; p++)
            {
                string device = devices[random.Next(devices.Length)];
                double minute = minutes[device] += 0.5 + random.Next(3);
                if (random.Next(10) == 0)
                {
                    minute -= 1 + random.Next(5);
                }

                string fleet = random.Next(5) == 0 ? "West" : "East";
                string grade = random.Next(8) == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $",grade={random.Next(-5, 11)}");
                lines.Append(CultureInfo.InvariantCulture, $"trucks,device={device},fleet={fleet} speed={random.Next(0, 101)}{grade},load={random.Next(0, 6)} {T0 + (long)(minute * Minute)}\n");
                points++;
            }

            writes.Add((lines.ToString(), points));
        }

        async Task<(string Alarms, long Late)> RunAsync(bool index)
        {
            await using var server = await StartAsync(index);
            foreach (string rule in rules)
            {
                await AddRuleAsync(server, rule);
            }

            foreach (var (lines, evaluated) in writes)
            {
                await WriteAsync(server, lines, evaluated);
            }

            var alarms = (await AlarmsAsync(server, "?limit=1000"))
                .Select(a => string.Join(' ', a.GetProperty("rule").GetString(), a.GetProperty("device").GetString(), a.GetProperty("status").GetString(),
                    a.GetProperty("count").GetInt64(), a.GetProperty("event_time").GetString(), a.GetProperty("raised_value").GetRawText(), a.GetProperty("last_value").GetRawText()))
                .Order(StringComparer.Ordinal);
            return (string.Join('\n', alarms), server.Server.RuleEngine.Statistics.LatePoints);
        }

        var indexed = await RunAsync(index: true);
        var everyRule = await RunAsync(index: false);
        Assert.True(everyRule.Alarms.Split('\n').Length > 20, everyRule.Alarms);
        Assert.Equal(everyRule.Alarms, indexed.Alarms);
        Assert.True(everyRule.Late > 0);
        Assert.Equal(everyRule.Late, indexed.Late);
    }
}
