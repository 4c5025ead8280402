using System.Net.Http.Json;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

/// <summary>
/// The engine skips rules whose text equalities (<c>fleet = 'East'</c>, <c>device.type = 'freezer'</c>) a device's
/// series cannot meet, decided once per series: every outcome must be what evaluating every rule gives, also when the
/// series, the device's registry entry or the rule set changes.
/// </summary>
public sealed class RulePrefilterTests
{
    private static string Truck(string fleet, double speed, double minutes) =>
        $"trucks,device=t1,fleet={fleet} speed={speed.ToString(System.Globalization.CultureInfo.InvariantCulture)} {T0 + (long)(minutes * Minute)}";

    private static async Task<PlexusTestServer> StartAsync()
    {
        var server = await PlexusTestServer.StartAsync();
        using var seed = await server.WriteAsync("trucks,device=seed,fleet=none speed=0 1\ntelemetry,device=seed temperature=0 1");
        return server;
    }

    [Fact]
    public async Task A_rule_whose_tag_equality_the_series_did_not_meet_matches_once_the_points_carry_the_tag()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "east-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'East'", "severity": "minor"}""");

        await WriteAsync(server, $"{Truck("West", 90, 0)}\n{Truck("West", 91, 1)}", 2);
        Assert.Empty(await AlarmsAsync(server));

        // The same device, now in the East fleet: a new series, so the rule is evaluated again and fires.
        await WriteAsync(server, Truck("East", 92, 2), 3);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("active", alarm.GetProperty("status").GetString());

        // Back to West: the condition is false, which clears an alarm without clear_when, as without the prefilter.
        await WriteAsync(server, Truck("West", 93, 3), 4);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task An_open_alarm_with_clear_when_is_still_cleared_by_points_of_a_series_that_fails_the_equality()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "east-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'East'", "clear_when": "speed < 60", "severity": "minor"}""");

        await WriteAsync(server, Truck("East", 90, 0), 1);
        Assert.Equal("active", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());

        // West points cannot meet the condition, yet the rule must keep seeing them while its alarm is open.
        await WriteAsync(server, Truck("West", 90, 1), 2);
        Assert.Equal("active", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
        await WriteAsync(server, Truck("West", 50, 2), 3);
        Assert.Equal("cleared", Assert.Single(await AlarmsAsync(server)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_point_that_fails_the_equality_ends_a_pending_for_as_it_would_without_the_prefilter()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "east-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'East'", "for": "5m", "severity": "minor"}""");

        // Pending from minute 0, ended by the West point at minute 1, pending again from minute 3.
        await WriteAsync(server, $"{Truck("East", 90, 0)}\n{Truck("West", 90, 1)}\n{Truck("West", 90, 2)}\n{Truck("East", 90, 3)}\n{Truck("East", 90, 6)}", 5);
        Assert.Empty(await AlarmsAsync(server));

        await WriteAsync(server, Truck("East", 90, 8), 6);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal(90, alarm.GetProperty("raised_value").GetProperty("speed").GetDouble());
    }

    [Fact]
    public async Task A_point_older_than_one_a_skipped_rule_passed_over_is_late_for_it()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "east-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'East'", "severity": "minor"}""");

        // The rule skipped the West point at minute 10; the East point at minute 5 is older than it, so it is late.
        await WriteAsync(server, $"{Truck("West", 90, 0)}\n{Truck("West", 90, 10)}", 2);
        await WriteAsync(server, Truck("East", 95, 5), 3);
        Assert.Equal(1, server.Server.RuleEngine.Statistics.LatePoints);
        Assert.Empty(await AlarmsAsync(server));

        await WriteAsync(server, Truck("East", 95, 11), 4);
        Assert.Single(await AlarmsAsync(server));
    }

    [Fact]
    public async Task A_rule_on_registry_facts_matches_once_the_device_type_or_tag_changes_and_stops_when_it_changes_back()
    {
        await using var server = await StartAsync();
        await RegisterAsync(server, "d1", "fridge");
        await AddRuleAsync(server, """{"name": "freezer-warm", "from": "telemetry", "where": "temperature > 80 AND device.type = 'freezer'", "severity": "major"}""");
        await AddRuleAsync(server, """{"name": "north-warm", "from": "telemetry", "where": "temperature > 80 AND device.tags.site IN ('north', 'n')", "severity": "major"}""");

        await WriteAsync(server, Line("d1", 85, 0), 1);
        Assert.Empty(await AlarmsAsync(server));

        await PatchDeviceAsync(server, "d1", new { type = "freezer" });
        await WriteAsync(server, Line("d1", 85, 1), 2);
        Assert.Equal(["freezer-warm"], (await AlarmsAsync(server, "?status=active")).Select(a => a.GetProperty("rule").GetString()));

        await PatchDeviceAsync(server, "d1", new { tags = new Dictionary<string, string> { ["site"] = "north" } });
        await WriteAsync(server, Line("d1", 85, 2), 3);
        Assert.Equal(["freezer-warm", "north-warm"], (await AlarmsAsync(server, "?status=active")).Select(a => a.GetProperty("rule").GetString()).Order());

        // No longer a freezer: its condition is false, so its alarm clears.
        await PatchDeviceAsync(server, "d1", new { type = "fridge" });
        await WriteAsync(server, Line("d1", 85, 3), 4);
        Assert.Equal(["north-warm"], (await AlarmsAsync(server, "?status=active")).Select(a => a.GetProperty("rule").GetString()));
    }

    [Fact]
    public async Task A_rule_added_after_its_devices_were_sorted_is_evaluated_for_them()
    {
        await using var server = await StartAsync();
        await AddRuleAsync(server, """{"name": "east-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'East'", "severity": "minor"}""");
        await WriteAsync(server, Truck("West", 90, 0), 1);

        await AddRuleAsync(server, """{"name": "west-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'West'", "severity": "minor"}""");
        await WriteAsync(server, Truck("West", 91, 1), 2);
        Assert.Equal("west-fast", Assert.Single(await AlarmsAsync(server)).GetProperty("rule").GetString());
    }

    [Fact]
    public async Task A_rule_skipped_for_a_device_from_its_first_point_keeps_no_state_for_it_yet_matches_once_the_series_does()
    {
        using var folder = new TempDirectory("plexus-rule-prefilter");
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            using var seed = await server.WriteAsync("trucks,device=seed,fleet=none speed=0 1");
            await AddRuleAsync(server, """{"name": "east-fast", "from": "trucks", "where": "speed > 80 AND fleet = 'East'", "for": "1m", "severity": "minor"}""");
            await AddRuleAsync(server, """{"name": "any-fast", "from": "trucks", "where": "speed > 200 OR speed < 0", "severity": "minor"}""");
            await WriteAsync(server, $"{Truck("West", 90, 0)}\n{Truck("West", 90, 1)}", 2);
        }

        // The state written at stop holds the device in the rule it could meet, not in the one it could not.
        await using var restarted = await PlexusTestServer.StartAsync(folder.Path);
        Assert.Equal(1, restarted.Server.RuleEngine.RestoredKeys);

        await WriteAsync(restarted, $"{Truck("East", 90, 2)}\n{Truck("East", 90, 3)}", 2);
        Assert.Equal("east-fast", Assert.Single(await AlarmsAsync(restarted)).GetProperty("rule").GetString());
    }

    private static async Task PatchDeviceAsync(PlexusTestServer server, string id, object patch)
    {
        using var response = await server.Client.PatchAsJsonAsync($"/api/v1/devices/{id}", patch);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }
}
