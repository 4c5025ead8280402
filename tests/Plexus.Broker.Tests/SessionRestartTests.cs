using System.Text;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Plexus.Api.Auth;
using Plexus.Broker.Sessions;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>
/// Persistent sessions survive a restart of the server (docs/mqtt.md, persistent sessions): the owner, the expiry,
/// the subscriptions with their options and the queued QoS 1/2 messages are saved in the data folder and restored
/// before the broker accepts clients.
/// </summary>
public sealed class SessionRestartTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Subscriptions_and_queued_messages_survive_a_graceful_restart(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory("plexus-sessions");
        string clientId = "restart-" + Guid.NewGuid().ToString("N")[..8];
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            var (first, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, version, clientId, expirySeconds: 3600);
            bool v5 = version == MqttProtocolVersion.V500;
            var subscribe = new MqttClientFactory().CreateSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic("inbox/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.ExactlyOnce).WithRetainAsPublished(v5));
            if (v5)
            {
                subscribe.WithSubscriptionIdentifier(7);
            }

            await first.SubscribeAsync(subscribe.Build());
            await first.DisconnectAsync();
            first.Dispose();
            await Eventually.TrueAsync(async () => !await server.Server.Broker!.IsConnectedAsync(clientId), because: "the broker has seen the client leave");

            using var publisher = await MqttTestClients.ConnectAsync(server);
            await publisher.PublishAsync("inbox/a", "q1");
            await publisher.PublishAsync("inbox/b", "q2", MqttQualityOfServiceLevel.ExactlyOnce, retain: true);
            await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("inbox/c").WithPayload("q3")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithContentType("text/plain").WithUserProperty("k", "v"u8.ToArray().AsMemory()).Build());
            await publisher.PublishAsync("inbox/zero", "qos 0 is not kept", MqttQualityOfServiceLevel.AtMostOnce);
        }

        Assert.True(File.Exists(Path.Combine(folder.Path, MqttSessionFile.FileName)));
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            var (second, received, connack) = await PersistentSessionTests.ConnectPersistentAsync(server, version, clientId, expirySeconds: 3600);
            using (second)
            {
                Assert.True(connack.IsSessionPresent);
                await Eventually.TrueAsync(() => MqttTestClients.Count(received) >= 3, because: "the three QoS 1/2 messages queued before the restart");
                lock (received)
                {
                    Assert.Equal(["q1", "q2", "q3"], received.Select(MqttTestClients.Text));
                    if (version == MqttProtocolVersion.V500)
                    {
                        Assert.All(received, m => Assert.Equal([7u], m.SubscriptionIdentifiers));
                        Assert.Equal(MqttQualityOfServiceLevel.ExactlyOnce, received[1].QualityOfServiceLevel);
                        Assert.True(received[1].Retain, "retain-as-published survived the restart");
                        Assert.Equal("text/plain", received[2].ContentType);
                        Assert.Equal("v", received[2].UserProperties.Single(p => p.Name == "k").ReadValueAsString());
                    }
                }

                // The restored subscription routes new messages without a new SUBSCRIBE.
                using var publisher = await MqttTestClients.ConnectAsync(server);
                await publisher.PublishAsync("inbox/live", "live");
                await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 4);
                Assert.Equal("live", MqttTestClients.Text(received[3]));
            }
        }
    }

    [Fact]
    public async Task A_session_that_expired_while_the_server_was_down_is_not_resumed()
    {
        using var folder = new TempDirectory("plexus-sessions");
        const string ClientId = "expires-while-down";
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            var (first, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, ClientId, expirySeconds: 600);
            await first.SubscribeAsync("inbox/#", MqttQualityOfServiceLevel.AtLeastOnce);
            await first.DisconnectAsync();
            first.Dispose();
            await Eventually.TrueAsync(async () => !await server.Server.Broker!.IsConnectedAsync(ClientId), because: "the broker has seen the client leave");
            using var publisher = await MqttTestClients.ConnectAsync(server);
            await publisher.PublishAsync("inbox/a", "would have been queued");
        }

        // The server comes back 11 minutes later: the 10-minute session ended while it was down.
        var later = new FakeTimeProvider(TimeProvider.System.GetUtcNow() + TimeSpan.FromMinutes(11));
        await using (var server = await PlexusTestServer.StartAsync(folder.Path, time: later))
        {
            var (second, received, connack) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, ClientId, expirySeconds: 600);
            using (second)
            {
                Assert.False(connack.IsSessionPresent);
                using var publisher = await MqttTestClients.ConnectAsync(server);
                await second.SubscribeAsync("marker", MqttQualityOfServiceLevel.AtLeastOnce);
                await publisher.PublishAsync("marker", "marker");
                await publisher.PublishAsync("inbox/b", "the old subscription is gone");
                await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
                Assert.Equal(["marker"], received.Select(MqttTestClients.Text));
            }

            Assert.Contains(server.Logs.Entries, e => e.Message.Contains("(1 had expired)", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Another_principal_cannot_resume_a_restored_session()
    {
        using var folder = new TempDirectory("plexus-sessions");
        const string ClientId = "dash";
        string readToken, deviceToken;
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            readToken = server.Server.ApiTokens.Create("dashboard", ApiScope.Read).Token;
            deviceToken = server.Server.Devices.Add(new NewDevice("d1")).Token;
            var (dashboard, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, ClientId, 3600, b => b.WithCredentials("dashboard", readToken));
            await dashboard.SubscribeAsync("alerts/#", MqttQualityOfServiceLevel.AtLeastOnce);
            await dashboard.DisconnectAsync();
            dashboard.Dispose();
            await Eventually.TrueAsync(async () => !await server.Server.Broker!.IsConnectedAsync(ClientId), because: "the broker has seen the dashboard leave");
            using var publisher = await MqttTestClients.ConnectAsync(server);
            await publisher.PublishAsync("alerts/1", "for the dashboard only");
        }

        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            // The device's credentials are valid, but the client id's restored session is the dashboard's.
            var device = new MqttClientFactory().CreateMqttClient();
            var refused = await device.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
                .WithClientId(ClientId).WithCredentials("d1", deviceToken).WithCleanStart(false).WithSessionExpiryInterval(3600)
                .WithTimeout(TimeSpan.FromSeconds(10)).Build());
            device.Dispose();
            Assert.Equal(MqttClientConnectResultCode.NotAuthorized, refused.ResultCode);

            var (back, received, connack) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, ClientId, 3600, b => b.WithCredentials("dashboard", readToken));
            using (back)
            {
                Assert.True(connack.IsSessionPresent);
                await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
                Assert.Equal("for the dashboard only", MqttTestClients.Text(received[0]));
            }
        }
    }

    [Fact]
    public async Task A_damaged_session_file_tail_is_skipped_with_one_warning_and_the_server_starts()
    {
        using var folder = new TempDirectory("plexus-sessions");
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            foreach (string clientId in new[] { "kept", "damaged" })
            {
                var (client, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V311, clientId, 0);
                await client.SubscribeAsync("inbox/" + clientId, MqttQualityOfServiceLevel.AtLeastOnce);
                await client.DisconnectAsync();
                client.Dispose();
            }
        }

        // The sessions are saved in the order MQTTnet holds them; the last record loses its last byte.
        string path = Path.Combine(folder.Path, MqttSessionFile.FileName);
        var sessions = new MqttSessionFile(folder.Path, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).Read();
        Assert.Equal(2, sessions.Count);
        string survivor = sessions[0].ClientId;
        byte[] bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^1]);

        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            Assert.Single(server.Logs.Entries, e => e.Message.Contains("is damaged at byte", StringComparison.Ordinal));
            var (kept, _, keptConnack) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V311, survivor, 0);
            kept.Dispose();
            var (lost, _, lostConnack) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V311, survivor == "kept" ? "damaged" : "kept", 0);
            lost.Dispose();
            Assert.True(keptConnack.IsSessionPresent);
            Assert.False(lostConnack.IsSessionPresent);
        }
    }

    [Theory]
    [InlineData("mqttv311")]
    [InlineData("mqttv5")]
    public async Task Mosquitto_sub_gets_what_was_queued_before_a_restart(string protocol)
    {
        using var folder = new TempDirectory("plexus-sessions");
        string clientId = "mosq-restart-" + Guid.NewGuid().ToString("N")[..8];
        string[] Common(PlexusTestServer server) => ["-h", "127.0.0.1", "-p", server.MqttEndpoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-u", "app", "-P", PlexusTestServer.AdminToken, "-V", protocol, "-c", "-i", clientId, "-q", "1", "-t", "away/#", .. protocol == "mqttv5" ? new[] { "-x", "3600" } : []];
        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            // -E: subscribe, then leave (the session stays).
            await RunAsync("mosquitto_sub", [.. Common(server), "-E"]);
            await Eventually.TrueAsync(async () => !await server.Server.Broker!.IsConnectedAsync(clientId), because: "the broker has seen mosquitto_sub leave");
            using var publisher = await MqttTestClients.ConnectAsync(server);
            await publisher.PublishAsync("away/1", "one");
            await publisher.PublishAsync("away/2", "two");
        }

        await using (var server = await PlexusTestServer.StartAsync(folder.Path))
        {
            string output = await RunAsync("mosquitto_sub", [.. Common(server), "-C", "3", "-W", "20", "-v"], server);
            Assert.Equal(["away/1 one", "away/2 two", "away/3 three"], output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    /// <summary>Runs a mosquitto client; with <paramref name="publishOnceSubscribed"/>, publishes away/3 once it is connected.</summary>
    private static async Task<string> RunAsync(string program, string[] arguments, PlexusTestServer? publishOnceSubscribed = null)
    {
        var run = ChildProcess.RunAsync(program, arguments, timeout: TimeSpan.FromSeconds(30));
        if (publishOnceSubscribed is { } server)
        {
            string clientId = arguments[Array.IndexOf(arguments, "-i") + 1];
            await Eventually.TrueAsync(async () => await server.Server.Broker!.IsConnectedAsync(clientId), because: "mosquitto_sub connected");
            using var publisher = await MqttTestClients.ConnectAsync(server);
            await publisher.PublishAsync("away/3", "three");
        }

        var (exitCode, output, errors) = await run;
        Assert.True(exitCode == 0, $"{program} exited with {exitCode}: {errors}");
        return output;
    }
}
