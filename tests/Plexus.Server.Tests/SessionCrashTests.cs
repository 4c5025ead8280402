using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>
/// Persistent MQTT sessions and a SIGKILL (docs/mqtt.md, "Sessions survive a restart"): what the broker saved before
/// the kill (it saves within about a second of a change) is restored when `plexus serve` starts again.
/// </summary>
public sealed class SessionCrashTests
{
    private const string Token = "session-crash-test-token";

    [Fact]
    public async Task A_session_saved_before_a_sigkill_is_resumed_with_its_queued_messages_in_order()
    {
        using var dir = new TempDirectory("plexus-session-crash");
        string file = Path.Combine(dir.Path, "mqtt-sessions.dat");
        const string ClientId = "crash-subscriber";
        var (http, mqtt) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        using (var first = StartServer(dir.Path, http, mqtt))
        {
            try
            {
                using var client = ServerProcess.Client(http, Token);
                await ServerProcess.WaitHealthyAsync(client, first);
                var (subscriber, _, _) = await ConnectAsync(mqtt, ClientId);
                await subscriber.SubscribeAsync("inbox/#", MqttQualityOfServiceLevel.AtLeastOnce);
                await subscriber.DisconnectAsync();
                subscriber.Dispose();

                using var publisher = new MqttClientFactory().CreateMqttClient();
                await publisher.ConnectAsync(Options(mqtt, "crash-publisher").Build());
                foreach (string text in new[] { "q1", "q2", "q3" })
                {
                    await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("inbox/" + text).WithPayload(text)
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                }

                // The documented extent: the snapshot holds the last message within about a second.
                await Eventually.TrueAsync(() => File.Exists(file) && Encoding.UTF8.GetString(File.ReadAllBytes(file)).Contains("inbox/q3", StringComparison.Ordinal),
                    TimeSpan.FromSeconds(30), "the session with its three messages was saved");
            }
            finally
            {
                first.Kill(entireProcessTree: true);
                await first.WaitForExitAsync();
            }
        }

        (http, mqtt) = (ServerProcess.FreePort(), ServerProcess.FreePort());
        using var second = StartServer(dir.Path, http, mqtt);
        try
        {
            using var client = ServerProcess.Client(http, Token);
            await ServerProcess.WaitHealthyAsync(client, second);
            var (resumed, received, connack) = await ConnectAsync(mqtt, ClientId);
            using (resumed)
            {
                Assert.True(connack.IsSessionPresent);
                await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 3, because: "the three messages queued before the kill");
                lock (received)
                {
                    Assert.Equal(["q1", "q2", "q3"], received.Select(MqttTestClients.Text));
                }
            }
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }
    }

    private static async Task<(IMqttClient Client, List<MqttApplicationMessage> Received, MqttClientConnectResult Connack)> ConnectAsync(int port, string clientId)
    {
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
        var connack = await client.ConnectAsync(Options(port, clientId).WithCleanStart(false).WithSessionExpiryInterval(3600).Build());
        return (client, received, connack);
    }

    private static MqttClientOptionsBuilder Options(int port, string clientId) => new MqttClientOptionsBuilder()
        .WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(clientId)
        .WithCredentials("app", Token).WithTimeout(TimeSpan.FromSeconds(10));

    private static System.Diagnostics.Process StartServer(string dataDirectory, int httpPort, int mqttPort) =>
        ServerProcess.Start(["--data", dataDirectory, "--http", $"127.0.0.1:{httpPort}", "--mqtt", $"127.0.0.1:{mqttPort}", "--pg", "off", "--admin-token", Token, "--log-level", "warning"]);
}
