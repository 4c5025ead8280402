using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>Persistent sessions: MQTT 3.1.1 clean session false, MQTT 5 session expiry.</summary>
public sealed class PersistentSessionTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Qos1_and_qos2_messages_queued_while_offline_arrive_on_reconnect(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string clientId = "persistent-" + Guid.NewGuid().ToString("N")[..8];
        var (first, _, firstConnack) = await ConnectPersistentAsync(server, version, clientId, expirySeconds: 300);
        Assert.False(firstConnack.IsSessionPresent);
        await first.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter("inbox/#", MqttQualityOfServiceLevel.ExactlyOnce).Build());
        await first.DisconnectAsync();
        first.Dispose();

        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync("inbox/a", "q1");
        await publisher.PublishAsync("inbox/b", "q2", MqttQualityOfServiceLevel.ExactlyOnce);
        await publisher.PublishAsync("inbox/c", "q3");

        var (second, received, connack) = await ConnectPersistentAsync(server, version, clientId, expirySeconds: 300);
        using (second)
        {
            Assert.True(connack.IsSessionPresent);
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 3, because: "the three messages queued while offline");
            lock (received)
            {
                Assert.Equal(["q1", "q2", "q3"], received.Select(MqttTestClients.Text));
            }

            // The session still holds the subscription: live messages keep coming without a new SUBSCRIBE.
            await publisher.PublishAsync("inbox/d", "live");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 4);
        }
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_sub_with_a_persistent_session_gets_what_was_published_while_it_was_away(string protocol)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string clientId = "mosq-" + Guid.NewGuid().ToString("N")[..8];
        string[] common = ["-h", "127.0.0.1", "-p", server.MqttEndpoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-u", "app", "-P", PlexusTestServer.AdminToken,
            "-V", protocol, "-c", "-i", clientId, "-q", "1", "-t", "away/#"];
        string[] expiry = protocol == "mqttv5" ? ["-x", "300"] : [];

        // -E: subscribe, then leave (the session stays).
        await RunAsync("mosquitto_sub", [.. common, .. expiry, "-E"]);
        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync("away/1", "one");
        await publisher.PublishAsync("away/2", "two");
        string output = await RunAsync("mosquitto_sub", [.. common, .. expiry, "-C", "2", "-W", "20", "-v"]);

        Assert.Equal(["away/1 one", "away/2 two"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static async Task<string> RunAsync(string program, string[] arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"{program} exited with {process.ExitCode}: {await process.StandardError.ReadToEndAsync()}");
        return output;
    }

    [Fact]
    public async Task A_clean_session_reconnect_starts_empty()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string clientId = "clean-" + Guid.NewGuid().ToString("N")[..8];
        var (first, _, _) = await ConnectPersistentAsync(server, MqttProtocolVersion.V311, clientId, expirySeconds: 300);
        await first.SubscribeAsync("inbox/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await first.DisconnectAsync();
        first.Dispose();
        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync("inbox/a", "queued");

        using var clean = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311, clientId, configure: b => b.WithCleanSession(true));
        var received = await clean.SubscribeCollectingAsync("inbox/marker");
        await publisher.PublishAsync("inbox/marker", "marker");

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
        Assert.Equal(["marker"], received.Select(MqttTestClients.Text));
    }

    [Fact]
    public async Task Mqtt5_session_expiry_is_honoured()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string clientId = "expiring-" + Guid.NewGuid().ToString("N")[..8];
        var (first, _, _) = await ConnectPersistentAsync(server, MqttProtocolVersion.V500, clientId, expirySeconds: 1);
        await first.SubscribeAsync("inbox/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await first.DisconnectAsync();
        first.Dispose();
        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync("inbox/a", "would have been queued");

        // The passage of time is what is tested here: the session must be gone once its expiry interval passed.
        await Task.Delay(TimeSpan.FromSeconds(2.5), TimeProvider.System);
        var (second, received, connack) = await ConnectPersistentAsync(server, MqttProtocolVersion.V500, clientId, expirySeconds: 1);
        using (second)
        {
            Assert.False(connack.IsSessionPresent);
            await second.SubscribeAsync("inbox/marker", MqttQualityOfServiceLevel.AtLeastOnce);
            await publisher.PublishAsync("inbox/marker", "marker");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
            Assert.Equal(["marker"], received.Select(MqttTestClients.Text));
        }
    }

    /// <summary>Connects with a persistent session, the receive handler attached before CONNECT (queued messages come at once).</summary>
    internal static async Task<(IMqttClient Client, List<MqttApplicationMessage> Received, MqttClientConnectResult Connack)> ConnectPersistentAsync(
        PlexusTestServer server, MqttProtocolVersion version, string clientId, uint expirySeconds, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithCredentials("app", PlexusTestServer.AdminToken)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (version == MqttProtocolVersion.V500)
        {
            builder.WithCleanStart(false).WithSessionExpiryInterval(expirySeconds);
        }
        else
        {
            builder.WithCleanSession(false);
        }

        configure?.Invoke(builder);
        var client = new MqttClientFactory().CreateMqttClient();
        var received = new List<MqttApplicationMessage>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage);
            }

            return Task.CompletedTask;
        };
        var connack = await client.ConnectAsync(builder.Build());
        return (client, received, connack);
    }
}
