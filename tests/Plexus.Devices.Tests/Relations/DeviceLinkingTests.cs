using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Devices.Tests.Relations;

/// <summary>Measurement rows linked to devices by a configurable tag, on a real server over HTTP.</summary>
public sealed class DeviceLinkingTests
{
    [Fact]
    public async Task A_non_default_device_tag_links_fleet_rows_to_devices_and_their_site()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { DeviceTag = "device,fleet=name" });
        var client = server.Client;
        (await client.PostAsJsonAsync("/api/v1/assets", new { id = "depot-north", type = "site" })).Dispose();
        (await client.PostAsJsonAsync("/api/v1/assets", new { id = "fleet-east", type = "fleet", parent = "depot-north" })).Dispose();
        (await client.PostAsJsonAsync("/api/v1/devices", new { id = "truck_1", name = "Truck 1", tags = new { model = "F-150" }, parent = "fleet-east" })).Dispose();

        string data = """
            readings,name=truck_1,fleet=East velocity=10 1451606400
            readings,name=truck_1,fleet=East velocity=20 1451606410
            readings,name=truck_9,fleet=West velocity=30 1451606400
            """;
        using (var write = await server.WriteAsync(data, "?bucket=fleet&precision=s"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        var rows = await server.RowsAsync("""
            SELECT name, device_name, device_tags['model'], device_registered, device_assets['site'], device_assets['fleet'], count(*)
            FROM with_device('fleet.readings') GROUP BY ALL ORDER BY name
            """);
        Assert.Equal(2, rows.Count);
        Assert.Equal(["truck_1", "Truck 1", "F-150", "True", "depot-north", "fleet-east", "2"], rows[0].Select(Text));
        Assert.Equal("truck_9", rows[1][0].GetString());
        Assert.Equal(JsonValueKind.Null, rows[1][1].ValueKind);
        Assert.False(rows[1][3].GetBoolean());

        // Unqualified names resolve in the request's namespace, as the measurement does.
        var inFleet = await server.RowsAsync("SELECT count(*) FROM with_device('readings') WHERE device_registered", db: "fleet");
        Assert.Equal(2, inFleet[0][0].GetInt64());

        // The per-site rollup as one join.
        var perSite = await server.RowsAsync("""
            SELECT a.ancestor_id AS site, avg(r.velocity)
            FROM fleet.readings r JOIN device_ancestors a ON a.device_id = r.name AND a.ancestor_type = 'site'
            GROUP BY ALL
            """);
        Assert.Equal(["depot-north", "15"], Assert.Single(perSite).Select(Text));

        // device_links (like the unregistered rows of devices) follows new key columns shortly after the write.
        List<List<JsonElement>> links = [];
        await Eventually.TrueAsync(async () => (links = await server.RowsAsync("SELECT namespace, measurement, key_column FROM device_links")).Count > 0);
        Assert.Equal(["fleet", "readings", "name"], Assert.Single(links).Select(Text));
    }

    [Fact]
    public async Task Device_keys_seen_in_data_but_not_registered_appear_in_devices_as_unregistered()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "known", name = "Known" })).Dispose();
        using (var write = await server.WriteAsync("telemetry,device=known temp=1 1\ntelemetry,device=stranger temp=2 2\nother,host=x v=1 3\n"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        List<List<JsonElement>> rows = [];
        await Eventually.TrueAsync(async () =>
        {
            rows = await server.RowsAsync("SELECT id, registered, name FROM devices ORDER BY id");
            return rows.Count == 2;
        }, because: "the devices view picks up the new key column after the write");
        Assert.Equal(["known", "True", "Known"], rows[0].Select(Text));
        Assert.Equal(["stranger", "False", ""], rows[1].Select(Text));

        // Registering it turns the row into a registered one at once.
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "stranger", name = "Now known" })).Dispose();
        var after = await server.RowsAsync("SELECT id, registered FROM devices ORDER BY id");
        Assert.Equal([["known", "True"], ["stranger", "True"]], after.Select(r => r.Select(Text).ToList()));
    }

    [Fact]
    public async Task The_registry_views_are_reserved_measurement_names_in_main()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var write = await server.WriteAsync("assets v=1 1\ndevice_ancestors v=1 1\nfine v=1 1\n");
        string body = await write.Content.ReadAsStringAsync();

        // Each refused line is named by its text and the reason says the name is reserved.
        Assert.Contains("\"assets v=1", body, StringComparison.Ordinal);
        Assert.Contains("\"device_ancestors v=1", body, StringComparison.Ordinal);
        Assert.Contains("reserved", body, StringComparison.Ordinal);
        Assert.Empty(await server.RowsAsync("SELECT * FROM assets"));
        Assert.Single(await server.RowsAsync("SELECT * FROM fine"));
    }

    private static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "",
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.Number => value.GetRawText(),
        _ => value.ValueKind == JsonValueKind.True ? "True" : value.ValueKind == JsonValueKind.False ? "False" : value.GetRawText(),
    };
}
