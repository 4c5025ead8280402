using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;
using static Plexus.Server.Tests.ServerProcess;

namespace Plexus.Server.Tests;

/// <summary>
/// The MQTT durability contract end to end (docs/mqtt.md, "Durability and acknowledgements"): many devices publish
/// QoS 1 telemetry concurrently to a real `plexus serve` process, which is killed with SIGKILL mid-stream. After a
/// restart on the same data folder, every PUBACKed message is stored exactly once; unacknowledged ones may or may
/// not be there, never twice. Then each device resends what was in flight, as a QoS 1 client does after
/// reconnecting, and every message it ever sent is stored exactly once.
/// </summary>
public sealed class MqttCrashTests
{
    private const string Token = "mqtt-crash-test-token";
    private const int Devices = 20;
    private const long BaseTimeMs = 1_700_000_000_000;

    [Fact]
    public async Task Killed_server_keeps_every_acknowledged_mqtt_message_exactly_once()
    {
        using var dir = new TempDirectory("plexus-mqtt-crash");
        var acknowledged = new ConcurrentBag<(string Device, int Seq)>();
        var inFlight = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var sent = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        Dictionary<string, string> tokens;

        var (http, mqtt) = (FreePort(), FreePort());
        using (var first = StartServer(dir.Path, http, mqtt))
        {
            using var client = Client(http);
            await WaitHealthyAsync(client, first);
            tokens = await RegisterDevicesAsync(client);

            var devices = new List<IMqttClient>();
            try
            {
                foreach (var (id, token) in tokens)
                {
                    // Both protocol versions: MQTT 3.1.1 has no failure code in PUBACK, so a PUBACK must mean stored.
                    devices.Add(await ConnectAsync(mqtt, id, token, devices.Count % 2 == 0 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311));
                }

                var publishers = devices.Select((device, index) => Task.Run(async () =>
                {
                    string id = tokens.Keys.ElementAt(index);
                    for (int seq = 0; ; seq++)
                    {
                        inFlight[id] = seq;
                        sent[id] = seq;
                        try
                        {
                            var result = await device.PublishAsync(Message(id, seq));
                            Assert.True(result.IsSuccess, $"{id} message {seq}: PUBACK {result.ReasonCode} {result.ReasonString}");
                            acknowledged.Add((id, seq));
                            inFlight.TryRemove(id, out _);
                        }
                        catch (Exception error) when (error is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
                        {
                            // The server is gone: this message was sent but never acknowledged.
                            return;
                        }
                    }
                })).ToArray();

                await Eventually.TrueAsync(() => acknowledged.Count >= 1500 || publishers.Any(p => p.IsCompleted), TimeSpan.FromSeconds(20), "devices got acknowledgements");
                Assert.DoesNotContain(publishers, p => p.IsFaulted);

                // Publishers only stop when the server is gone: one that stopped before the kill hid a failure.
                Assert.DoesNotContain(publishers, p => p.IsCompleted);
                first.Kill(entireProcessTree: true);
                await first.WaitForExitAsync();
                await Task.WhenAll(publishers).WaitAsync(TimeSpan.FromSeconds(30));
            }
            finally
            {
                foreach (var device in devices)
                {
                    device.Dispose();
                }
            }
        }

        (http, mqtt) = (FreePort(), FreePort());
        using var second = StartServer(dir.Path, http, mqtt);
        try
        {
            using var client = Client(http);
            await WaitHealthyAsync(client, second);

            var stored = await StoredAsync(client);
            Assert.True(acknowledged.Count >= Devices, $"only {acknowledged.Count} messages were acknowledged before the kill");
            foreach (var message in acknowledged)
            {
                Assert.True(stored.TryGetValue(message, out long rows), $"acknowledged message {message} is missing after the crash");
                Assert.Equal(1, rows);
            }

            Assert.All(stored, s => Assert.Equal(1, s.Value));
            Assert.All(stored.Keys, k => Assert.True(k.Seq <= sent[k.Device], $"{k} was stored but never sent"));

            // Recovery as a QoS 1 client does it: reconnect and resend what was not acknowledged.
            foreach (var (id, seq) in inFlight)
            {
                using var device = await ConnectAsync(mqtt, id, tokens[id], MqttProtocolVersion.V500);
                var result = await device.PublishAsync(Message(id, seq));
                Assert.True(result.IsSuccess, $"resend of {id} message {seq}: {result.ReasonCode}");
            }

            stored = await StoredAsync(client);
            Assert.All(stored, s => Assert.Equal(1, s.Value));
            foreach (var (id, last) in sent)
            {
                for (int seq = 0; seq <= last; seq++)
                {
                    Assert.True(stored.ContainsKey((id, seq)), $"{id} message {seq} is missing after the resend");
                }
            }
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }
    }

    /// <summary>
    /// QoS 0 messages are queued for the store without waiting for their commit (docs/mqtt.md), in order: a QoS 1
    /// message published after them on the same connection is acknowledged only once they are all committed too.
    /// </summary>
    [Fact]
    public async Task Qos0_messages_are_stored_in_order_before_a_later_qos1_message_is_acknowledged()
    {
        using var dir = new TempDirectory("plexus-mqtt-qos0");
        var (http, mqtt) = (FreePort(), FreePort());
        using var server = StartServer(dir.Path, http, mqtt);
        try
        {
            using var client = Client(http);
            await WaitHealthyAsync(client, server);
            var (id, token) = (await RegisterDevicesAsync(client)).First();
            using var device = await ConnectAsync(mqtt, id, token, MqttProtocolVersion.V500);

            const int Messages = 3000;
            for (int seq = 0; seq < Messages; seq++)
            {
                await device.PublishAsync(Message(id, seq, MqttQualityOfServiceLevel.AtMostOnce));
            }

            var barrier = await device.PublishAsync(Message(id, Messages));
            Assert.True(barrier.IsSuccess, $"QoS 1 PUBACK {barrier.ReasonCode}");

            // Queried at once: the PUBACK came after the QoS 1 commit, which follows every earlier message's.
            var stored = await StoredAsync(client);
            Assert.Equal(Messages + 1, stored.Count);
            Assert.All(stored, s => Assert.Equal(1, s.Value));
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    private static MqttApplicationMessage Message(string device, int seq, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) => new MqttApplicationMessageBuilder()
        .WithTopic($"devices/{device}/telemetry")
        .WithPayload(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"ts": {{BaseTimeMs + seq}}, "seq": {{seq}}, "temp": {{20 + (seq % 10)}}.5}""")))
        .WithQualityOfServiceLevel(qos)
        .Build();

    /// <summary>Rows per (device, seq): a message stored twice shows as 2 (or as a row whose seq repeats).</summary>
    private static async Task<Dictionary<(string Device, int Seq), long>> StoredAsync(HttpClient client)
    {
        string csv = await QueryCsvAsync(client, "SELECT device, CAST(seq AS INTEGER) AS seq, count(*) AS n FROM telemetry GROUP BY ALL");
        return csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(line => line.Split(','))
            .ToDictionary(f => (f[0], int.Parse(f[1], CultureInfo.InvariantCulture)), f => long.Parse(f[2], CultureInfo.InvariantCulture));
    }

    private static async Task<Dictionary<string, string>> RegisterDevicesAsync(HttpClient client)
    {
        var body = Enumerable.Range(0, Devices).Select(i => new { id = $"crash-{i:D2}" }).ToArray();
        using var response = await client.PostAsJsonAsync("/api/v1/devices/bulk", body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        using var json = JsonDocument.Parse(text);
        return json.RootElement.GetProperty("results").EnumerateArray()
            .Select(r => r.GetProperty("device"))
            .ToDictionary(d => d.GetProperty("id").GetString()!, d => d.GetProperty("token").GetString()!, StringComparer.Ordinal);
    }

    private static async Task<IMqttClient> ConnectAsync(int port, string device, string token, MqttProtocolVersion version)
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithProtocolVersion(version)
            .WithClientId(device)
            .WithCredentials(device, token)
            .WithTimeout(TimeSpan.FromSeconds(10))
            .Build();
        var client = new MqttClientFactory().CreateMqttClient();
        var result = await client.ConnectAsync(options);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        return client;
    }

    private static Process StartServer(string dataDirectory, int httpPort, int mqttPort) =>
        ServerProcess.Start(["--data", dataDirectory, "--http", $"127.0.0.1:{httpPort}", "--mqtt", $"127.0.0.1:{mqttPort}", "--pg", "off", "--admin-token", Token, "--log-level", "warning"]);

    private static HttpClient Client(int port) => ServerProcess.Client(port, Token);
}
