using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Http;

/// <summary><c>GET /api/v1/alarms?asset=</c>: the alarms of the devices in an asset and below it.</summary>
public sealed class AlarmAssetFilterTests
{
    [Fact]
    public async Task Alarms_of_an_asset_are_those_of_every_device_below_it_by_id_or_by_path()
    {
        await using var server = await PlexusTestServer.StartAsync();

        // north ─┬─ depot-1 ── hall-a ── f1
        //        └─ depot-2 ── gw (a gateway device) ── t1
        // f9 belongs nowhere.
        foreach (var (id, parent) in new[] { ("north", (string?)null), ("depot-1", "north"), ("hall-a", "depot-1"), ("depot-2", "north") })
        {
            using var asset = await server.Client.PostAsJsonAsync("/api/v1/assets", new { id, parent });
            Assert.True(asset.StatusCode == HttpStatusCode.Created, await asset.Content.ReadAsStringAsync());
        }

        foreach (var (id, parent) in new[] { ("f1", (string?)"hall-a"), ("gw", "depot-2"), ("t1", "gw"), ("f9", null) })
        {
            using var device = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id, parent });
            Assert.True(device.StatusCode == HttpStatusCode.Created, await device.Content.ReadAsStringAsync());
        }

        using (var seed = await server.WriteAsync("telemetry,device=seed temperature=0 1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, seed.StatusCode);
        }

        await AddRuleAsync(server, """{"name": "hot", "from": "telemetry", "where": "temperature > 80"}""");
        await WriteAsync(server, $"{Line("f1", 90, 0)}\n{Line("t1", 91, 0)}\n{Line("f9", 92, 0)}", 3);
        Assert.Equal(3, (await AlarmsAsync(server)).Count);

        async Task<string[]> DevicesAsync(string query) =>
            [.. (await AlarmsAsync(server, query)).Select(a => a.GetProperty("device").GetString()!).Order()];

        Assert.Equal(["f1", "t1"], await DevicesAsync("?asset=north"));
        Assert.Equal(["f1"], await DevicesAsync("?asset=depot-1"));
        Assert.Equal(["f1"], await DevicesAsync("?asset=hall-a"));
        Assert.Equal(["f1"], await DevicesAsync("?asset=north/depot-1/hall-a"));
        Assert.Equal(["t1"], await DevicesAsync("?asset=north%2Fdepot-2"));
        Assert.Equal(["t1"], await DevicesAsync("?asset=depot-2&status=active&rule=hot"));
        Assert.Empty(await DevicesAsync("?asset=north&device=f9"));

        foreach (var (query, message) in new[]
        {
            ("nowhere", "no asset \"nowhere\" exists"),
            ("north/nowhere", "no asset \"nowhere\" exists (step 2 of the path \"north/nowhere\")"),
            ("depot-1/hall-a", "the path \"depot-1/hall-a\" does not start at a root: \"depot-1\" has the parent \"north\""),
            ("north/hall-a", "the path \"north/hall-a\" is not a chain of parents: \"hall-a\" is not a child of \"north\""),
        })
        {
            using var refused = await server.Client.GetAsync("/api/v1/alarms?asset=" + Uri.EscapeDataString(query));
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            var error = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("asset", error.GetProperty("field").GetString());
            Assert.StartsWith(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }
}
