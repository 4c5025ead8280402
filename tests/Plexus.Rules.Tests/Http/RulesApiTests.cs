using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Rules.Tests.Http;

public sealed class RulesApiTests
{
    private const string Overheat = """
        {"name": "overheat", "from": "telemetry", "where": "temperature > 80 AND device.type = 'freezer'", "for": "5m",
         "clear_when": "temperature < 75", "severity": "major",
         "actions": [{"type": "webhook", "url": "http://127.0.0.1:9000/hook"}, {"type": "mqtt", "topic": "alarms/{rule}/{device}"}]}
        """;

    internal static async Task<PlexusTestServer> StartWithTelemetryAsync(string? dataDirectory = null, TimeProvider? time = null)
    {
        var server = await PlexusTestServer.StartAsync(dataDirectory, time: time);
        using var write = await server.WriteAsync("telemetry,device=f1 temperature=20,door=false 1000000000");
        Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        return server;
    }

    internal static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Rule_is_created_shown_listed_paused_resumed_updated_and_removed()
    {
        await using var server = await StartWithTelemetryAsync();
        using var created = await server.Client.PostAsync("/api/v1/rules", Json(Overheat));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/api/v1/rules/overheat", created.Headers.Location?.ToString());
        var rule = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("5m", rule.GetProperty("for").GetString());
        Assert.Equal("major", rule.GetProperty("severity").GetString());
        Assert.Equal(2, rule.GetProperty("actions").GetArrayLength());
        Assert.False(rule.GetProperty("paused").GetBoolean());

        using var again = await server.Client.PostAsync("/api/v1/rules", Json(Overheat));
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        using var paused = await server.Client.PostAsync("/api/v1/rules/overheat/pause", null);
        Assert.True((await paused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("paused").GetBoolean());
        using var resumed = await server.Client.PostAsync("/api/v1/rules/overheat/resume", null);
        Assert.False((await resumed.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("paused").GetBoolean());

        using var put = await server.Client.PutAsync("/api/v1/rules/overheat", Json("""{"from": "telemetry", "where": "temperature > 90", "severity": "critical"}"""));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var shown = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/overheat");
        Assert.Equal("temperature > 90", shown.GetProperty("where").GetString());
        Assert.Equal("critical", shown.GetProperty("severity").GetString());

        var list = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules");
        Assert.Equal("overheat", Assert.Single(list.GetProperty("rules").EnumerateArray()).GetProperty("name").GetString());
        var rows = await server.RowsAsync("SELECT name, \"from\", \"where\", severity, paused FROM rules");
        Assert.Equal("temperature > 90", Assert.Single(rows)[2].GetString());

        using var removed = await server.Client.DeleteAsync("/api/v1/rules/overheat");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using var gone = await server.Client.GetAsync("/api/v1/rules/overheat");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Theory]
    [InlineData("""{"name": "r", "from": "nothing", "where": "x > 1"}""", "from", "no measurement \"nothing\" in namespace \"main\"")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "temprature > 80"}""", "where", "where: unknown field or tag 'temprature' in the rule's measurement (it has device, door, temperature)")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "temperature >"}""", "where", "where: expected a value")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "temperature > 1", "clear_when": "temperature < 'x'"}""", "clear_when", "clear_when: cannot compare a number with text at char 13")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "temperature > 1", "for": "5 minutes"}""", "for", "not a duration like 30s")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "temperature > 1", "severity": "urgent"}""", "severity", "not one of critical, major")]
    [InlineData("""{"name": "r", "from": "telemetry", "wher": "temperature > 1"}""", "wher", "unknown member \"wher\"")]
    [InlineData("""{"name": "r", "from": "telemetry"}""", "where", "a rule needs \"where\"")]
    [InlineData("""{"name": "bad name", "from": "telemetry", "where": "door"}""", "name", "has ' '")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "door", "actions": [{"type": "webhook", "url": "ftp://x"}]}""", "actions[0].url", "absolute http:// or https:// url")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "door", "actions": [{"type": "mqtt", "topic": "alarms/#"}]}""", "actions[0].topic", "no wildcards")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "door", "actions": [{"type": "email"}]}""", "actions[0].type", "not one of webhook, mqtt")]
    [InlineData("""{"name": "r", "from": "telemetry", "where": "inside_geofence(1, 2, 'depot')"}""", "where", "no geofence 'depot'")]
    public async Task Invalid_rule_is_refused_with_400_naming_the_problem_before_it_is_stored(string body, string field, string message)
    {
        await using var server = await StartWithTelemetryAsync();
        using var response = await server.Client.PostAsync("/api/v1/rules", Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(field, error.GetProperty("field").GetString());
        string text = error.GetProperty("message").GetString()!;
        Assert.True(text.Contains(message, StringComparison.Ordinal), text);
        var list = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules");
        Assert.Equal(0, list.GetProperty("rules").GetArrayLength());
    }

    [Fact]
    public async Task Rule_changes_need_the_admin_scope()
    {
        await using var server = await StartWithTelemetryAsync();
        using var tokenResponse = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "reader", scope = "read" });
        string token = (await tokenResponse.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var reader = server.ClientWithToken(token);
        using var refused = await reader.PostAsync("/api/v1/rules", Json(Overheat));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        using var listed = await reader.GetAsync("/api/v1/rules");
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
    }

    [Fact]
    public async Task Rules_survive_a_restart_with_their_paused_state()
    {
        using var folder = new TempDirectory("plexus-rules");
        await using (var server = await StartWithTelemetryAsync(folder.Path))
        {
            using var created = await server.Client.PostAsync("/api/v1/rules", Json(Overheat));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            using var paused = await server.Client.PostAsync("/api/v1/rules/overheat/pause", null);
        }

        await using var restarted = await PlexusTestServer.StartAsync(folder.Path);
        var rule = await restarted.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/overheat");
        Assert.True(rule.GetProperty("paused").GetBoolean());
        Assert.Equal("temperature < 75", rule.GetProperty("clear_when").GetString());
    }

    [Fact]
    public async Task A_measurement_named_like_a_rules_view_is_refused()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var response = await server.WriteAsync("alarms,device=x v=1 1\nalarm_history v=1 1\nrules v=1 1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.All(body.GetProperty("errors").EnumerateArray(), e => Assert.Contains("reserved for the rule engine's SQL view", e.GetProperty("reason").GetString(), StringComparison.Ordinal));
    }
}
