using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;
using Xunit.Abstractions;

namespace Plexus.Broker.Tests;

/// <summary>Per-client flood limits: message rate (token bucket) and packet size.</summary>
public sealed class FloodLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_flooding_qos1_client_is_slowed_to_the_rate_while_another_client_goes_through_promptly()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxRate = 50, MqttMaxBurst = 10 });
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("flood/#");
        await subscriber.SubscribeAsync("calm/#", MqttQualityOfServiceLevel.AtLeastOnce);
        using var flooder = await MqttTestClients.ConnectAsync(server);
        using var other = await MqttTestClients.ConnectAsync(server);

        // 110 messages, 8 in flight at a time: at 50/s after a burst of 10 they need about 2 s.
        var clock = Stopwatch.StartNew();
        var flooding = Task.Run(async () =>
        {
            using var inFlight = new SemaphoreSlim(8);
            var sends = new List<Task>();
            for (int i = 0; i < 110; i++)
            {
                await inFlight.WaitAsync();
                sends.Add(flooder.PublishAsync("flood/t", "f" + i).ContinueWith(_ => inFlight.Release(), TaskScheduler.Default));
            }

            await Task.WhenAll(sends);
        });

        // Meanwhile the other client's acks come at once.
        var latencies = new List<TimeSpan>();
        while (!flooding.IsCompleted && latencies.Count < 20)
        {
            var one = Stopwatch.StartNew();
            var ack = await other.PublishAsync("calm/t", "c");
            latencies.Add(one.Elapsed);
            Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        }

        await flooding;
        var elapsed = clock.Elapsed;
        output.WriteLine($"flooder: 110 QoS 1 in {elapsed.TotalSeconds:F2} s = {110 / elapsed.TotalSeconds:F1} msg/s (limit 50/s, burst 10); other client: {latencies.Count} acks, max {latencies.Max().TotalMilliseconds:F0} ms, median {latencies.Order().ElementAt(latencies.Count / 2).TotalMilliseconds:F0} ms");

        Assert.True(elapsed >= TimeSpan.FromSeconds(1.6), $"110 messages at 50/s (burst 10) took only {elapsed.TotalSeconds:F2} s");
        Assert.True(latencies.Count >= 5, "the other client published while the flood ran");
        Assert.True(latencies.Max() < TimeSpan.FromSeconds(1), $"the other client waited up to {latencies.Max().TotalMilliseconds:F0} ms");
        await Eventually.TrueAsync(() => Snapshot(received).Count(m => m.Topic == "flood/t") == 110, because: "QoS 1 over the rate is delayed, not lost");
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("publishes faster than 50 messages/s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Qos0_over_the_rate_is_dropped()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxRate = 20, MqttMaxBurst = 20 });
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("burst/#");
        using var flooder = await MqttTestClients.ConnectAsync(server);

        var clock = Stopwatch.StartNew();
        for (int i = 0; i < 300; i++)
        {
            await flooder.PublishAsync("burst/t", "b" + i, MqttQualityOfServiceLevel.AtMostOnce);
        }

        // A QoS 1 marker after the burst: once it is in, every QoS 0 message before it was handled.
        await Eventually.TrueAsync(async () =>
        {
            await flooder.PublishAsync("burst/marker", "marker");
            return Snapshot(received).Any(m => m.Topic == "burst/marker");
        });
        double seconds = clock.Elapsed.TotalSeconds;
        int delivered = Snapshot(received).Count(m => m.Topic == "burst/t");
        output.WriteLine($"300 QoS 0 in {seconds:F2} s at 20/s (burst 20): {delivered} delivered, {300 - delivered} dropped");

        // Burst 20 plus 20/s for the time it took, with slack for the markers.
        Assert.InRange(delivered, 20, 20 + (int)(20 * seconds) + 5);
        Assert.True(flooder.IsConnected);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task A_packet_over_the_size_limit_disconnects_its_client(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxMessageSize = 1024 });
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("size/#");
        MqttClientDisconnectedEventArgs? disconnected = null;
        var client = new MqttClientFactory().CreateMqttClient();
        client.DisconnectedAsync += e =>
        {
            disconnected = e;
            return Task.CompletedTask;
        };
        var connack = await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
            .WithProtocolVersion(version).WithCredentials("app", PlexusTestServer.AdminToken).Build());

        await client.PublishAsync("size/ok", new string('a', 900));
        _ = client.PublishAsync("size/big", new string('b', 2000), MqttQualityOfServiceLevel.AtMostOnce);

        await Eventually.TrueAsync(() => disconnected is not null, because: "the client is disconnected");
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(1024u, connack.MaximumPacketSize);
            Assert.Equal(MqttClientDisconnectReason.PacketTooLarge, disconnected!.Reason);
        }

        Assert.Equal(["size/ok"], received.Select(m => m.Topic));
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("MQTT packet too large", StringComparison.Ordinal));
        client.Dispose();
    }

    private static MqttApplicationMessage[] Snapshot(List<MqttApplicationMessage> received)
    {
        lock (received)
        {
            return [.. received];
        }
    }
}
