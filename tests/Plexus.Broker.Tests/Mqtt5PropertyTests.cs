using System.Text;
using Microsoft.Extensions.Time.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>MQTT 5 properties end to end with the MQTTnet client.</summary>
public sealed class Mqtt5PropertyTests
{
    [Fact]
    public async Task Will_delay_interval_holds_the_will_back()
    {
        var time = new FakeTimeProvider();
        await using var server = await PlexusTestServer.StartAsync(time: time);
        var broker = server.Server.Broker!;
        using var watcher = await MqttTestClients.ConnectAsync(server);
        var wills = await watcher.SubscribeCollectingAsync("wills/+");
        using var dying = await MqttTestClients.ConnectAsync(server, configure: b => b
            .WithWillTopic("wills/dying").WithWillPayload("gone").WithWillDelayInterval(2)
            .WithSessionExpiryInterval(60));

        await dying.DisconnectAsync(MqttClientDisconnectOptionsReason.DisconnectWithWillMessage);
        await Eventually.TrueAsync(() => broker.WillsWaiting == 1, because: "the will waits for its delay");

        // The timer takes the will out before it publishes it: still waiting means not sent.
        time.Advance(TimeSpan.FromSeconds(1.9));
        Assert.Equal(1, broker.WillsWaiting);
        Assert.Equal(0, MqttTestClients.Count(wills));

        time.Advance(TimeSpan.FromSeconds(0.1));
        await Eventually.TrueAsync(() => MqttTestClients.Count(wills) == 1, because: "the will after its delay");
        Assert.Equal("gone", MqttTestClients.Text(wills[0]));
        Assert.Equal(0, broker.WillsWaiting);
    }

    [Fact]
    public async Task A_delayed_will_is_dropped_when_the_client_returns_in_time_and_never_sent_after_a_normal_disconnect()
    {
        var time = new FakeTimeProvider();
        await using var server = await PlexusTestServer.StartAsync(time: time);
        var broker = server.Server.Broker!;
        using var watcher = await MqttTestClients.ConnectAsync(server);
        var wills = await watcher.SubscribeCollectingAsync("wills/+");
        string clientId = "returning-" + Guid.NewGuid().ToString("N")[..8];
        void WithWill(MqttClientOptionsBuilder b, string topic) => b.WithWillTopic(topic).WithWillPayload("gone").WithWillDelayInterval(3).WithSessionExpiryInterval(60).WithCleanStart(false);

        // Dropped without DISCONNECT, back within the delay: no will.
        var first = await MqttTestClients.ConnectAsync(server, clientId: clientId, configure: b => WithWill(b, "wills/returning"));
        first.Dispose();
        await Eventually.TrueAsync(() => broker.WillsWaiting == 1, because: "the dropped client's will waits for its delay");
        time.Advance(TimeSpan.FromSeconds(2.9));
        using var back = await MqttTestClients.ConnectAsync(server, clientId: clientId, configure: b => WithWill(b, "wills/returning"));
        await Eventually.TrueAsync(() => broker.WillsWaiting == 0, because: "the returning client's will is dropped");

        // A normal DISCONNECT (reason 0x00) never sends the will.
        using var polite = await MqttTestClients.ConnectAsync(server, configure: b => b.WithWillTopic("wills/polite").WithWillPayload("gone"));
        await polite.DisconnectAsync();

        // Past the returning client's delay: a will still scheduled would be published now, before the marker.
        time.Advance(TimeSpan.FromSeconds(1));

        // An abrupt drop without delay sends it at once: the marker that the others had their chance.
        var dropped = await MqttTestClients.ConnectAsync(server, configure: b => b.WithWillTopic("wills/dropped").WithWillPayload("gone"));
        dropped.Dispose();
        await Eventually.TrueAsync(() => MqttTestClients.Count(wills) >= 1);
        Assert.Equal(["wills/dropped"], wills.Select(m => m.Topic));
    }

    [Fact]
    public async Task A_device_will_is_published_under_its_topic_acl()
    {
        var time = new FakeTimeProvider();
        await using var server = await PlexusTestServer.StartAsync(time: time);
        var device = server.Server.Devices.Add(new Plexus.Devices.NewDevice("gw-9"));
        using var watcher = await MqttTestClients.ConnectAsync(server);
        var wills = await watcher.SubscribeCollectingAsync("devices/+/status");

        var own = await MqttTestClients.ConnectAsync(server, clientId: "gw-9-a", password: null, configure: b => b.WithCredentials("gw-9", device.Token)
            .WithWillTopic("devices/gw-9/status").WithWillPayload("offline").WithWillDelayInterval(1).WithSessionExpiryInterval(30));
        var foreign = await MqttTestClients.ConnectAsync(server, clientId: "gw-9-b", password: null, configure: b => b.WithCredentials("gw-9", device.Token)
            .WithWillTopic("devices/other/status").WithWillPayload("spoofed"));
        own.Dispose();
        foreign.Dispose();
        await Eventually.TrueAsync(() => server.Server.Broker!.WillsWaiting == 1, because: "the own will waits for its delay");
        time.Advance(TimeSpan.FromSeconds(1));

        await Eventually.TrueAsync(() => MqttTestClients.Count(wills) >= 1);
        await Eventually.TrueAsync(() => server.Logs.Entries.Any(e => e.Message.Contains("may not publish to devices/other/status", StringComparison.Ordinal)), because: "the foreign will was refused by the ACL");
        Assert.Equal(["offline"], wills.Select(MqttTestClients.Text));
    }

    [Fact]
    public async Task An_expired_queued_message_is_not_delivered_and_the_rest_carry_their_remaining_lifetime()
    {
        var time = new FakeTimeProvider();
        await using var server = await PlexusTestServer.StartAsync(time: time);
        string clientId = "expiry-" + Guid.NewGuid().ToString("N")[..8];
        var (first, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, clientId, 300);
        await first.SubscribeAsync("news/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await first.DisconnectAsync();
        first.Dispose();
        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("news/short").WithPayload("short-lived").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithMessageExpiryInterval(1).Build());
        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("news/long").WithPayload("long-lived").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithMessageExpiryInterval(3600).Build());

        // The first message's 1 s lifetime runs out while it is queued.
        time.Advance(TimeSpan.FromSeconds(2));
        var (second, received, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, clientId, 300);
        using (second)
        {
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) >= 1);
            await publisher.PublishAsync("news/marker", "marker");
            await Eventually.TrueAsync(() => received.Any(m => m.Topic == "news/marker"));
            lock (received)
            {
                Assert.Equal(["long-lived", "marker"], received.Select(MqttTestClients.Text));
                Assert.Equal(3598u, received[0].MessageExpiryInterval);
            }
        }
    }

    [Fact]
    public async Task Topic_aliases_sent_by_a_client_are_resolved()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("alias/#");
        MqttClientConnectResult? connack = null;
        using var publisher = new MqttClientFactory().CreateMqttClient();
        connack = await publisher.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCredentials("app", PlexusTestServer.AdminToken).Build());

        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("alias/long/topic/name").WithTopicAlias(3).WithPayload("first").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("").WithTopicAlias(3).WithPayload("second").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        Assert.True(connack.TopicAliasMaximum > 0);
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2);
        lock (received)
        {
            Assert.All(received, m => Assert.Equal("alias/long/topic/name", m.Topic));
            Assert.Equal(["first", "second"], received.Select(MqttTestClients.Text));
        }
    }

    [Fact]
    public async Task Receive_maximum_of_a_client_bounds_its_unacknowledged_messages()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var pending = new List<MqttApplicationMessageReceivedEventArgs>();
        using var subscriber = new MqttClientFactory().CreateMqttClient();
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = false;
            lock (pending)
            {
                pending.Add(e);
            }

            return Task.CompletedTask;
        };
        await subscriber.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCredentials("app", PlexusTestServer.AdminToken).WithReceiveMaximum(2).Build());
        await subscriber.SubscribeAsync("rm/#", MqttQualityOfServiceLevel.AtLeastOnce);
        using var publisher = await MqttTestClients.ConnectAsync(server);

        for (int i = 0; i < 6; i++)
        {
            await publisher.PublishAsync("rm/t", "m" + i);
        }

        await Eventually.TrueAsync(() => Count(pending) == 2);

        // Nothing more until an ack: a negative, so it is given a moment to go wrong (no marker message can end the
        // wait early: the receive maximum holds a marker back too).
        await Task.Delay(TimeSpan.FromMilliseconds(500), TimeProvider.System);
        Assert.Equal(2, Count(pending));
        for (int acked = 0; acked < 6; acked++)
        {
            await Eventually.TrueAsync(() => Count(pending) > acked);
            MqttApplicationMessageReceivedEventArgs next;
            lock (pending)
            {
                next = pending[acked];
            }

            await next.AcknowledgeAsync(CancellationToken.None);
        }

        lock (pending)
        {
            Assert.Equal(Enumerable.Range(0, 6).Select(i => "m" + i), pending.Select(e => MqttTestClients.Text(e.ApplicationMessage)));
        }
    }

    [Fact]
    public async Task A_message_larger_than_the_client_maximum_packet_size_is_not_sent_to_it()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var small = await MqttTestClients.ConnectAsync(server, configure: b => b.WithMaximumPacketSize(200));
        var received = await small.SubscribeCollectingAsync("size/#");
        using var publisher = await MqttTestClients.ConnectAsync(server);

        await publisher.PublishAsync("size/big", new string('x', 1000));
        await publisher.PublishAsync("size/small", "fits");

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) >= 1);
        Assert.Equal(["fits"], received.Select(MqttTestClients.Text));
        Assert.True(small.IsConnected);
    }

    [Fact]
    public async Task User_properties_content_type_and_response_topic_are_forwarded()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("props/#");
        using var publisher = await MqttTestClients.ConnectAsync(server);

        await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("props/a").WithPayload("p")
            .WithUserProperty("trace-id", Encoding.UTF8.GetBytes("abc123").AsMemory()).WithUserProperty("unit", Encoding.UTF8.GetBytes("°C").AsMemory())
            .WithContentType("text/plain").WithResponseTopic("props/reply").WithCorrelationData(Encoding.UTF8.GetBytes("c-1"))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
        var message = received[0];
        Assert.Equal([("trace-id", "abc123"), ("unit", "°C")], message.UserProperties.Select(p => (p.Name, p.ReadValueAsString())));
        Assert.Equal("text/plain", message.ContentType);
        Assert.Equal("props/reply", message.ResponseTopic);
        Assert.Equal("c-1", Encoding.UTF8.GetString(message.CorrelationData));
    }

    [Fact]
    public async Task Reason_codes_for_no_subscribers_and_unknown_unsubscribe()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var client = await MqttTestClients.ConnectAsync(server);

        var ack = await client.PublishAsync("nobody/listens", "x");
        var unsubscribe = await client.UnsubscribeAsync("never/subscribed");
        await client.SubscribeAsync("some/topic", MqttQualityOfServiceLevel.AtLeastOnce);
        var heard = await client.PublishAsync("some/topic", "x");

        Assert.Equal(MqttClientPublishReasonCode.NoMatchingSubscribers, ack.ReasonCode);
        Assert.Equal(MqttClientUnsubscribeResultCode.NoSubscriptionExisted, Assert.Single(unsubscribe.Items).ResultCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, heard.ReasonCode);
    }

    private static int Count(List<MqttApplicationMessageReceivedEventArgs> pending)
    {
        lock (pending)
        {
            return pending.Count;
        }
    }
}
