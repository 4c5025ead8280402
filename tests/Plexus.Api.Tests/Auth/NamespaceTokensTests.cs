using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Auth;

/// <summary>API tokens limited to namespaces: created, listed, kept across restarts, and held to their namespaces on HTTP.</summary>
public sealed class NamespaceTokensTests
{
    [Fact]
    public async Task A_limited_token_is_created_listed_and_kept_with_its_namespaces()
    {
        using var data = new TempDirectory("plexus-ns-tokens");
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "partner", scope = "write", namespaces = new[] { "Partner_A", "partner_b", "partner_a" } });
            var body = await JsonAsync(created);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            Assert.Equal(["partner_a", "partner_b"], body.GetProperty("namespaces").EnumerateArray().Select(n => n.GetString()));
        }

        await using var restarted = await PlexusTestServer.StartAsync(data.Path);
        using var list = await restarted.Client.GetAsync("/api/v1/tokens");
        var token = (await JsonAsync(list)).GetProperty("tokens")[0];
        Assert.Equal("partner", token.GetProperty("name").GetString());
        Assert.Equal(["partner_a", "partner_b"], token.GetProperty("namespaces").EnumerateArray().Select(n => n.GetString()));
    }

    [Fact]
    public async Task A_limited_token_writes_only_to_its_namespaces_and_is_told_which()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await CreateAsync(server, "partner", "write", "partner_a");
        using var client = server.ClientWithToken(token);

        using var own = await client.PostAsync("/api/v2/write?bucket=partner_a", new StringContent("m v=1 1"));
        using var v1 = await client.PostAsync("/write?db=Partner_A", new StringContent("m v=2 2"));
        using var main = await client.PostAsync("/api/v2/write", new StringContent("m v=3 3"));
        using var other = await client.PostAsync("/write?db=partner_b", new StringContent("m v=4 4"));

        Assert.Equal(HttpStatusCode.NoContent, own.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, v1.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, main.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        string message = (await JsonAsync(other)).GetProperty("message").GetString()!;
        Assert.Contains("may write only to namespace partner_a, not \"partner_b\"", message, StringComparison.Ordinal);
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM m", "partner_a"))[0][0].GetInt32());
        Assert.Empty(await server.RowsAsync("SELECT table_schema FROM information_schema.tables WHERE table_schema IN ('partner_b') OR (table_schema = 'main' AND table_name = 'm')"));
    }

    [Theory]
    [InlineData("GET /api/v1/devices")]
    [InlineData("GET /api/v1/assets")]
    [InlineData("GET /api/v1/geofences")]
    [InlineData("GET /api/v1/position-sources")]
    [InlineData("GET /api/v1/dead-letters")]
    public async Task A_token_limited_to_other_namespaces_cannot_read_the_registries_of_main(string endpoint)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string partner = await CreateAsync(server, "partner", "read", "partner_a");
        string mainReader = await CreateAsync(server, "main-reader", "read", "main");
        string[] parts = endpoint.Split(' ');

        using var partnerClient = server.ClientWithToken(partner);
        using var mainClient = server.ClientWithToken(mainReader);
        using var refused = await partnerClient.GetAsync(parts[1]);
        using var allowed = await mainClient.GetAsync(parts[1]);

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("namespace main", (await JsonAsync(refused)).GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
    }

    [Theory]
    [InlineData("admin", """["partner_a"]""", "scope admin cannot be limited")]
    [InlineData("read", "[]", "namespaces is empty")]
    [InlineData("read", """["bad name"]""", "may contain only letters")]
    [InlineData("read", """["_plexus"]""", "is reserved")]
    [InlineData("read", """["a/b"]""", "is not a namespace name")]
    [InlineData("read", "\"partner_a\"", "must be an array")]
    [InlineData("read", "[1]", "must be an array")]
    public async Task Bad_namespaces_are_400_naming_the_field(string scope, string namespaces, string expected)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsync("/api/v1/tokens",
            new StringContent($$"""{"name": "t", "scope": "{{scope}}", "namespaces": {{namespaces}}}""", Encoding.UTF8, "application/json"));

        var body = await JsonAsync(response);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("namespaces", body.GetProperty("field").GetString());
        Assert.Contains(expected, body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty(server.Server.ApiTokens.List());
    }

    [Fact]
    public async Task A_token_file_without_namespaces_keeps_every_token_unlimited()
    {
        using var data = new TempDirectory("plexus-ns-tokens");
        const string Token = "plxa_written-by-an-older-version-of-plexus-000";
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Token)));
        await File.WriteAllTextAsync(Path.Combine(data.Path, "api-tokens.json"),
            $$"""{"tokens": [{"name": "etl", "scope": "write", "hash": "{{hash}}", "created_at": "2026-01-02T03:04:05Z"}]}""");

        await using var server = await PlexusTestServer.StartAsync(data.Path);
        using var client = server.ClientWithToken(Token);
        using var main = await client.PostAsync("/api/v2/write", new StringContent("m v=1 1"));
        using var other = await client.PostAsync("/api/v2/write?bucket=anywhere", new StringContent("m v=1 1"));
        using var devices = await client.GetAsync("/api/v1/devices");
        using var list = await server.Client.GetAsync("/api/v1/tokens");

        Assert.Equal(HttpStatusCode.NoContent, main.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
        Assert.Equal(HttpStatusCode.OK, devices.StatusCode);
        Assert.Equal(JsonValueKind.Null, (await JsonAsync(list)).GetProperty("tokens")[0].GetProperty("namespaces").ValueKind);
    }

    [Fact]
    public async Task A_limited_read_token_queries_its_namespaces_in_sql_and_nothing_else()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("m,site=a v=1 1", "?bucket=partner_a")).Dispose();
        (await server.WriteAsync("m,site=b v=2 1", "?bucket=partner_b")).Dispose();
        (await server.WriteAsync("m,site=c v=3 1")).Dispose();
        using var partner = server.ClientWithToken(await CreateAsync(server, "partner", "read", "partner_a"));

        async Task<(HttpStatusCode Status, string Body)> Sql(string sql, string? db = null)
        {
            using var response = await partner.PostAsJsonAsync("/api/v1/sql", new { sql, db });
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        // Its own namespace, qualified or by default, with everything SQL can do within it.
        Assert.Contains("[\"a\",1]", (await Sql("SELECT site, v FROM partner_a.m")).Body, StringComparison.Ordinal);
        Assert.Contains("[\"a\",1]", (await Sql("SELECT site, v FROM m")).Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Sql("SELECT site, avg(v) FROM m GROUP BY site")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Sql("SELECT * FROM range(3)")).Status);

        // Nothing of another namespace, the registries or the catalog that lists them.
        foreach (string sql in new[]
        {
            "SELECT * FROM partner_b.m", "SELECT * FROM main.m", "SELECT * FROM main.devices", "SELECT * FROM _plexus.measurements",
            "SELECT * FROM duckdb_tables()", "SHOW TABLES", "SELECT count(*) FROM partner_a.m, partner_b.m",
            "SELECT * FROM m UNION ALL SELECT * FROM partner_b.m", "SELECT * FROM query('SELECT * FROM partner_b.m')",
        })
        {
            var (status, body) = await Sql(sql);
            Assert.True(status == HttpStatusCode.Forbidden, $"{sql}: {status} {body}");
            Assert.Contains("partner_a", body, StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.Forbidden, (await Sql("SELECT 1", db: "partner_b")).Status);
    }

    private static async Task<string> CreateAsync(PlexusTestServer server, string name, string scope, params string[] namespaces)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name, scope, namespaces });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await JsonAsync(response)).GetProperty("token").GetString()!;
    }

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
