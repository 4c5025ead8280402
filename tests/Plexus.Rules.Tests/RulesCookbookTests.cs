using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests;

/// <summary>Every rule and SQL example of docs/rules.md, run against a real server holding the measurements they name.</summary>
public sealed class RulesCookbookTests
{
    private static IEnumerable<string> Blocks(string language) => DocsPages.Runnable("rules.md", language).Select(block => block.Code);

    [Fact]
    public async Task Every_rule_of_the_cookbook_is_accepted_and_every_SQL_example_runs()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var seed = await server.WriteAsync(
            "telemetry,device=f1 temperature=-20,humidity=50,door=false,flow=1,battery=80,vibration=1 1\n" +
            "positions,device=t1 lat=52.37,lon=4.9 1\n" +
            "cpu,host=a usage=10 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        }

        using (var fence = await server.Client.PostAsync("/api/v1/geofences", Json("""{"type": "Feature", "properties": {"name": "depot", "radius_m": 500}, "geometry": {"type": "Point", "coordinates": [4.9, 52.37]}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, fence.StatusCode);
        }

        var rules = Blocks("json").ToList();
        Assert.True(rules.Count >= 12, $"the cookbook has {rules.Count} rules");
        foreach (string rule in rules)
        {
            using var response = await server.Client.PostAsync("/api/v1/rules", Json(rule));
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"{rule}\n{await response.Content.ReadAsStringAsync()}");
        }

        // The cold-chain rule end to end: warm for ten minutes opens the alarm, the SQL examples see it.
        await RegisterAsync(server, "f9", "freezer");
        await WriteAsync(server, $"telemetry,device=f9 temperature=-10 {T0}\ntelemetry,device=f9 temperature=-12 {T0 + (10 * Minute)}", 2);
        await Eventually.TrueAsync(async () => (await AlarmsAsync(server, "?rule=freezer-warm")).Count == 1);

        // The derived-points example reads alarm_events, which freezer-events' point action writes off the ingest path.
        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM _plexus.measurements WHERE name = 'alarm_events'"))[0][0].GetInt64() == 1);

        foreach (string sql in Blocks("sql"))
        {
            foreach (string statement in sql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                string query = string.Join('\n', statement.Split('\n').Where(l => !l.TrimStart().StartsWith("--", StringComparison.Ordinal)));
                await server.SqlAsync(query);
            }
        }

        var open = await server.RowsAsync("SELECT rule, device, status FROM alarms WHERE status <> 'cleared'");
        Assert.Contains(open, r => r[0].GetString() == "freezer-warm" && r[1].GetString() == "f9");
        var listed = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules");
        Assert.Equal(rules.Count, listed.GetProperty("rules").GetArrayLength());
    }
}
