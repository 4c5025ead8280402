using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>Retention policies over HTTP (docs/http-api.md#retention): set, list, remove, scopes, the SQL view, the reserved name.</summary>
public sealed class RetentionApiTests
{
    private static Task<HttpResponseMessage> PutAsync(HttpClient client, string target, string body) =>
        client.PutAsync("/api/v1/retention/" + target, new StringContent(body, Encoding.UTF8, "application/json"));

    private static async Task<JsonElement> BodyAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();

    [Fact]
    public async Task Set_list_and_remove_a_policy_which_shows_in_sql_and_is_audited()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using (var set = await PutAsync(server.Client, "main.readings", """{"raw": "30d"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
            var body = await BodyAsync(set);
            Assert.Equal("main.readings", body.GetProperty("target").GetString());
            Assert.Equal(2_592_000, body.GetProperty("raw_seconds").GetInt64());
        }

        using (var set = await PutAsync(server.Client, "Lab", """{"raw": "12h"}"""))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        using (var list = await server.Client.GetAsync("/api/v1/retention"))
        {
            var policies = (await BodyAsync(list)).GetProperty("policies").EnumerateArray().Select(p => $"{p.GetProperty("target").GetString()} {p.GetProperty("raw").GetString()}");
            Assert.Equal(["lab 12h", "main.readings 30d"], policies);
        }

        var rows = await server.RowsAsync("SELECT namespace, measurement, raw_seconds FROM retention_policies ORDER BY namespace");
        Assert.Equal("lab||43200", $"{rows[0][0].GetString()}|{rows[0][1].GetString()}|{rows[0][2].GetInt64()}");
        Assert.Equal(1, (await server.RowsAsync("SELECT count(*) FROM audit_log WHERE action = 'retention.set' AND target_id = 'main.readings' AND detail = 'raw 30d'"))[0][0].GetInt64());

        using (var removed = await server.Client.DeleteAsync("/api/v1/retention/main.readings"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        using var again = await server.Client.DeleteAsync("/api/v1/retention/main.readings");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Theory]
    [InlineData("main.readings", """{"raw": "30"}""", "raw", "is not a retention such as 30d")]
    [InlineData("main.readings", """{"raw": 30}""", "raw", "raw is required")]
    [InlineData("main.readings", """{"raw": "30d", "rollup": "1h"}""", "rollup", "unknown field")]
    [InlineData("_plexus", """{"raw": "30d"}""", "target", "reserved")]
    [InlineData(".readings", """{"raw": "30d"}""", "target", "the namespace is empty")]
    public async Task Bad_policies_are_400_naming_the_field(string target, string body, string field, string message)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await PutAsync(server.Client, target, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await BodyAsync(response);
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Write_token_may_not_see_or_change_policies()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "app", scope = "write" });
        string token = (await BodyAsync(created)).GetProperty("token").GetString()!;
        using var client = server.ClientWithToken(token);

        using var set = await PutAsync(client, "main", """{"raw": "1d"}""");
        using var list = await client.GetAsync("/api/v1/retention");

        Assert.Equal(HttpStatusCode.Forbidden, set.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, list.StatusCode);
        Assert.Empty(server.Server.Retention.List());
    }

    [Fact]
    public async Task No_write_may_take_the_name_of_the_retention_policies_view()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var write = await server.WriteAsync("retention_policies,namespace=x raw_seconds=1i");

        Assert.Equal(HttpStatusCode.BadRequest, write.StatusCode);
        Assert.Contains("reserved for the retention policies' SQL view", await write.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
