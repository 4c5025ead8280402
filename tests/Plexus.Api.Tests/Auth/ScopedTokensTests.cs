using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Auth;

/// <summary>Scoped API tokens, the scope every endpoint needs, and HTTP writes with a device token.</summary>
public sealed class ScopedTokensTests
{
    [Fact]
    public async Task Tokens_api_creates_lists_and_revokes_and_keeps_only_hashes()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "grafana", scope = "read" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await JsonAsync(created);
        string token = body.GetProperty("token").GetString()!;
        Assert.StartsWith("plxa_", token, StringComparison.Ordinal);
        Assert.Equal("read", body.GetProperty("scope").GetString());

        using var list = await server.Client.GetAsync("/api/v1/tokens");
        string listed = await list.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Contains("\"name\":\"grafana\"", listed, StringComparison.Ordinal);
        Assert.DoesNotContain(token, listed, StringComparison.Ordinal);
        string stored = await File.ReadAllTextAsync(Path.Combine(server.Server.DataDirectory, "api-tokens.json"));
        Assert.DoesNotContain(token, stored, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(token))), stored, StringComparison.Ordinal);

        using var reader = server.ClientWithToken(token);
        using (var ok = await reader.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT 1" }))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var revoked = await server.Client.DeleteAsync("/api/v1/tokens/grafana");
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        using var after = await reader.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT 1" });
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        using var again = await server.Client.DeleteAsync("/api/v1/tokens/grafana");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Bad_token_requests_are_400_or_409_naming_the_field()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await CreateTokenAsync(server, "app", "write");

        foreach (var (request, status, field) in new (object, HttpStatusCode, string)[]
        {
            (new { name = "app", scope = "read" }, HttpStatusCode.Conflict, "name"),
            (new { name = "x", scope = "superuser" }, HttpStatusCode.BadRequest, "scope"),
            (new { name = "has space", scope = "read" }, HttpStatusCode.BadRequest, "name"),
            (new { name = "admin", scope = "read" }, HttpStatusCode.BadRequest, "name"),
            (new { name = "x" }, HttpStatusCode.BadRequest, "scope"),
        })
        {
            using var response = await server.Client.PostAsJsonAsync("/api/v1/tokens", request);
            Assert.Equal(status, response.StatusCode);
            Assert.Equal(field, (await JsonAsync(response)).GetProperty("field").GetString());
        }
    }

    [Fact]
    public async Task Tokens_survive_a_restart()
    {
        using var data = new TempDirectory("plexus-tokens");
        string token;
        await using (var first = await PlexusTestServer.StartAsync(data.Path))
        {
            token = await CreateTokenAsync(first, "etl", "write");
        }

        await using var second = await PlexusTestServer.StartAsync(data.Path);
        using var client = second.ClientWithToken(token);
        using var write = await client.PostAsync("/api/v2/write", new StringContent("m v=1 1"));
        Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
    }

    [Fact]
    public async Task A_damaged_token_file_stops_the_start_naming_the_file()
    {
        using var data = new TempDirectory("plexus-tokens");
        await File.WriteAllTextAsync(Path.Combine(data.Path, "api-tokens.json"), "{\"tokens\": [{\"name\": 1}]");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => PlexusTestServer.StartAsync(data.Path));

        Assert.Contains("api-tokens.json is damaged", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every endpoint against every kind of credential: read, write, admin and a device token.</summary>
    [Theory]
    [InlineData("read", "GET /api/v1/devices", 200)]
    [InlineData("read", "GET /api/v1/devices/d0", 200)]
    [InlineData("read", "POST /api/v1/sql", 200)]
    [InlineData("read", "POST /api/v2/write", 403)]
    [InlineData("read", "POST /write", 403)]
    [InlineData("read", "POST /api/v1/devices", 403)]
    [InlineData("read", "PATCH /api/v1/devices/d0", 403)]
    [InlineData("read", "POST /api/v1/devices/bulk", 403)]
    [InlineData("read", "GET /api/v1/tokens", 403)]
    [InlineData("write", "POST /api/v2/write", 204)]
    [InlineData("write", "POST /write", 204)]
    [InlineData("write", "POST /api/v1/sql", 200)]
    [InlineData("write", "GET /api/v1/devices", 200)]
    [InlineData("write", "POST /api/v1/devices", 403)]
    [InlineData("write", "DELETE /api/v1/devices/d0", 403)]
    [InlineData("write", "POST /api/v1/devices/d0/rotate-token", 403)]
    [InlineData("write", "POST /api/v1/tokens", 403)]
    [InlineData("write", "DELETE /api/v1/tokens/other", 403)]
    [InlineData("admin", "POST /api/v1/devices", 201)]
    [InlineData("admin", "POST /api/v1/tokens", 201)]
    [InlineData("admin", "GET /api/v1/tokens", 200)]
    [InlineData("admin", "DELETE /api/v1/tokens/other", 204)]
    [InlineData("admin", "POST /api/v2/write", 204)]
    [InlineData("device", "POST /api/v2/write", 204)]
    [InlineData("device", "POST /write", 204)]
    [InlineData("device", "POST /api/v1/sql", 403)]
    [InlineData("device", "GET /api/v1/devices", 403)]
    [InlineData("device", "GET /api/v1/devices/d0", 403)]
    [InlineData("device", "POST /api/v1/devices", 403)]
    [InlineData("device", "GET /api/v1/tokens", 403)]
    public async Task Each_endpoint_needs_its_scope(string who, string endpoint, int expected)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string deviceToken = server.Server.Devices.Add(new NewDevice("d0")).Token;
        await CreateTokenAsync(server, "other", "read");
        string token = who == "device" ? deviceToken : await CreateTokenAsync(server, "t-" + who, who);
        using var client = server.ClientWithToken(token);
        string[] parts = endpoint.Split(' ');
        using var request = new HttpRequestMessage(new HttpMethod(parts[0]), parts[1]) { Content = BodyFor(parts[1]) };

        using var response = await client.SendAsync(request);

        string text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == (int)response.StatusCode, $"{who} {endpoint}: {(int)response.StatusCode} {text}");
        if (expected == 403)
        {
            string needed = parts[1].Contains("write", StringComparison.Ordinal) ? "write"
                : parts[1].Contains("tokens", StringComparison.Ordinal) ? "admin"
                : parts[0] == "GET" || parts[1] == "/api/v1/sql" ? "read" : "admin";
            Assert.Contains($"needs a token with scope {needed}", text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Basic")]
    [InlineData("query")]
    public async Task Scoped_tokens_work_in_every_form_influx_clients_send(string how)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await CreateTokenAsync(server, "telegraf", "write");
        using var client = new HttpClient { BaseAddress = server.Address };
        string path = "/write?db=main";
        if (how == "Basic")
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("telegraf:" + token)));
        }
        else if (how == "query")
        {
            path += "&u=telegraf&p=" + token;
        }
        else
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(how, token);
        }

        using var response = await client.PostAsync(path, new StringContent("m v=1 1"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Theory]
    [InlineData("Token")]
    [InlineData("Basic")]
    [InlineData("query")]
    public async Task Device_token_writes_are_attributed_to_that_device(string how)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("truck-7")).Token;
        server.Server.Devices.Add(new NewDevice("truck-8"));
        using var client = new HttpClient { BaseAddress = server.Address };
        string path = "/api/v2/write?precision=s";
        if (how == "Basic")
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("x:" + token)));
        }
        else if (how == "query")
        {
            path += "&p=" + token;
        }
        else
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        }

        using var response = await client.PostAsync(path, new StringContent("env,device=truck-8,room=cab temp=20.5 1\nenv,Device=other temp=21 2\nenv temp=22 3\n"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var rows = await server.RowsAsync("SELECT device, room, temp FROM env ORDER BY time");
        Assert.Equal(["truck-7", "truck-7", "truck-7"], rows.Select(r => r[0].GetString()));
        Assert.Equal("cab", rows[0][1].GetString());
        Assert.Equal([20.5, 21, 22], rows.Select(r => r[2].GetDouble()));
    }

    [Fact]
    public async Task Device_token_is_limited_to_namespace_main_and_stops_working_when_rotated()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var client = server.ClientWithToken(token);

        using var other = await client.PostAsync("/api/v2/write?bucket=fleet", new StringContent("m v=1 1"));
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Contains("namespace main", await other.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        server.Server.Devices.RotateToken("d1");
        using var rotated = await client.PostAsync("/api/v2/write", new StringContent("m v=1 1"));
        Assert.Equal(HttpStatusCode.Unauthorized, rotated.StatusCode);
    }

    [Fact]
    public async Task Csv_bulk_registers_devices_with_tags_and_reports_bad_rows_by_line_and_field()
    {
        await using var server = await PlexusTestServer.StartAsync();
        server.Server.Devices.Add(new NewDevice("gw-1"));
        string csv = """
            id,name,type,parent,tag:fleet,tags
            truck-1,"Truck 1, the ""old"" one",truck,gw-1,East,site=Oslo;color=red
            bad/id,Bad,,,,

            truck-2,,,,West,
            truck-3,,,no-such-parent,,
            truck-4,too,many,cells,,,
            """;

        using var response = await server.Client.PostAsync("/api/v1/devices/bulk", new StringContent(csv, Encoding.UTF8, "text/csv"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal(2, body.GetProperty("created").GetInt32());
        Assert.Equal(3, body.GetProperty("failed").GetInt32());
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([2, 3, 5, 6, 7], results.Select(r => r.GetProperty("line").GetInt32()));
        Assert.StartsWith("plxd_", results[0].GetProperty("device").GetProperty("token").GetString(), StringComparison.Ordinal);
        Assert.Equal(("error", "id"), (results[1].GetProperty("status").GetString(), results[1].GetProperty("field").GetString()));
        Assert.Equal("parent", results[3].GetProperty("field").GetString());
        Assert.Contains("7 cells", results[4].GetProperty("message").GetString(), StringComparison.Ordinal);

        var truck = server.Server.Devices.Get("truck-1")!;
        Assert.Equal("Truck 1, the \"old\" one", truck.Name);
        Assert.Equal(("truck", "gw-1"), (truck.Type, truck.Parent));
        Assert.Equal(new Dictionary<string, string> { ["color"] = "red", ["fleet"] = "East", ["site"] = "Oslo" }, truck.Tags);
        Assert.Equal("West", server.Server.Devices.Get("truck-2")!.Tags["fleet"]);
    }

    [Theory]
    [InlineData("name,type\nx,y\n", "no \"id\" column")]
    [InlineData("id,colour\nx,y\n", "column 2 \"colour\"")]
    [InlineData("id,name\nx,\"open\n", "line 2: a quoted cell is not closed")]
    [InlineData("", "empty")]
    public async Task Csv_with_a_bad_header_or_quoting_is_a_400_naming_line_and_column(string csv, string expected)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsync("/api/v1/devices/bulk", new StringContent(csv, Encoding.UTF8, "text/csv"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, (await JsonAsync(response)).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, server.Server.Devices.Count);
    }

    private static HttpContent? BodyFor(string path) => path switch
    {
        "/api/v2/write" or "/write" => new StringContent("m v=1 1"),
        "/api/v1/sql" => JsonContent.Create(new { sql = "SELECT 1" }),
        "/api/v1/devices" => JsonContent.Create(new { id = "new-device" }),
        "/api/v1/devices/bulk" => JsonContent.Create(new[] { new { id = "b1" } }),
        "/api/v1/devices/d0" => JsonContent.Create(new { name = "x" }),
        "/api/v1/tokens" => JsonContent.Create(new { name = "fresh", scope = "read" }),
        _ => null,
    };

    private static async Task<string> CreateTokenAsync(PlexusTestServer server, string name, string scope)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name, scope });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await JsonAsync(response)).GetProperty("token").GetString()!;
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
