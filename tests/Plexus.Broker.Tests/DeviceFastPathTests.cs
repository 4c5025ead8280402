using System.Buffers.Binary;
using System.Net.Sockets;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Devices;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Broker.Tests;

/// <summary>
/// The device fast path (data PUBLISH packets stored before MQTTnet decodes them) stores and answers exactly like
/// the ordinary path, steps aside whenever MQTTnet has something to do, and keeps the connection's bookkeeping
/// (keep-alive, acknowledgement order) right.
/// </summary>
public sealed class DeviceFastPathTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttProtocolVersion.V311, MqttQualityOfServiceLevel.AtLeastOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtMostOnce)]
    [InlineData(MqttProtocolVersion.V500, MqttQualityOfServiceLevel.AtLeastOnce)]
    public async Task Device_data_takes_the_fast_path_and_every_message_is_stored(MqttProtocolVersion version, MqttQualityOfServiceLevel qos)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token, version);
        const int Messages = 60;

        for (int i = 0; i < Messages; i++)
        {
            string topic = (i % 3) switch { 0 => "devices/d1/telemetry", 1 => "devices/d1/telemetry/engine", _ => "devices/d1/lp" };
            string payload = i % 3 == 2 ? $"engine rpm={i} {(1_000 + i) * 1_000_000L}" : $$"""{"rpm": {{i}}, "ts": {{1_000 + i}}}""";
            var result = await device.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(qos).Build());
            Assert.True(result.IsSuccess, $"message {i}: {result.ReasonCode}");
            if (version == MqttProtocolVersion.V500 && qos == MqttQualityOfServiceLevel.AtLeastOnce)
            {
                // What MQTTnet answers for a stored message nobody subscribes to, on the ordinary path.
                Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, result.ReasonCode);
            }
        }

        const string Count = "SELECT (SELECT count(*) FROM telemetry) + (SELECT count(*) FROM engine)";
        await Eventually.TrueAsync(async () => await CountOrZeroAsync(server, Count) == Messages, because: "every message is stored");
        Assert.Equal(Messages, server.Server.Broker!.FastPathMessages);
        Assert.Equal(
            Enumerable.Range(0, Messages).Select(i => (long)(1_000 + i)),
            (await server.RowsAsync("SELECT epoch_ms(time) FROM telemetry UNION ALL SELECT epoch_ms(time) FROM engine ORDER BY 1")).Select(r => r[0].GetInt64()));
        Assert.Equal(["d1"], (await server.RowsAsync("SELECT DISTINCT device FROM engine")).Select(r => r[0].GetString()));
    }

    [Fact]
    public async Task An_application_that_may_write_publishes_for_many_devices_through_the_fast_path()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var gateway = await ConnectAsync(server, "gateway", PlexusTestServer.AdminToken, MqttProtocolVersion.V311);

        // A gateway interleaving devices, as Telegraf's MQTT output does with a topic per host.
        for (int i = 0; i < 30; i++)
        {
            string device = $"sensor-{i % 5}";
            var result = await gateway.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"devices/{device}/lp").WithPayload($"env temp={i} {(1_000 + i) * 1_000_000L}")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.True(result.IsSuccess, $"message {i}: {result.ReasonCode}");
        }

        Assert.Equal(30, server.Server.Broker!.FastPathMessages);
        Assert.Equal(
            Enumerable.Range(0, 5).Select(d => new object[] { $"sensor-{d}", 6L }),
            (await server.RowsAsync("SELECT device, count(*) FROM env GROUP BY device ORDER BY device")).Select(r => new object[] { r[0].GetString()!, r[1].GetInt64() }));

        // An id the ordinary path has to judge (a control character) is left to it: not stored, not taken here.
        var odd = await gateway.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic("devices/bad\u0001id/lp").WithPayload("env temp=1 1").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(30, server.Server.Broker.FastPathMessages);
        Assert.Equal(30, (await server.RowsAsync("SELECT count(*) FROM env"))[0][0].GetInt64());
        Assert.True(gateway.IsConnected, $"answer to the odd id: {odd.ReasonCode}");
    }

    [Fact]
    public async Task A_subscriber_gets_device_messages_and_the_fast_path_resumes_once_it_unsubscribes()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token);
        using var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken);
        var received = new List<string>();
        app.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage.ConvertPayloadToString());
            }

            return Task.CompletedTask;
        };
        await app.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("devices/+/telemetry", MqttQualityOfServiceLevel.AtLeastOnce).Build());

        for (int i = 0; i < 5; i++)
        {
            Assert.True((await PublishAsync(device, "devices/d1/telemetry", $$"""{"n": {{i}}, "ts": {{i + 1}}}""")).IsSuccess);
        }

        await Eventually.TrueAsync(() => { lock (received) { return received.Count == 5; } }, because: "a subscriber gets every device message");
        Assert.Equal(0, server.Server.Broker!.FastPathMessages);

        // A topic the filter does not match still takes the fast path.
        Assert.True((await PublishAsync(device, "devices/d1/telemetry/engine", """{"rpm": 900, "ts": 1}""")).IsSuccess);
        Assert.Equal(1, server.Server.Broker.FastPathMessages);

        await app.UnsubscribeAsync("devices/+/telemetry");
        for (int i = 5; i < 10; i++)
        {
            Assert.True((await PublishAsync(device, "devices/d1/telemetry", $$"""{"n": {{i}}, "ts": {{i + 1}}}""")).IsSuccess);
        }

        Assert.Equal(6, server.Server.Broker.FastPathMessages);
        Assert.Equal(10, (await server.RowsAsync("SELECT count(*) FROM telemetry"))[0][0].GetInt64());
        lock (received)
        {
            Assert.Equal(5, received.Count);
        }
    }

    [Fact]
    public async Task Points_the_store_refuses_on_the_fast_path_get_payload_format_invalid_and_a_dead_letter()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token);

        Assert.True((await PublishAsync(device, "devices/d1/telemetry", """{"state": "on", "ts": 1000}""")).IsSuccess);
        var conflict = await PublishAsync(device, "devices/d1/telemetry", """{"state": 1, "ts": 2000}""");
        var partly = await PublishAsync(device, "devices/d1/telemetry", """[{"state": 2, "ts": 3000}, {"state": "off", "ts": 4000}]""");

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, conflict.ReasonCode);
        Assert.Contains("type conflict", conflict.ReasonString, StringComparison.Ordinal);
        Assert.True(partly.IsSuccess);
        Assert.Contains("type conflict", partly.ReasonString, StringComparison.Ordinal);
        Assert.True(device.IsConnected);
        Assert.Equal(3, server.Server.Broker!.FastPathMessages);
        Assert.Equal(
            [[1000L, "on"], [4000L, "off"]],
            (await server.RowsAsync("SELECT epoch_ms(time), state FROM telemetry ORDER BY time")).Select(r => new object[] { r[0].GetInt64(), r[1].GetString()! }));
        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM dead_letters"))[0][0].GetInt64() == 1, because: "the refused message is a dead letter");
        var letter = Assert.Single(await server.RowsAsync("SELECT device, topic, payload FROM dead_letters"));
        Assert.Equal(["d1", "devices/d1/telemetry", """{"state": 1, "ts": 2000}"""], letter.Select(v => v.GetString()));
    }

    [Fact]
    public async Task Pipelined_qos1_publishes_are_acknowledged_in_order_across_both_paths()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var socket = await RawConnectAsync(server, "d1", "d1", token, keepAliveSeconds: 60);

        // Twenty PUBLISH packets in one write; number 10 does not decode (ordinary path), number 15 is retained
        // (ordinary path): their PUBACKs must still come between those of their neighbours.
        var burst = new List<byte>();
        for (ushort id = 1; id <= 20; id++)
        {
            string payload = id == 10 ? "{not json" : $$"""{"seq": {{id}}, "ts": {{id}}}""";
            burst.AddRange(MqttBytes.Publish311("devices/d1/telemetry", payload, id, retain: id == 15));
        }

        await socket.SendAsync(burst.ToArray());
        var acks = new byte[20 * 4];
        await ReadExactlyAsync(socket, acks);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(0x40, acks[i * 4]);
            Assert.Equal(2, acks[(i * 4) + 1]);
            Assert.Equal(i + 1, BinaryPrimitives.ReadUInt16BigEndian(acks.AsSpan((i * 4) + 2)));
        }

        Assert.Equal(19, (await server.RowsAsync("SELECT count(*) FROM telemetry"))[0][0].GetInt64());
        Assert.Equal(18, server.Server.Broker!.FastPathMessages);

        // Thirty QoS 0 messages (fast path, no acknowledgement), then a retained QoS 1 one (ordinary path): once
        // its PUBACK is in, the thirty are stored too, with nothing to poll for.
        var second = new List<byte>();
        for (int i = 0; i < 30; i++)
        {
            second.AddRange(MqttBytes.Publish311("devices/d1/telemetry", $$"""{"seq": {{100 + i}}, "ts": {{100 + i}}}""", packetId: 0, retain: false));
        }

        second.AddRange(MqttBytes.Publish311("devices/d1/telemetry", """{"seq": 200, "ts": 200}""", packetId: 21, retain: true));
        await socket.SendAsync(second.ToArray());
        var last = new byte[4];
        await ReadExactlyAsync(socket, last);
        Assert.Equal(new byte[] { 0x40, 2, 0, 21 }, last);
        Assert.Equal(19 + 30 + 1, (await server.RowsAsync("SELECT count(*) FROM telemetry"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Keep_alive_sees_the_packets_the_fast_path_took_and_no_stray_packet_reaches_the_device()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;

        // Keep-alive 1 s: the broker closes a connection it hears nothing from for 1.5 s. The device never pings, it
        // only publishes (QoS 0, every 100 ms, for three times that long), and every message takes the fast path.
        using var socket = await RawConnectAsync(server, "d1", "d1", token, keepAliveSeconds: 1);
        long end = Environment.TickCount64 + 4_500;
        int sent = 0;
        while (Environment.TickCount64 < end)
        {
            await socket.SendAsync(MqttBytes.Publish311("devices/d1/telemetry", $$"""{"seq": {{sent}}, "ts": {{sent + 1}}}""", packetId: 0, retain: false));
            sent++;
            await Task.Delay(100); // pacing the device, not waiting for the server
        }

        // Still connected, and the first packet the device gets is the PUBACK it asked for: no PINGRESP to the
        // broker's own keep-alive bookkeeping leaked out.
        await socket.SendAsync(MqttBytes.Publish311("devices/d1/telemetry", """{"seq": -1, "ts": 999999}""", packetId: 77, retain: false));
        var ack = new byte[4];
        await ReadExactlyAsync(socket, ack);
        Assert.Equal(new byte[] { 0x40, 2, 0, 77 }, ack);
        Assert.Equal(sent + 1, (await server.RowsAsync("SELECT count(*) FROM telemetry"))[0][0].GetInt64());
        Assert.Equal(sent + 1, server.Server.Broker!.FastPathMessages);
    }

    /// <summary>A count, or 0 while a table in it does not exist yet (QoS 0: nothing to wait for but the rows).</summary>
    private static async Task<long> CountOrZeroAsync(PlexusTestServer server, string sql)
    {
        try
        {
            return (await server.RowsAsync(sql))[0][0].GetInt64();
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.True(n > 0, $"the broker closed the connection after {read} of {buffer.Length} bytes");
            read += n;
        }
    }
}
