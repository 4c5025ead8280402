using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>The device registry over HTTP (docs/devices.md): every endpoint, its status codes and error shape.</summary>
public sealed class DevicesApiTests
{
    [Fact]
    public async Task Post_creates_a_device_with_a_token_shown_once()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "truck-7", name = "Truck 7", type = "truck", tags = new { fleet = "East" } });
        var body = await JsonAsync(response);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("truck-7", body.GetProperty("id").GetString());
        Assert.Equal("Truck 7", body.GetProperty("name").GetString());
        Assert.Equal("East", body.GetProperty("tags").GetProperty("fleet").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("parent").ValueKind);
        string token = body.GetProperty("token").GetString()!;
        Assert.StartsWith("plxd_", token, StringComparison.Ordinal);

        // Never again: not in get, list or SQL.
        string shown = await server.Client.GetStringAsync("/api/v1/devices/truck-7") + await server.Client.GetStringAsync("/api/v1/devices");
        Assert.DoesNotContain("token", shown, StringComparison.Ordinal);
        Assert.DoesNotContain(token, shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_of_an_existing_id_is_409_and_bad_input_is_400_naming_the_field()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d1" })).Dispose();

        using var conflict = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d1" });
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal("conflict", (await JsonAsync(conflict)).GetProperty("code").GetString());

        foreach (var (json, field) in new[]
        {
            ("""{"id": "a/b"}""", "id"),
            ("""{"name": "no id"}""", "id"),
            ("""{"id": "d2", "name": 5}""", "name"),
            ("""{"id": "d2", "tags": {"fleet": 1}}""", "tags"),
            ("""{"id": "d2", "tags": ["x"]}""", "tags"),
            ("""{"id": "d2", "parent": "ghost"}""", "parent"),
            ("""{"id": "d2", "colour": "red"}""", "colour"),
        })
        {
            using var response = await server.Client.PostAsync("/api/v1/devices", new StringContent(json, Encoding.UTF8, "application/json"));
            var body = await JsonAsync(response);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Equal("invalid", body.GetProperty("code").GetString());
            Assert.Equal(field, body.GetProperty("field").GetString());
            Assert.False(string.IsNullOrEmpty(body.GetProperty("error_id").GetString()));
        }

        using var notJson = await server.Client.PostAsync("/api/v1/devices", new StringContent("{", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
    }

    [Fact]
    public async Task Every_device_endpoint_requires_the_admin_token()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };

        foreach (var request in new Func<HttpRequestMessage>[]
        {
            () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/devices") { Content = JsonContent.Create(new { id = "d1" }) },
            () => new HttpRequestMessage(HttpMethod.Get, "/api/v1/devices"),
            () => new HttpRequestMessage(HttpMethod.Get, "/api/v1/devices/d1"),
            () => new HttpRequestMessage(HttpMethod.Patch, "/api/v1/devices/d1") { Content = JsonContent.Create(new { name = "x" }) },
            () => new HttpRequestMessage(HttpMethod.Delete, "/api/v1/devices/d1"),
            () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/devices/d1/rotate-token"),
            () => new HttpRequestMessage(HttpMethod.Post, "/api/v1/devices/bulk") { Content = JsonContent.Create(new[] { new { id = "d1" } }) },
        })
        {
            using var message = request();
            using var response = await anonymous.SendAsync(message);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(0, server.Server.Devices.Count);
    }

    [Fact]
    public async Task List_filters_by_tag_and_pages_with_a_total()
    {
        await using var server = await PlexusTestServer.StartAsync();
        foreach (var (id, fleet) in new[] { ("c", "East"), ("a", "East"), ("b", "West"), ("d", "East") })
        {
            (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id, tags = new { fleet } })).Dispose();
        }

        var all = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices");
        Assert.Equal(["a", "b", "c", "d"], Ids(all));
        Assert.Equal(4, all.GetProperty("total").GetInt32());

        var east = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices?tag=fleet:East&limit=2&offset=1");
        Assert.Equal(["c", "d"], Ids(east));
        Assert.Equal(3, east.GetProperty("total").GetInt32());

        var equalsForm = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices?tag=fleet=West");
        Assert.Equal(["b"], Ids(equalsForm));

        using var badTag = await server.Client.GetAsync("/api/v1/devices?tag=fleet");
        Assert.Equal(HttpStatusCode.BadRequest, badTag.StatusCode);
        using var badLimit = await server.Client.GetAsync("/api/v1/devices?limit=-1");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
    }

    [Fact]
    public async Task Get_patch_delete_and_rotate_answer_with_their_status_codes()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d1", name = "old", tags = new { fleet = "East" } })).Dispose();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "gw" })).Dispose();

        using var get = await server.Client.GetAsync("/api/v1/devices/d1");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        using var missing = await server.Client.GetAsync("/api/v1/devices/ghost");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("not_found", (await JsonAsync(missing)).GetProperty("code").GetString());

        using var patch = await server.Client.PatchAsync("/api/v1/devices/d1", JsonContent.Create(new { name = "new", parent = "gw" }));
        var patched = await JsonAsync(patch);
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal("new", patched.GetProperty("name").GetString());
        Assert.Equal("gw", patched.GetProperty("parent").GetString());
        Assert.Equal("East", patched.GetProperty("tags").GetProperty("fleet").GetString());
        using var patchMissing = await server.Client.PatchAsync("/api/v1/devices/ghost", JsonContent.Create(new { name = "x" }));
        Assert.Equal(HttpStatusCode.NotFound, patchMissing.StatusCode);
        using var patchId = await server.Client.PatchAsync("/api/v1/devices/d1", JsonContent.Create(new { id = "d9" }));
        Assert.Equal("id", (await JsonAsync(patchId)).GetProperty("field").GetString());

        using var rotate = await server.Client.PostAsync("/api/v1/devices/d1/rotate-token", null);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        string token = (await JsonAsync(rotate)).GetProperty("token").GetString()!;
        Assert.True(server.Server.Devices.Validate("d1", token));
        using var rotateMissing = await server.Client.PostAsync("/api/v1/devices/ghost/rotate-token", null);
        Assert.Equal(HttpStatusCode.NotFound, rotateMissing.StatusCode);

        using var delete = await server.Client.DeleteAsync("/api/v1/devices/d1");
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var deleteAgain = await server.Client.DeleteAsync("/api/v1/devices/d1");
        Assert.Equal(HttpStatusCode.NotFound, deleteAgain.StatusCode);
        Assert.False(server.Server.Devices.Validate("d1", token));
    }

    [Fact]
    public async Task Bulk_registers_each_item_and_reports_errors_per_item()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "taken" })).Dispose();

        using var response = await server.Client.PostAsync("/api/v1/devices/bulk", new StringContent(
            """[{"id": "b1", "tags": {"fleet": "East"}}, {"id": "taken"}, {"id": "bad/id"}, {"id": "b2"}]""", Encoding.UTF8, "application/json"));
        var body = await JsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, body.GetProperty("created").GetInt32());
        Assert.Equal(2, body.GetProperty("failed").GetInt32());
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["created", "error", "error", "created"], results.Select(r => r.GetProperty("status").GetString()));
        Assert.Equal("conflict", results[1].GetProperty("code").GetString());
        Assert.Equal("id", results[2].GetProperty("field").GetString());
        string token = results[0].GetProperty("device").GetProperty("token").GetString()!;
        Assert.True(server.Server.Devices.Validate("b1", token));
    }

    [Fact]
    public async Task Sql_view_devices_joins_with_telemetry_and_has_no_hash_column()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d1", name = "One", tags = new { fleet = "East" } })).Dispose();
        using var write = await server.WriteAsync("telemetry,device=d1 temp=20.5 1700000000000000000");
        Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);

        var all = await server.SqlAsync("SELECT * FROM devices");
        Assert.Equal(
            ["id", "name", "type", "tags", "parent", "created_at", "updated_at", "registered", "measurements"],
            all.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.DoesNotContain("hash", all.GetRawText(), StringComparison.OrdinalIgnoreCase);

        var joined = Assert.Single(await server.RowsAsync("SELECT d.name, d.tags['fleet'], t.temp FROM telemetry t JOIN devices d ON d.id = t.device"));
        Assert.Equal("One", joined[0].GetString());
        Assert.Equal("East", joined[1].GetString());
        Assert.Equal(20.5, joined[2].GetDouble());
    }

    [Fact]
    public async Task Writes_to_the_reserved_measurement_devices_in_main_are_refused_and_the_rest_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "d1" })).Dispose();

        using var response = await server.WriteAsync("env,device=d1 temp=1 1000\ndevices,device=d1 temp=2 1000\nDevices temp=3 1000\nenv,device=d1 temp=4 2000");
        var body = await JsonAsync(response);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(2, body.GetProperty("written").GetInt32());
        Assert.Equal([2, 3], body.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt32()));
        Assert.Contains("reserved for the device registry", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM env"))[0][0].GetInt64());
        Assert.Equal("d1", (await server.RowsAsync("SELECT id FROM devices"))[0][0].GetString());

        // Another namespace may have its own measurement "devices".
        using var other = await server.WriteAsync("devices temp=5 1000", "?bucket=fleet");
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
    }

    private static List<string?> Ids(JsonElement page) => page.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()).ToList();

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
