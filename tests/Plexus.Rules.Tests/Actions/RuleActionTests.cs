using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using Plexus.TestKit;
using static Plexus.Rules.Tests.Engine.RuleTestSupport;

namespace Plexus.Rules.Tests.Actions;

public sealed class RuleActionTests
{
    [Fact]
    public async Task Opened_and_cleared_alarms_reach_a_webhook_and_an_MQTT_subscriber_on_the_templated_topic()
    {
        await using var receiver = new WebhookReceiver();
        await using var server = await PlexusTestServer.StartAsync();
        using (var seed = await server.WriteAsync("telemetry,device=f1 temperature=0 1"))
        {
            Assert.True(seed.IsSuccessStatusCode);
        }

        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("alarms/#");
        await AddRuleAsync(server, $$"""
            {"name": "hot", "from": "telemetry", "where": "temperature > 80", "severity": "major",
             "actions": [{"type": "webhook", "url": "{{receiver.Url}}"}, {"type": "mqtt", "topic": "alarms/{rule}/{device}"},
                         {"type": "mqtt", "topic": "ops/{severity}", "payload": "{rule} {status} on {device}"}]}
            """);
        using var ops = await MqttTestClients.ConnectAsync(server);
        var opsReceived = await ops.SubscribeCollectingAsync("ops/#");

        await WriteAsync(server, Line("f1", 85, 0), 1);
        await Eventually.TrueAsync(() => receiver.Calls.Count == 1 && MqttTestClients.Count(received) == 1 && MqttTestClients.Count(opsReceived) == 1);
        var call = receiver.Calls.Single();
        Assert.Equal("opened", call.GetProperty("transition").GetString());
        Assert.Equal("hot", call.GetProperty("rule").GetString());
        Assert.Equal("f1", call.GetProperty("device").GetString());
        Assert.Equal(85, call.GetProperty("alarm").GetProperty("raised_value").GetProperty("temperature").GetDouble());
        MqttApplicationMessage message;
        lock (received)
        {
            message = received.Single();
        }

        Assert.Equal("alarms/hot/f1", message.Topic);
        Assert.Equal("active", JsonDocument.Parse(MqttTestClients.Text(message)).RootElement.GetProperty("alarm").GetProperty("status").GetString());
        lock (opsReceived)
        {
            Assert.Equal("ops/major", opsReceived.Single().Topic);
            Assert.Equal("hot active on f1", MqttTestClients.Text(opsReceived.Single()));
        }

        await WriteAsync(server, Line("f1", 70, 1), 2);
        await Eventually.TrueAsync(() => receiver.Calls.Count == 2 && MqttTestClients.Count(received) == 2);
        Assert.Equal("cleared", receiver.Calls.Last().GetProperty("transition").GetString());
        var stats = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats");
        Assert.Equal(6, stats.GetProperty("actions_delivered").GetInt64());
        Assert.Equal(0, stats.GetProperty("actions_dead_lettered").GetInt64());
    }

    [Fact]
    public async Task Failed_webhook_is_retried_with_backoff_on_the_injected_clock_and_delivered()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var receiver = new WebhookReceiver { Answer = n => n < 2 ? 503 : 204 };
        await using var server = await PlexusTestServer.StartAsync(time: time);
        using (var seed = await server.WriteAsync("telemetry,device=f1 temperature=0 1"))
        {
            Assert.True(seed.IsSuccessStatusCode);
        }

        await AddRuleAsync(server, $$"""{"name": "hot", "from": "telemetry", "where": "temperature > 80", "actions": [{"type": "webhook", "url": "{{receiver.Url}}"}]}""");
        await WriteAsync(server, Line("f1", 85, 0), 1);
        await Eventually.TrueAsync(() => receiver.Calls.Count == 1);

        // The retry waits for the clock: 1 s after the first failure, 2 s after the second.
        time.Advance(TimeSpan.FromMilliseconds(900));
        Assert.Single(receiver.Calls);
        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromMilliseconds(100)); return receiver.Calls.Count == 2; });
        await Eventually.TrueAsync(() => { time.Advance(TimeSpan.FromMilliseconds(500)); return receiver.Calls.Count == 3; });
        await Eventually.TrueAsync(async () => (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats")).GetProperty("actions_delivered").GetInt64() == 1);
        Assert.Empty(await server.RowsAsync("SELECT * FROM rule_dead_letters"));
    }

    [Fact]
    public async Task Webhook_that_never_answers_becomes_a_dead_letter_after_its_timeout_and_retries_and_writers_are_not_slowed()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var receiver = new WebhookReceiver { Answer = _ => null };
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { WebhookRetries = 1 }, time: time);
        using (var seed = await server.WriteAsync("telemetry,device=f1 temperature=0 1"))
        {
            Assert.True(seed.IsSuccessStatusCode);
        }

        await AddRuleAsync(server, $$"""{"name": "hot", "from": "telemetry", "where": "temperature > 80", "actions": [{"type": "webhook", "url": "{{receiver.Url}}", "timeout": "2s"}]}""");

        // Writers go on while the webhook hangs: the action runs off the ingest path.
        await WriteAsync(server, Line("f1", 85, 0), 1);
        await Eventually.TrueAsync(() => receiver.Calls.Count == 1);
        await WriteAsync(server, $"{Line("f2", 85, 0)}\n{Line("f3", 85, 0)}", 3);
        await Eventually.TrueAsync(() => receiver.Calls.Count == 3);

        // Each call times out after 2 s, is retried 1 s later and times out again: then it is a dead letter.
        await Eventually.TrueAsync(async () =>
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            return (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/rules/stats")).GetProperty("actions_dead_lettered").GetInt64() == 3;
        });
        var rows = await server.RowsAsync("SELECT rule, action, target, attempts, error, body->>'device' FROM rule_dead_letters ORDER BY body->>'device'");
        Assert.Equal(3, rows.Count);
        Assert.Equal("hot", rows[0][0].GetString());
        Assert.Equal("webhook", rows[0][1].GetString());
        Assert.Equal(receiver.Url, rows[0][2].GetString());
        Assert.Equal(2, rows[0][3].GetInt32());
        Assert.Contains("no answer within 2s", rows[0][4].GetString(), StringComparison.Ordinal);
        Assert.Equal("f1", rows[0][5].GetString());
        Assert.Equal(6, receiver.Calls.Count);
    }
}
