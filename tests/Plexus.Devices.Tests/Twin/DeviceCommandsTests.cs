using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;
using static Plexus.Devices.Tests.Twin.TwinTestSupport;

namespace Plexus.Devices.Tests.Twin;

/// <summary>
/// Commands (docs/devices.md#desired-properties-and-commands) end to end: POST over HTTP, the command a real MQTT
/// client receives (MQTT 5 response topic and correlation data; the 3.1.1 envelope), its answer, its timeout on a
/// fake clock, the ACL on answers, and the history in SQL across a restart.
/// </summary>
public sealed class DeviceCommandsTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_command_reaches_the_subscribed_device_and_its_answer_is_recorded(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token, version);
        AnswerEveryCommand(device, version, """{"status": "succeeded", "uptime": 12}""");
        await device.SubscribeCollectingAsync("devices/d1/commands/#");

        var command = await SendCommandAsync(server, "d1", """{"name": "reboot", "payload": {"delay": 5}, "timeout": "30s"}""", wait: true);

        Assert.Equal("succeeded", command.GetProperty("status").GetString());
        Assert.Equal(12, command.GetProperty("response").GetProperty("uptime").GetInt32());
        Assert.Equal(JsonValueKind.String, command.GetProperty("delivered_at").ValueKind);
        Assert.Equal(JsonValueKind.String, command.GetProperty("completed_at").ValueKind);
        string id = command.GetProperty("id").GetString()!;
        var rows = await server.RowsAsync($"SELECT device, name, payload, status, response FROM device_commands WHERE id = '{id}'");
        Assert.Equal("d1,reboot,{\"delay\": 5},succeeded,{\"status\": \"succeeded\", \"uptime\": 12}", string.Join(",", rows[0].Select(v => v.ToString())));
    }

    [Fact]
    public async Task A_device_answering_failed_fails_the_command_with_its_answer()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token);
        AnswerEveryCommand(device, MqttProtocolVersion.V500, """{"status": "failed", "reason": "busy"}""");
        await device.SubscribeCollectingAsync("devices/d1/commands/+");

        var command = await SendCommandAsync(server, "d1", """{"name": "calibrate"}""", wait: true);

        Assert.Equal("failed", command.GetProperty("status").GetString());
        Assert.Equal("busy", command.GetProperty("response").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task An_unanswered_command_times_out_at_its_timeout_on_the_servers_clock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        await using var server = await PlexusTestServer.StartAsync(time: clock);
        string token = await RegisterAsync(server, "d1");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token);
        var received = await device.SubscribeCollectingAsync("devices/d1/commands/#");

        var command = await SendCommandAsync(server, "d1", """{"name": "reboot", "timeout": 10}""");
        string id = command.GetProperty("id").GetString()!;
        Assert.Equal("delivered", command.GetProperty("status").GetString());
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("delivered", (await GetCommandAsync(server, "d1", id)).GetProperty("status").GetString());
        clock.Advance(TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(async () => (await GetCommandAsync(server, "d1", id)).GetProperty("status").GetString() == "timed_out");

        var timedOut = await GetCommandAsync(server, "d1", id);
        Assert.Equal("2026-01-02T03:04:15+00:00", timedOut.GetProperty("completed_at").GetString());
        Assert.Contains("no answer within 10s", timedOut.GetProperty("error").GetString(), StringComparison.Ordinal);

        // A late answer changes nothing.
        await DeviceTestClients.PublishAsync(device, $"devices/d1/responses/{id}", """{"status": "succeeded"}""");
        Assert.Equal("timed_out", (await GetCommandAsync(server, "d1", id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_device_cannot_answer_another_devices_command_and_an_application_cannot_answer_for_a_device()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token1 = await RegisterAsync(server, "d1");
        string token2 = await RegisterAsync(server, "d2");
        using var target = await DeviceTestClients.ConnectAsync(server, "d1", token1);
        await target.SubscribeCollectingAsync("devices/d1/commands/#");
        var command = await SendCommandAsync(server, "d1", """{"name": "unlock"}""");
        string id = command.GetProperty("id").GetString()!;

        using var other = await DeviceTestClients.ConnectAsync(server, "d2", token2);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await other.SubscribeResultAsync("devices/d1/commands/#"));
        var foreign = await DeviceTestClients.PublishAsync(other, $"devices/d1/responses/{id}", """{"status": "succeeded"}""");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, foreign.ReasonCode);
        await DeviceTestClients.PublishAsync(other, $"devices/d2/responses/{id}", """{"status": "succeeded"}""");
        using var application = await MqttTestClients.ConnectAsync(server);
        var forged = await application.PublishAsync($"devices/d1/responses/{id}", """{"status": "succeeded"}""");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        var sent = await application.PublishAsync("devices/d1/commands/unlock", """{"id": "forged"}""");
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, sent.ReasonCode);

        Assert.Equal("delivered", (await GetCommandAsync(server, "d1", id)).GetProperty("status").GetString());
        await DeviceTestClients.PublishAsync(target, $"devices/d1/responses/{id}", """{"status": "succeeded"}""");
        Assert.Equal("succeeded", (await GetCommandAsync(server, "d1", id)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_command_no_session_of_the_device_subscribes_to_fails_at_once()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await RegisterAsync(server, "d1");

        var command = await SendCommandAsync(server, "d1", """{"name": "reboot"}""");

        Assert.Equal("failed", command.GetProperty("status").GetString());
        Assert.Contains("not delivered", command.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_command_to_an_offline_device_with_a_persistent_session_waits_there_until_it_reconnects()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        using (var first = await DeviceTestClients.ConnectAsync(server, "d1", token, MqttProtocolVersion.V500, clientId: "d1-session", cleanSession: false))
        {
            await first.SubscribeCollectingAsync("devices/d1/commands/#");
            await first.DisconnectAsync();
        }

        var command = await SendCommandAsync(server, "d1", """{"name": "reboot", "timeout": 60}""");
        Assert.Equal("delivered", command.GetProperty("status").GetString());

        using var second = await DeviceTestClients.ConnectAsync(server, "d1", token, MqttProtocolVersion.V500, clientId: "d1-session", cleanSession: false);
        AnswerEveryCommand(second, MqttProtocolVersion.V500, """{"status": "succeeded"}""");
        string id = command.GetProperty("id").GetString()!;
        await Eventually.TrueAsync(async () => (await GetCommandAsync(server, "d1", id)).GetProperty("status").GetString() == "succeeded");
    }

    [Theory]
    [InlineData("""{"name": "a/b"}""", "name")]
    [InlineData("""{"payload": 1}""", "name")]
    [InlineData("""{"name": "x", "timeout": "2h"}""", "timeout")]
    [InlineData("""{"name": "x", "timeout": "soon"}""", "timeout")]
    [InlineData("""{"name": "x", "color": "red"}""", "color")]
    public async Task A_refused_command_is_a_400_naming_the_field(string body, string field)
    {
        await using var server = await PlexusTestServer.StartAsync();
        await RegisterAsync(server, "d1");
        using var response = await server.Client.PostAsync("/api/v1/devices/d1/commands", new StringContent(body, Encoding.UTF8, "application/json"));
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(field, error.GetProperty("field").GetString());
    }

    [Fact]
    public async Task A_restart_keeps_the_command_history_and_times_out_commands_left_waiting()
    {
        using var data = new TempDirectory("plexus-commands");
        string answered, waiting;
        await using (var first = await PlexusTestServer.StartAsync(data.Path))
        {
            string token = await RegisterAsync(first, "d1");
            using var device = await DeviceTestClients.ConnectAsync(first, "d1", token);
            await device.SubscribeCollectingAsync("devices/d1/commands/#");
            answered = (await SendCommandAsync(first, "d1", """{"name": "ping"}""")).GetProperty("id").GetString()!;
            await DeviceTestClients.PublishAsync(device, $"devices/d1/responses/{answered}", "pong");
            waiting = (await SendCommandAsync(first, "d1", """{"name": "slow", "timeout": 1}""")).GetProperty("id").GetString()!;
            Assert.Equal("succeeded", (await GetCommandAsync(first, "d1", answered)).GetProperty("status").GetString());
        }

        await using var second = await PlexusTestServer.StartAsync(data.Path);
        var kept = await GetCommandAsync(second, "d1", answered);
        Assert.Equal("succeeded", kept.GetProperty("status").GetString());
        Assert.Equal("pong", kept.GetProperty("response").GetString());
        await Eventually.TrueAsync(async () => (await GetCommandAsync(second, "d1", waiting)).GetProperty("status").GetString() == "timed_out");
        var rows = await second.RowsAsync("SELECT name, status FROM device_commands ORDER BY sent_at");
        Assert.Equal("ping,succeeded slow,timed_out", string.Join(" ", rows.Select(r => r[0].GetString() + "," + r[1].GetString())));
    }

    /// <summary>
    /// Answers each command as a device would: MQTT 5 on the response topic property with the correlation data
    /// (which must be the command id), MQTT 3.1.1 on the envelope's response_topic.
    /// </summary>
    private static void AnswerEveryCommand(IMqttClient device, MqttProtocolVersion version, string answer) =>
        device.ApplicationMessageReceivedAsync += e =>
        {
            var message = e.ApplicationMessage;
            var envelope = JsonDocument.Parse(MqttTestClients.Text(message)).RootElement;
            string responseTopic = envelope.GetProperty("response_topic").GetString()!;
            if (version == MqttProtocolVersion.V500)
            {
                Assert.Equal(responseTopic, message.ResponseTopic);
                Assert.Equal(envelope.GetProperty("id").GetString(), Encoding.UTF8.GetString(message.CorrelationData));
            }

            var reply = new MqttApplicationMessageBuilder().WithTopic(version == MqttProtocolVersion.V500 ? message.ResponseTopic : responseTopic)
                .WithPayload(answer).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
            if (version == MqttProtocolVersion.V500)
            {
                reply.WithCorrelationData(message.CorrelationData);
            }

            // Not awaited here: the PUBACK is read by the receive loop that is running this handler.
            _ = Task.Run(() => device.PublishAsync(reply.Build()));
            return Task.CompletedTask;
        };
}
