using System.Diagnostics;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>The broker as a broker: authentication, publish/subscribe, retained, wills (shared subscriptions: SharedSubscriptionTests).</summary>
public sealed class BrokerProtocolTests
{
    [Theory]
    [InlineData("wrong-token", MqttClientConnectResultCode.BadUserNameOrPassword)]
    [InlineData(null, MqttClientConnectResultCode.NotAuthorized)]
    public async Task Mqtt5_connect_without_a_valid_token_is_refused_with_its_reason(string? password, MqttClientConnectResultCode expected)
    {
        await using var server = await PlexusTestServer.StartAsync();
        var endpoint = server.MqttEndpoint!;
        var options = new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", endpoint.Port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId("intruder");
        if (password is not null)
        {
            options.WithCredentials("app", password);
        }

        using var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(options.Build());

        Assert.Equal(expected, result.ResultCode);
        Assert.False(client.IsConnected);
    }

    [Theory]
    [InlineData("wrong-token", 4)]
    [InlineData(null, 5)]
    [InlineData(PlexusTestServer.AdminToken, 0)]
    public async Task Mqtt311_connect_gets_the_right_return_code_on_the_wire(string? password, byte expected)
    {
        await using var server = await PlexusTestServer.StartAsync();

        var (socket, code) = await MqttTestClients.RawConnect311Async(server, "raw-client", password);
        socket.Dispose();

        Assert.Equal(expected, code);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Clients_publish_and_subscribe_on_any_topic_with_wildcards(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var subscriber = await MqttTestClients.ConnectAsync(server, version);
        using var publisher = await MqttTestClients.ConnectAsync(server, version);
        var received = await subscriber.SubscribeCollectingAsync("home/+/temp", MqttQualityOfServiceLevel.ExactlyOnce);
        await subscriber.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter("devices/#").Build());

        await publisher.PublishAsync("home/kitchen/temp", "21", MqttQualityOfServiceLevel.ExactlyOnce);
        await publisher.PublishAsync("home/kitchen/humidity", "40");
        await publisher.PublishAsync("devices/d1/telemetry", """{"v": 1}""");
        await publisher.PublishAsync("devices/d1/telemetry", "not json");

        // Device topics are forwarded like any other, stored or not.
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 3, because: "three matching messages");
        lock (received)
        {
            Assert.Equal(["home/kitchen/temp", "devices/d1/telemetry", "devices/d1/telemetry"], received.Select(m => m.Topic));
            Assert.Equal(["21", """{"v": 1}""", "not json"], received.Select(MqttTestClients.Text));
        }
    }

    /// <summary>
    /// MQTT 3.1.1 and 5 section 3.10.4: once the server has sent UNSUBACK it stops adding new messages for the
    /// client on that filter, so a message another client publishes after the UNSUBACK must not arrive. The message on
    /// the filter still held, published after it, shows when delivery is done; repeated because a race shows only sometimes.
    /// </summary>
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_message_published_after_the_unsuback_never_reaches_the_unsubscribed_filter(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var subscriber = await MqttTestClients.ConnectAsync(server, version);
        using var publisher = await MqttTestClients.ConnectAsync(server, version);
        var received = await subscriber.SubscribeCollectingAsync("warm-up");

        for (int round = 0; round < 100; round++)
        {
            string gone = $"unsubscribe/{round}/gone", kept = $"unsubscribe/{round}/kept";
            await subscriber.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
                .WithTopicFilter(gone, MqttQualityOfServiceLevel.AtLeastOnce).WithTopicFilter(kept, MqttQualityOfServiceLevel.AtLeastOnce).Build());
            await subscriber.UnsubscribeAsync(new MqttClientFactory().CreateUnsubscribeOptionsBuilder().WithTopicFilter(gone).Build());

            await publisher.PublishAsync(gone, "after the unsuback");
            await publisher.PublishAsync(kept, "marker");

            await Eventually.TrueAsync(() => { lock (received) { return received.Any(m => m.Topic == kept); } }, because: $"the marker of round {round}");
        }

        lock (received)
        {
            Assert.DoesNotContain(received, m => m.Topic.EndsWith("/gone", StringComparison.Ordinal));
            Assert.Equal(100, received.Count);
        }
    }

    [Fact]
    public async Task Retained_message_reaches_a_later_subscriber_and_survives_a_restart()
    {
        using var folder = new TempDirectory();
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            using var publisher = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311);
            await publisher.PublishAsync("site/gate", "open", retain: true);
            await publisher.PublishAsync("site/lamp", "on", retain: true);
            await publisher.PublishAsync("site/lamp", "", retain: true); // an empty retained payload clears the topic

            using var late = await MqttTestClients.ConnectAsync(server);
            var received = await late.SubscribeCollectingAsync("site/#");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
        }

        await using (var restarted = await PlexusTestServer.StartAsync(folder.Path))
        {
            using var subscriber = await MqttTestClients.ConnectAsync(restarted);
            var received = await subscriber.SubscribeCollectingAsync("site/#");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) >= 1, because: "the retained message was kept across the restart");
            var message = Assert.Single(received);
            Assert.Equal("site/gate", message.Topic);
            Assert.Equal("open", MqttTestClients.Text(message));
            Assert.True(message.Retain);
        }
    }

    [Fact]
    public async Task Will_is_published_when_a_client_drops_without_disconnecting()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var watcher = await MqttTestClients.ConnectAsync(server);
        var received = await watcher.SubscribeCollectingAsync("status/+");

        var (socket, code) = await MqttTestClients.RawConnect311Async(server, "gateway-1", PlexusTestServer.AdminToken, ("status/gateway-1", "offline"));
        Assert.Equal(0, code);
        socket.Client.Close(); // no DISCONNECT packet: an abrupt drop
        socket.Dispose();

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1, because: "the will was published");
        Assert.Equal("offline", MqttTestClients.Text(received[0]));
    }

    [Fact]
    public async Task Mosquitto_clients_publish_telemetry_and_receive_it()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var endpoint = server.MqttEndpoint!;
        string[] common = ["-h", "127.0.0.1", "-p", endpoint.Port.ToString(), "-u", "app", "-P", PlexusTestServer.AdminToken];

        using var subscriber = MqttTestClients.StartMosquitto("mosquitto_sub", [.. common, "-V", "mqttv5", "-t", "devices/+/telemetry", "-C", "1", "-v", "-W", "30"]);
        using var watcher = await MqttTestClients.ConnectAsync(server);
        var seen = await watcher.SubscribeCollectingAsync("devices/+/telemetry");

        // mosquitto_sub subscribes in the background; publish until its copy has certainly been sent.
        await Eventually.TrueAsync(async () =>
        {
            using var publisher = MqttTestClients.StartMosquitto("mosquitto_pub", [.. common, "-V", "mqttv311", "-q", "1", "-t", "devices/sensor-9/telemetry", "-m", """{"temp": 19.5, "ts": 1700000000000}"""]);
            await publisher.WaitForExitAsync();
            Assert.True(publisher.ExitCode == 0, $"mosquitto_pub exited with {publisher.ExitCode}: {await publisher.StandardError.ReadToEndAsync()}");
            return subscriber.HasExited;
        }, TimeSpan.FromSeconds(30), "mosquitto_sub received a message");

        string output = await subscriber.StandardOutput.ReadToEndAsync();
        Assert.StartsWith("devices/sensor-9/telemetry {\"temp\": 19.5", output, StringComparison.Ordinal);
        await Eventually.TrueAsync(() => MqttTestClients.Count(seen) > 0, because: "the MQTTnet subscriber got it too");
        var rows = await server.RowsAsync("SELECT device, temp FROM telemetry");
        Assert.Equal("sensor-9", rows[0][0].GetString());
        Assert.Equal(19.5, rows[0][1].GetDouble());

        using var refused = MqttTestClients.StartMosquitto("mosquitto_pub", ["-h", "127.0.0.1", "-p", endpoint.Port.ToString(), "-u", "app", "-P", "wrong", "-t", "x", "-m", "y"]);
        await refused.WaitForExitAsync();
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("bad user name or password", (await refused.StandardError.ReadToEndAsync()).ToLowerInvariant(), StringComparison.Ordinal);
    }
}
