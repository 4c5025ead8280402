using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Engine;

/// <summary>The options that bound what rules' windows hold (docs/rules.md#limits).</summary>
public sealed class RuleLimitTests
{
    private static async Task<PlexusTestServer> StartAsync(RuleLimits limits)
    {
        var server = await PlexusTestServer.StartAsync(configure: options => options with { RuleLimits = limits });
        using var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1");
        Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        return server;
    }

    [Fact]
    public async Task Rule_whose_devices_would_pass_the_state_bound_tracks_no_new_device_and_says_so()
    {
        // A count_within keeps up to 4,096 times (32 KiB) per device: 64 KiB is room for two devices.
        await using var server = await StartAsync(new RuleLimits { StateBytesPerRule = 64 * 1024 });
        await AddRuleAsync(server, """{"name": "counted", "from": "telemetry", "where": "count_within('1h') >= 1"}""");
        await AddRuleAsync(server, """{"name": "plain", "from": "telemetry", "where": "temperature > 0"}""");

        await WriteAsync(server, $"{Line("d1", 5, 0)}\n{Line("d2", 5, 0)}\n{Line("d3", 5, 0)}", 3);
        var alarms = await AlarmsAsync(server);
        Assert.Equal(["d1", "d2"], alarms.Where(a => a.GetProperty("rule").GetString() == "counted").Select(a => a.GetProperty("device").GetString()).Order());
        Assert.Equal(3, alarms.Count(a => a.GetProperty("rule").GetString() == "plain"));

        var stats = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats");
        Assert.Equal(1, stats.GetProperty("untracked_points").GetInt64());
        var warning = Assert.Single(server.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("tracks no more devices", StringComparison.Ordinal));
        Assert.Contains("Rule counted", warning.Message, StringComparison.Ordinal);
        Assert.Contains("--rules-max-state-bytes allows 65536", warning.Message, StringComparison.Ordinal);

        // The devices it tracks go on; d3 stays outside until the server restarts with a larger bound.
        await WriteAsync(server, $"{Line("d1", 5, 1)}\n{Line("d3", 5, 1)}", 5);
        Assert.Equal(2, (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats")).GetProperty("untracked_points").GetInt64());
    }

    [Fact]
    public async Task Windows_past_the_per_device_option_are_refused_when_the_rule_is_saved_naming_the_option()
    {
        await using var server = await StartAsync(new RuleLimits { WindowBytesPerDevice = 4096, CountWithinTimes = 256 });

        // 300 points of a MAD window are 4,800 bytes per device.
        using var refused = await server.Client.PostAsync("/api/v1/rules", Json("""{"name": "odd", "from": "telemetry", "where": "anomaly(temperature, 'mad', 300) > 4"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        string message = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("message").GetString()!;
        Assert.Contains("hold up to 4,800 bytes per device; at most 4,096 (--rules-max-window-bytes", message, StringComparison.Ordinal);

        // count_within is counted at the times it may keep: 256 × 8 bytes fit.
        await AddRuleAsync(server, """{"name": "busy", "from": "telemetry", "where": "count_within('1h') > 100"}""");
        await AddRuleAsync(server, """{"name": "odd", "from": "telemetry", "where": "anomaly(temperature, 'mad', 200) > 4"}""");
    }

    [Fact]
    public async Task Count_within_stays_at_the_configured_most_times()
    {
        await using var server = await StartAsync(new RuleLimits { CountWithinTimes = 8 });
        await AddRuleAsync(server, """{"name": "eight", "from": "telemetry", "where": "count_within('1h') >= 8"}""");
        await AddRuleAsync(server, """{"name": "nine", "from": "telemetry", "where": "count_within('1h') >= 9"}""");

        await WriteAsync(server, string.Join('\n', Enumerable.Range(0, 12).Select(i => Line("d1", 5, i))), 12);
        var alarm = Assert.Single(await AlarmsAsync(server));
        Assert.Equal("eight", alarm.GetProperty("rule").GetString());
        Assert.Equal(5, alarm.GetProperty("count").GetInt64());
    }
}
