using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>/api/v1/assets on a real server: every endpoint, filters, children, refusals and bulk import.</summary>
public sealed class AssetsApiTests
{
    [Fact]
    public async Task Assets_are_created_listed_shown_with_children_updated_and_removed()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var client = server.Client;

        using (var created = await client.PostAsJsonAsync("/api/v1/assets", new { id = "site-1", name = "Plant 1", type = "site", tags = new { region = "EU" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var body = await JsonAsync(created);
            Assert.Equal("Plant 1", body.GetProperty("name").GetString());
            Assert.Equal("EU", body.GetProperty("tags").GetProperty("region").GetString());
        }

        (await client.PostAsJsonAsync("/api/v1/assets", new { id = "b-1", type = "building", parent = "site-1" })).Dispose();
        (await client.PostAsJsonAsync("/api/v1/assets", new { id = "b-2", type = "building", parent = "site-1", tags = new { floors = "3" } })).Dispose();
        using (var device = await client.PostAsJsonAsync("/api/v1/devices", new { id = "meter-1", parent = "b-1" }))
        {
            Assert.Equal(HttpStatusCode.Created, device.StatusCode);
        }

        var list = await client.GetFromJsonAsync<JsonElement>("/api/v1/assets?type=building&limit=1");
        Assert.Equal(2, list.GetProperty("total").GetInt32());
        Assert.Equal("b-1", Assert.Single(list.GetProperty("assets").EnumerateArray()).GetProperty("id").GetString());
        var byTag = await client.GetFromJsonAsync<JsonElement>("/api/v1/assets?tag=floors:3");
        Assert.Equal("b-2", Assert.Single(byTag.GetProperty("assets").EnumerateArray()).GetProperty("id").GetString());

        var site = await client.GetFromJsonAsync<JsonElement>("/api/v1/assets/site-1");
        Assert.Equal(["b-1", "b-2"], site.GetProperty("children").GetProperty("assets").EnumerateArray().Select(e => e.GetString()));
        var building = await client.GetFromJsonAsync<JsonElement>("/api/v1/assets/b-1");
        Assert.Equal(["meter-1"], building.GetProperty("children").GetProperty("devices").EnumerateArray().Select(e => e.GetString()));

        using (var patch = await client.PatchAsJsonAsync("/api/v1/assets/b-2", new { name = "Hall B", parent = (string?)null }))
        {
            var body = await JsonAsync(patch);
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
            Assert.Equal("Hall B", body.GetProperty("name").GetString());
            Assert.Equal(JsonValueKind.Null, body.GetProperty("parent").ValueKind);
            Assert.Equal("3", body.GetProperty("tags").GetProperty("floors").GetString());
        }

        using (var refused = await client.DeleteAsync("/api/v1/assets/site-1"))
        {
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Contains("cascade", (await JsonAsync(refused)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using (var cascaded = await client.DeleteAsync("/api/v1/assets/site-1?cascade=delete"))
        {
            Assert.Equal(HttpStatusCode.NoContent, cascaded.StatusCode);
        }

        using (var gone = await client.GetAsync("/api/v1/assets/b-1"))
        {
            Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        }

        var meter = await client.GetFromJsonAsync<JsonElement>("/api/v1/devices/meter-1");
        Assert.Equal(JsonValueKind.Null, meter.GetProperty("parent").ValueKind);
        var remaining = await server.RowsAsync("SELECT id FROM assets ORDER BY id");
        Assert.Equal(["b-2"], remaining.Select(r => r[0].GetString()));
    }

    [Fact]
    public async Task Bad_input_is_400_naming_the_field_and_cycles_are_refused()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/assets", new { id = "a" })).Dispose();
        (await server.Client.PostAsJsonAsync("/api/v1/assets", new { id = "b", parent = "a" })).Dispose();

        foreach (var (method, path, json, field) in new[]
        {
            ("POST", "/api/v1/assets", """{"id": "a/b"}""", "id"),
            ("POST", "/api/v1/assets", """{"name": "no id"}""", "id"),
            ("POST", "/api/v1/assets", """{"id": "c", "parent": "ghost"}""", "parent"),
            ("POST", "/api/v1/assets", """{"id": "c", "tags": {"k": 1}}""", "tags"),
            ("POST", "/api/v1/assets", """{"id": "c", "colour": "red"}""", "colour"),
            ("PATCH", "/api/v1/assets/a", """{"parent": "b"}""", "parent"),
            ("PATCH", "/api/v1/assets/a", """{"id": "z"}""", "id"),
        })
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
            using var response = await server.Client.SendAsync(request);
            var body = await JsonAsync(response);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{method} {path} {json}: {body}");
            Assert.Equal(field, body.GetProperty("field").GetString());
        }

        using var conflict = await server.Client.PostAsJsonAsync("/api/v1/assets", new { id = "a" });
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        using var badCascade = await server.Client.DeleteAsync("/api/v1/assets/a?cascade=all");
        Assert.Equal("cascade", (await JsonAsync(badCascade)).GetProperty("field").GetString());

        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var unauthorized = await anonymous.GetAsync("/api/v1/assets");
        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
    }

    [Fact]
    public async Task Import_takes_json_and_csv_in_any_order_and_reports_each_item()
    {
        await using var server = await PlexusTestServer.StartAsync();

        // Children before their parents, one bad item: it fails alone.
        using var json = await server.Client.PostAsJsonAsync("/api/v1/assets/import", new object[]
        {
            new { id = "room-1", type = "room", parent = "floor-1" },
            new { id = "floor-1", type = "floor", parent = "site-1" },
            new { id = "bad/id" },
            new { id = "site-1", type = "site" },
        });
        var result = await JsonAsync(json);
        Assert.Equal(HttpStatusCode.OK, json.StatusCode);
        Assert.Equal(3, result.GetProperty("created").GetInt32());
        Assert.Equal(1, result.GetProperty("failed").GetInt32());
        var items = result.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], items.Select(i => i.GetProperty("index").GetInt32()));
        Assert.Equal("error", items[2].GetProperty("status").GetString());
        Assert.Equal("id", items[2].GetProperty("field").GetString());

        string csv = """
            id,name,type,parent,tags.plate
            truck-2,"Truck 2, the big one",truck,fleet-east,B-202
            fleet-east,East fleet,fleet,,
            truck-3,,truck,nowhere,
            """;
        using var csvResponse = await server.Client.PostAsync("/api/v1/assets/import", new StringContent(csv, Encoding.UTF8, "text/csv"));
        var csvResult = await JsonAsync(csvResponse);
        Assert.Equal(2, csvResult.GetProperty("created").GetInt32());
        var failed = csvResult.GetProperty("results").EnumerateArray().Single(r => r.GetProperty("status").GetString() == "error");
        Assert.Equal(4, failed.GetProperty("line").GetInt32());
        Assert.Equal("parent", failed.GetProperty("field").GetString());

        var truck = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/assets/truck-2");
        Assert.Equal("Truck 2, the big one", truck.GetProperty("name").GetString());
        Assert.Equal("B-202", truck.GetProperty("tags").GetProperty("plate").GetString());

        using var badHeader = await server.Client.PostAsync("/api/v1/assets/import", new StringContent("id,colour\nx,red\n", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.BadRequest, badHeader.StatusCode);
        Assert.Contains("colour", (await JsonAsync(badHeader)).GetProperty("message").GetString(), StringComparison.Ordinal);

        // A quote left open would swallow the rest of the file into one cell: refused, naming where it opened.
        using var openQuote = await server.Client.PostAsync("/api/v1/assets/import", new StringContent("id,name\nsite-9,\"Site 9\nsite-10,Ten\n", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.BadRequest, openQuote.StatusCode);
        Assert.Contains("line 2", (await JsonAsync(openQuote)).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync("/api/v1/assets/site-10")).StatusCode);
    }

    [Fact]
    public async Task A_csv_import_larger_than_the_body_limit_is_refused_without_being_read_whole()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var csv = new StringBuilder("id,name\n");
        for (int line = 0; csv.Length <= 17 * 1024 * 1024; line++)
        {
            csv.Append("site-").Append(line).Append(",A site with a long enough name to fill the body quickly\n");
        }

        using var content = new StringContent(csv.ToString(), Encoding.UTF8, "text/csv");
        using var response = await server.Client.PostAsync("/api/v1/assets/import", content);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("MiB", (await JsonAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync("/api/v1/assets/site-0")).StatusCode);
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
