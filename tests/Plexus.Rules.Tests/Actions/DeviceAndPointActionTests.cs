using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MQTTnet;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Actions;

/// <summary>
/// The actions that write (docs/rules.md#actions): a derived point through the ingest pipeline, a patch of the device's
/// desired properties and a command to it, each received by a real MQTT client as the device; their checks at save;
/// and the guard that keeps derived points from re-triggering rules.
/// </summary>
public sealed class DeviceAndPointActionTests
{
    [Fact]
    public async Task Point_action_writes_a_templated_point_visible_in_SQL_when_the_alarm_opens_and_clears()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, Line("f1", 0, 0), 0);
        await AddRuleAsync(server, """
            {"name": "hot", "from": "telemetry", "where": "temperature > 80", "severity": "major",
             "actions": [{"type": "point", "measurement": "alarm_events",
                          "fields": {"value": "{value}", "temperature": "{value.temperature}", "status": "{status}", "message": "{rule} on {device} at {value}", "weight": 2.5, "flag": true},
                          "tags": {"rule": "{rule}", "device": "{device}", "severity": "{severity}"}}]}
            """);

        await WriteAsync(server, Line("f1", 85.5, 1), 1);
        await Eventually.TrueAsync(async () => await CountAsync(server, "alarm_events") == 1, because: "the opened alarm's derived point is stored");
        await WriteAsync(server, Line("f1", 70.5, 2), 2);
        await Eventually.TrueAsync(async () => await CountAsync(server, "alarm_events") == 2, because: "the cleared alarm's derived point is stored");

        var rows = await server.RowsAsync("SELECT epoch_ns(time), rule, device, severity, value, temperature, status, message, weight, flag FROM alarm_events ORDER BY time");
        Assert.Equal($"{T0 + Minute},hot,f1,major,85.5,85.5,active,hot on f1 at 85.5,2.5,true", Join(rows[0]));
        Assert.Equal($"{T0 + (2 * Minute)},hot,f1,major,70.5,70.5,cleared,hot on f1 at 70.5,2.5,true", Join(rows[1]));
        var types = await server.RowsAsync("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'alarm_events' AND column_name IN ('value', 'flag', 'message') ORDER BY column_name");
        Assert.Equal("flag,BOOLEAN message,VARCHAR value,DOUBLE", string.Join(" ", types.Select(Join)));
        var stats = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats");
        Assert.Equal(2, stats.GetProperty("actions_delivered").GetInt64());
    }

    [Fact]
    public async Task Derived_points_are_not_evaluated_by_rules_so_a_rule_on_its_own_output_cannot_loop()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, Line("f1", 0, 0) + $"\nalarm_events,device=f1 value=0 {T0}", 0);

        // Each rule writes a point that would open the other's alarm (and its own) if derived points were evaluated.
        await AddRuleAsync(server, """
            {"name": "hot", "from": "telemetry", "where": "temperature > 80",
             "actions": [{"type": "point", "measurement": "alarm_events", "fields": {"value": "{value}"}, "tags": {"device": "{device}"}}]}
            """);
        await AddRuleAsync(server, """
            {"name": "echo", "from": "alarm_events", "where": "value > 0",
             "actions": [{"type": "point", "measurement": "alarm_events", "fields": {"value": "{value}"}, "tags": {"device": "{device}"}}]}
            """);
        long before = server.Server.RuleEngine.Statistics.Points;

        await WriteAsync(server, Line("f1", 85, 1), (int)before + 1);
        await Eventually.TrueAsync(async () => await CountAsync(server, "alarm_events") == 2, because: "hot's derived point is stored");

        // A sentinel after it: the engine works in commit order, so once it has evaluated the sentinel it has passed the
        // derived point, and counted it had it evaluated it.
        await WriteAsync(server, $"alarm_events,device=f2 value=0 {T0 + (2 * Minute)}", (int)before + 2);
        Assert.Equal(before + 2, server.Server.RuleEngine.Statistics.Points);
        Assert.Empty(await AlarmsAsync(server, "?rule=echo"));
        Assert.Equal(3, await CountAsync(server, "alarm_events"));
    }

    [Fact]
    public async Task Desired_and_command_actions_reach_the_device_over_MQTT_when_the_rule_fires()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var registered = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "f1", type = "freezer" });
        string token = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var device = await DeviceTestClients.ConnectAsync(server, "f1", token);
        await device.SubscribeCollectingAsync("devices/f1/desired");
        var received = await device.SubscribeCollectingAsync("devices/f1/commands/#");
        await WriteAsync(server, Line("f1", 0, 0), 0);
        await AddRuleAsync(server, """
            {"name": "overheat", "from": "telemetry", "where": "temperature > 80",
             "actions": [{"type": "desired", "properties": {"mode": "safe", "cause": "{rule} at {value.temperature}", "old": null}},
                         {"type": "command", "name": "defrost", "payload": {"alarm": "{id}", "reason": "{rule}"}, "timeout": "2m"}]}
            """);

        await WriteAsync(server, Line("f1", 90, 1), 1);

        // One client, so each collector holds every message it receives.
        MqttApplicationMessage? Received(string topicStart)
        {
            lock (received)
            {
                return received.SingleOrDefault(m => m.Topic.StartsWith(topicStart, StringComparison.Ordinal));
            }
        }

        await Eventually.TrueAsync(() => Received("devices/f1/desired") is not null && Received("devices/f1/commands/") is not null, because: "the device receives the desired state and the command");
        var state = Received("devices/f1/desired")!;
        var command = Received("devices/f1/commands/")!;
        Assert.Equal("""{"mode":"safe","cause":"overheat at 90"}""", JsonDocument.Parse(MqttTestClients.Text(state)).RootElement.GetProperty("properties").GetRawText());
        Assert.Equal("devices/f1/commands/defrost", command.Topic);
        var envelope = JsonDocument.Parse(MqttTestClients.Text(command)).RootElement;
        long alarmId = (await AlarmsAsync(server, "?rule=overheat")).Single().GetProperty("id").GetInt64();
        Assert.Equal($$"""{"alarm":"{{alarmId}}","reason":"overheat"}""", envelope.GetProperty("payload").GetRawText());

        // The device answers like any command's: the answer is recorded.
        string id = envelope.GetProperty("id").GetString()!;
        await DeviceTestClients.PublishAsync(device, $"devices/f1/responses/{id}", """{"status": "succeeded"}""");
        Assert.Equal(TimeSpan.FromMinutes(2), envelope.GetProperty("expires_at").GetDateTimeOffset() - envelope.GetProperty("sent_at").GetDateTimeOffset());
        await Eventually.TrueAsync(async () => (await server.RowsAsync($"SELECT status FROM device_commands WHERE id = '{id}'")) is [[var status]] && status.GetString() == "succeeded");
        var stats = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats");
        Assert.Equal(2, stats.GetProperty("actions_delivered").GetInt64());
    }

    [Fact]
    public async Task Device_actions_for_an_alarm_whose_device_is_not_registered_are_dead_letters()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, Line("ghost", 0, 0), 0);
        await AddRuleAsync(server, """
            {"name": "overheat", "from": "telemetry", "where": "temperature > 80",
             "actions": [{"type": "desired", "properties": {"mode": "safe"}}, {"type": "command", "name": "defrost"}]}
            """);

        await WriteAsync(server, Line("ghost", 90, 1), 1);

        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM rule_dead_letters"))[0][0].GetInt64() == 2);
        var rows = await server.RowsAsync("SELECT action, target, error FROM rule_dead_letters ORDER BY action");
        Assert.Equal("command", rows[0][0].GetString());
        Assert.Equal("commands/defrost", rows[0][1].GetString());
        Assert.Contains("\"ghost\" is not a registered device", rows[0][2].GetString(), StringComparison.Ordinal);
        Assert.Equal("desired", rows[1][0].GetString());
    }

    [Theory]
    [InlineData("""{"type": "point", "measurement": "alarms", "fields": {"v": 1}}""", "actions[0].measurement", "reserved")]
    [InlineData("""{"type": "point", "measurement": "alarm events", "fields": {"v": 1}}""", "actions[0].measurement", "not an identifier")]
    [InlineData("""{"type": "point", "measurement": "system.events", "fields": {"v": 1}}""", "actions[0].measurement", "reserved")]
    [InlineData("""{"type": "point", "fields": {"v": 1}}""", "actions[0].measurement", "needs \"measurement\"")]
    [InlineData("""{"type": "point", "measurement": "events"}""", "actions[0].fields", "at least one field")]
    [InlineData("""{"type": "point", "measurement": "events", "fields": {"time": 1}}""", "actions[0].fields.time", "reserved")]
    [InlineData("""{"type": "point", "measurement": "events", "fields": {"1st": 1}}""", "actions[0].fields.1st", "not an identifier")]
    [InlineData("""{"type": "point", "measurement": "events", "fields": {"v": {"a": 1}}}""", "actions[0].fields.v", "a field is a number")]
    [InlineData("""{"type": "point", "measurement": "events", "fields": {"v": 1}, "tags": {"V": "x"}}""", "actions[0].tags.V", "named twice")]
    [InlineData("""{"type": "point", "measurement": "events", "fields": {"v": 1}, "tags": {"t": 5}}""", "actions[0].tags.t", "a tag is a string")]
    [InlineData("""{"type": "point", "measurement": "events", "fields": {"v": 1}, "url": "http://x"}""", "actions[0].url", "does not belong")]
    [InlineData("""{"type": "desired", "properties": [1]}""", "actions[0].properties", "merge patch")]
    [InlineData("""{"type": "desired", "properties": {"online": true}}""", "actions[0].properties", "online")]
    [InlineData("""{"type": "command", "name": "a/b"}""", "actions[0].name", "command name")]
    [InlineData("""{"type": "command", "name": "reboot", "timeout": "500ms"}""", "actions[0].timeout", "at least 1s")]
    public async Task Invalid_actions_are_refused_at_save_with_a_400_naming_the_member(string action, string field, string problem)
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, Line("f1", 0, 0), 0);

        using var response = await server.Client.PostAsync("/api/v1/rules", Json($$"""{"name": "r", "from": "telemetry", "where": "temperature > 80", "actions": [{{action}}]}"""));

        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        var error = JsonDocument.Parse(body).RootElement;
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(problem, error.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rule_with_every_action_type_reads_back_as_it_was_saved()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, Line("f1", 0, 0), 0);
        const string Actions = """[{"type":"point","measurement":"plant.alarm_events","fields":{"value":"{value}","n":1},"tags":{"rule":"{rule}"}},{"type":"desired","properties":{"mode":"safe","old":null}},{"type":"command","name":"reboot","payload":{"delay":5},"timeout":"30s"}]""";
        await AddRuleAsync(server, $$"""{"name": "all", "from": "telemetry", "where": "temperature > 80", "actions": {{Actions}}}""");

        var first = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/all");
        Assert.Equal(Actions, JsonSerializer.Serialize(first.GetProperty("actions")));
        using var again = await server.Client.PutAsync("/api/v1/rules/all", Json(first.GetRawText()));
        Assert.True(again.IsSuccessStatusCode, await again.Content.ReadAsStringAsync());
        var second = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/all");
        Assert.Equal(Actions, JsonSerializer.Serialize(second.GetProperty("actions")));
    }

    /// <summary>The measurement's rows; 0 while it does not exist yet.</summary>
    private static async Task<long> CountAsync(PlexusTestServer server, string measurement)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = $"SELECT count(*) FROM {measurement}" });
        return response.IsSuccessStatusCode ? JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("rows")[0][0].GetInt64() : 0;
    }

    private static string Join(List<JsonElement> row) => string.Join(",", row.Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetRawText()));
}
