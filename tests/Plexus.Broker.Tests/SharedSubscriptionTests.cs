using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>Shared subscriptions ($share/group/filter): each message once per group, in turn, plus normal subscribers.</summary>
public sealed class SharedSubscriptionTests
{
    [Fact]
    public async Task Each_message_reaches_exactly_one_member_of_the_group_and_every_normal_subscriber()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var members = new List<IMqttClient>();
        var inboxes = new List<List<MqttApplicationMessage>>();
        foreach (var version in new[] { MqttProtocolVersion.V500, MqttProtocolVersion.V500, MqttProtocolVersion.V311 })
        {
            var member = await MqttTestClients.ConnectAsync(server, version);
            members.Add(member);
            inboxes.Add(await member.SubscribeCollectingAsync("$share/workers/jobs/+"));
        }

        using var normal = await MqttTestClients.ConnectAsync(server);
        var all = await normal.SubscribeCollectingAsync("jobs/#");
        using var publisher = await MqttTestClients.ConnectAsync(server);

        for (int i = 0; i < 30; i++)
        {
            await publisher.PublishAsync("jobs/j" + (i % 3), "m" + i);
        }

        await Eventually.TrueAsync(() => inboxes.Sum(MqttTestClients.Count) >= 30 && MqttTestClients.Count(all) == 30, because: "30 messages delivered once in the group and to the normal subscriber");
        AssertEachOnce(inboxes, Enumerable.Range(0, 30).Select(i => "m" + i));
        Assert.All(inboxes, inbox => Assert.Equal(10, MqttTestClients.Count(inbox))); // in turn: 30 messages, 3 members

        // A member leaving gets its share moved to the others.
        await members[1].DisconnectAsync();
        members[1].Dispose();
        for (int i = 30; i < 50; i++)
        {
            await publisher.PublishAsync("jobs/x", "m" + i);
        }

        await Eventually.TrueAsync(() => inboxes.Sum(MqttTestClients.Count) >= 50 && MqttTestClients.Count(all) == 50);
        AssertEachOnce(inboxes, Enumerable.Range(0, 50).Select(i => "m" + i));
        Assert.Equal(10, MqttTestClients.Count(inboxes[1]));

        // So does one unsubscribing: the last member gets everything.
        var unsubscribed = await members[0].UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter("$share/workers/jobs/+").Build());
        Assert.Equal(MqttClientUnsubscribeResultCode.Success, Assert.Single(unsubscribed.Items).ResultCode);
        int before = MqttTestClients.Count(inboxes[2]);
        for (int i = 50; i < 60; i++)
        {
            await publisher.PublishAsync("jobs/y", "m" + i);
        }

        await Eventually.TrueAsync(() => MqttTestClients.Count(inboxes[2]) == before + 10);
        AssertEachOnce(inboxes, Enumerable.Range(0, 60).Select(i => "m" + i));
        foreach (var member in members)
        {
            member.Dispose();
        }
    }

    [Fact]
    public async Task Two_groups_on_one_filter_each_get_every_message_and_connack_advertises_shared_subscriptions()
    {
        await using var server = await PlexusTestServer.StartAsync();
        MqttClientConnectResult? connack = null;
        using var a1 = await MqttTestClients.ConnectAsync(server);
        using var a2 = await MqttTestClients.ConnectAsync(server);
        using var b1 = await MqttTestClients.ConnectAsync(server, configure: b => b.WithClientId("b1-" + Guid.NewGuid().ToString("N")[..6]));
        connack = await ReconnectResultAsync(server);
        var inA1 = await a1.SubscribeCollectingAsync("$share/a/s/#");
        var inA2 = await a2.SubscribeCollectingAsync("$share/a/s/#");
        var inB1 = await b1.SubscribeCollectingAsync("$share/b/s/#", MqttQualityOfServiceLevel.AtMostOnce);
        using var publisher = await MqttTestClients.ConnectAsync(server);

        for (int i = 0; i < 10; i++)
        {
            await publisher.PublishAsync("s/t", "m" + i, MqttQualityOfServiceLevel.ExactlyOnce);
        }

        await Eventually.TrueAsync(() => MqttTestClients.Count(inA1) + MqttTestClients.Count(inA2) == 10 && MqttTestClients.Count(inB1) == 10);
        Assert.True(connack.SharedSubscriptionAvailable);
        AssertEachOnce([inA1, inA2], Enumerable.Range(0, 10).Select(i => "m" + i));
        lock (inB1)
        {
            // Delivered at the lower of the message's QoS and the member's.
            Assert.All(inB1, m => Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, m.QualityOfServiceLevel));
            Assert.All(inB1, m => Assert.Equal("s/t", m.Topic));
        }

        lock (inA1)
        {
            Assert.All(inA1, m => Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, m.QualityOfServiceLevel));
        }
    }

    [Fact]
    public async Task A_member_with_a_persistent_session_gets_the_group_messages_queued_while_all_members_were_away()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string clientId = "shared-persistent-" + Guid.NewGuid().ToString("N")[..8];
        var (first, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, clientId, 300);
        await first.SubscribeAsync("$share/g/queue/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await first.DisconnectAsync();
        first.Dispose();
        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync("queue/a", "while away 1");
        await publisher.PublishAsync("queue/b", "while away 2");

        var (second, received, connack) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, clientId, 300);
        using (second)
        {
            Assert.True(connack.IsSessionPresent);
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2);

            // Still a member after coming back.
            await publisher.PublishAsync("queue/c", "live");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 3);
            lock (received)
            {
                Assert.Equal(["while away 1", "while away 2", "live"], received.Select(MqttTestClients.Text));
            }
        }
    }

    [Fact]
    public async Task The_topic_acl_judges_the_inner_filter_of_a_shared_subscription()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var device = server.Server.Devices.Add(new NewDevice("pump-1"));
        using var client = await MqttTestClients.ConnectAsync(server, clientId: "pump-1-client", password: null, configure: b => b.WithCredentials("pump-1", device.Token));
        var factory = new MqttClientFactory();

        var own = await client.SubscribeAsync(factory.CreateSubscribeOptionsBuilder().WithTopicFilter("$share/g/devices/pump-1/#").Build());
        var other = await client.SubscribeAsync(factory.CreateSubscribeOptionsBuilder().WithTopicFilter("$share/g/devices/pump-2/#").Build());
        var invalid = await client.SubscribeAsync(factory.CreateSubscribeOptionsBuilder().WithTopicFilter("$share/devices/pump-1").Build());

        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS0, Assert.Single(own.Items).ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, Assert.Single(other.Items).ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, Assert.Single(invalid.Items).ResultCode);

        // Refused means not a member: a message for pump-2 does not reach the device.
        var received = new List<MqttApplicationMessage>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage);
            }

            return Task.CompletedTask;
        };
        using var app = await MqttTestClients.ConnectAsync(server);
        await app.PublishAsync("devices/pump-2/cmd", "not for you");
        await app.PublishAsync("devices/pump-1/cmd", "for you");
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) >= 1);
        Assert.Equal(["for you"], received.Select(MqttTestClients.Text));
    }

    private static async Task<MqttClientConnectResult> ReconnectResultAsync(PlexusTestServer server)
    {
        using var probe = new MqttClientFactory().CreateMqttClient();
        var result = await probe.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCredentials("app", PlexusTestServer.AdminToken).Build());
        await probe.DisconnectAsync();
        return result;
    }

    private static void AssertEachOnce(IEnumerable<List<MqttApplicationMessage>> inboxes, IEnumerable<string> expected)
    {
        var got = new List<string>();
        foreach (var inbox in inboxes)
        {
            lock (inbox)
            {
                got.AddRange(inbox.Select(MqttTestClients.Text));
            }
        }

        Assert.Equal(expected.Order(StringComparer.Ordinal), got.Order(StringComparer.Ordinal));
    }
}
