using MQTTnet;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>
/// The MQTT 5 rules the broker adds to MQTTnet.Server 5.2 (docs/mqtt.md, flow control, topic aliases and keep-alive):
/// the server's Receive Maximum, topic aliases both ways, the client's Receive Maximum, Server Keep Alive and session
/// expiry, checked byte by byte with <see cref="RawMqtt5Client"/> over TCP, TLS and WebSocket.
/// </summary>
public sealed class Mqtt5FlowControlTests
{
    private static async Task<(PlexusTestServer Server, string Thumbprint, TempDirectory Folder)> StartAsync(Func<Plexus.Server.PlexusServerOptions, Plexus.Server.PlexusServerOptions> configure)
    {
        var folder = new TempDirectory();
        var (certificatePath, keyPath, thumbprint) = TestCertificates.WriteSelfSignedPem(folder.Path);
        var server = await PlexusTestServer.StartAsync(configure: o => configure(o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath, MqttTlsKey = keyPath }));
        return (server, thumbprint, folder);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("tls")]
    [InlineData("websocket")]
    public async Task A_client_within_the_receive_maximum_goes_on_and_one_over_it_is_disconnected_with_0x93(string transport)
    {
        var (server, thumbprint, folder) = await StartAsync(o => o with { MqttReceiveMaximum = 3 });
        await using var _ = server;
        using var __ = folder;
        await using var client = await RawMqtt5Client.ConnectAsync(server, transport, tlsThumbprint: thumbprint);
        Assert.Equal(3u, client.Connack.NumericProperty(0x21));

        // Three QoS 2 flows open at once, completed, then three more: within the maximum.
        for (int round = 0; round < 2; round++)
        {
            for (ushort id = 1; id <= 3; id++)
            {
                await client.SendAsync(RawMqtt5Client.Publish("flow/t", "m" + id, qos: 2, packetId: id));
            }

            for (int i = 0; i < 3; i++)
            {
                var pubrec = await client.ReadAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(5, pubrec?.Type);
                await client.SendAsync(RawMqtt5Client.Ack(0x62, pubrec!.PacketId));
            }

            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(7, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
            }
        }

        // A fourth while three are open breaks the limit the CONNACK gave.
        var burst = new List<byte>();
        for (ushort id = 10; id <= 13; id++)
        {
            burst.AddRange(RawMqtt5Client.Publish("flow/t", "m" + id, qos: 2, packetId: id));
        }

        await client.SendAsync([.. burst]);
        Assert.Equal(0x93, (await client.ReadUntilDisconnectAsync()).DisconnectReason);
    }

    [Fact]
    public async Task A_device_over_the_receive_maximum_on_the_fast_path_is_disconnected_with_0x93()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttReceiveMaximum = 3 });
        await using var client = await RawMqtt5Client.ConnectAsync(server);

        // Within the maximum, one at a time: stored by the fast path and acknowledged.
        for (ushort id = 1; id <= 5; id++)
        {
            await client.SendAsync(RawMqtt5Client.Publish("devices/d1/telemetry", $$"""{"seq": {{id}}}""", qos: 1, packetId: id));
            Assert.Equal(4, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
        }

        Assert.True(server.Server.Broker!.FastPathMessages >= 5, "the device's messages took the fast path");

        // Four in one segment: read together, before any can be acknowledged.
        var burst = new List<byte>();
        for (ushort id = 10; id <= 13; id++)
        {
            burst.AddRange(RawMqtt5Client.Publish("devices/d1/telemetry", $$"""{"seq": {{id}}}""", qos: 1, packetId: id));
        }

        await client.SendAsync([.. burst]);
        Assert.Equal(0x93, (await client.ReadUntilDisconnectAsync()).DisconnectReason);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("tls")]
    [InlineData("websocket")]
    public async Task Topic_aliases_within_the_maximum_are_resolved_and_0_or_above_it_is_disconnected_with_0x94(string transport)
    {
        var (server, thumbprint, folder) = await StartAsync(o => o with { MqttMaxTopicAliases = 2 });
        await using var _ = server;
        using var __ = folder;
        using var subscriber = await MqttTestClients.ConnectAsync(server);
        var received = await subscriber.SubscribeCollectingAsync("alias/#");

        await using (var client = await RawMqtt5Client.ConnectAsync(server, transport, tlsThumbprint: thumbprint))
        {
            Assert.Equal(2u, client.Connack.NumericProperty(0x22));
            await client.SendAsync(RawMqtt5Client.Publish("alias/long/topic", "set", qos: 1, packetId: 1, topicAlias: 2));
            await client.SendAsync(RawMqtt5Client.Publish("", "used", qos: 1, packetId: 2, topicAlias: 2));
            Assert.Equal(4, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
            Assert.Equal(4, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2);
            lock (received)
            {
                Assert.All(received, m => Assert.Equal("alias/long/topic", m.Topic));
            }
        }

        foreach (var (alias, topic, reason) in new (ushort, string, byte)[] { (0, "alias/zero", 0x94), (3, "alias/above", 0x94), (1, "", 0x82) })
        {
            await using var client = await RawMqtt5Client.ConnectAsync(server, transport, tlsThumbprint: thumbprint);
            await client.SendAsync(RawMqtt5Client.Publish(topic, "refused", qos: 1, packetId: 1, topicAlias: alias));
            Assert.Equal(reason, (await client.ReadUntilDisconnectAsync()).DisconnectReason);
        }

        Assert.Equal(2, MqttTestClients.Count(received));
    }

    [Fact]
    public async Task A_publish_whose_topic_and_properties_exceed_the_receive_buffer_is_disconnected_with_0x83_before_its_alias_is_taken()
    {
        var (server, _, folder) = await StartAsync(o => o with { MqttMaxTopicAliases = 2 });
        await using var _ = server;
        using var __ = folder;
        await using var client = await RawMqtt5Client.ConnectAsync(server);

        // 40 KiB of user property ahead of a topic alias above the maximum: the alias is past what the channel can hold.
        var body = new List<byte>();
        MqttBytes.AddString(body, "alias/big");
        body.AddRange([0, 1]);
        var properties = new List<byte> { 0x26 };
        MqttBytes.AddString(properties, "k");
        MqttBytes.AddString(properties, new string('v', 40 * 1024));
        properties.AddRange([0x23, 0, 50]);
        body.AddRange(MqttBytes.VariableInteger(properties.Count));
        body.AddRange(properties);
        body.AddRange("payload"u8.ToArray());
        await client.SendAsync(MqttBytes.Packet(0x32, body));

        Assert.Equal(0x83, (await client.ReadUntilDisconnectAsync()).DisconnectReason);
    }

    [Fact]
    public async Task Pubrels_for_packet_ids_never_published_do_not_lower_the_count_of_open_flows()
    {
        var (server, _, folder) = await StartAsync(o => o with { MqttReceiveMaximum = 3 });
        await using var _ = server;
        using var __ = folder;
        await using var client = await RawMqtt5Client.ConnectAsync(server);

        // Three QoS 2 flows open (PUBREC received, no PUBREL sent): the Receive Maximum is reached.
        for (ushort id = 1; id <= 3; id++)
        {
            await client.SendAsync(RawMqtt5Client.Publish("flow/t", "m" + id, qos: 2, packetId: id));
            Assert.Equal(5, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
        }

        // PUBRELs for ids the client never published are answered (MQTTnet sends PUBCOMP) but close no flow.
        for (ushort id = 100; id <= 102; id++)
        {
            await client.SendAsync(RawMqtt5Client.Ack(0x62, id));
            Assert.Equal(7, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
        }

        await client.SendAsync(RawMqtt5Client.Publish("flow/t", "one too many", qos: 2, packetId: 4));
        Assert.Equal(0x93, (await client.ReadUntilDisconnectAsync()).DisconnectReason);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("websocket")]
    public async Task Topics_sent_to_a_client_get_aliases_up_to_its_topic_alias_maximum(string transport)
    {
        await using var server = await PlexusTestServer.StartAsync();
        await using var client = await RawMqtt5Client.ConnectAsync(server, transport, topicAliasMaximum: 1);
        await client.SendAsync(RawMqtt5Client.Subscribe(1, "aliased/#", qos: 1));
        Assert.Equal(9, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
        using var publisher = await MqttTestClients.ConnectAsync(server);
        foreach (string topic in new[] { "aliased/a", "aliased/a", "aliased/b", "aliased/a" })
        {
            await publisher.PublishAsync(topic, topic, MqttQualityOfServiceLevel.AtMostOnce);
        }

        var packets = new List<RawPacket>();
        for (int i = 0; i < 4; i++)
        {
            packets.Add(await client.ReadAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("closed"));
        }

        // The first topic takes the one alias the client allows; the second goes by name.
        Assert.Equal([("aliased/a", (ushort?)1), ("", 1), ("aliased/b", null), ("", 1)], packets.Select(p => (p.Topic, p.TopicAlias)));
        Assert.Equal(["aliased/a", "aliased/a", "aliased/b", "aliased/a"], packets.Select(p => p.Payload));
    }

    [Fact]
    public async Task A_client_receive_maximum_holds_back_deliveries_but_not_the_acknowledgements_of_its_own_publishes()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await using var client = await RawMqtt5Client.ConnectAsync(server, receiveMaximum: 2);
        await client.SendAsync(RawMqtt5Client.Subscribe(1, "held/#", qos: 1));
        Assert.Equal(9, (await client.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);

        for (ushort id = 1; id <= 3; id++)
        {
            await client.SendAsync(RawMqtt5Client.Publish("held/t", "m" + id, qos: 1, packetId: id));
        }

        // All three PUBACKs arrive although two deliveries wait for the client's acknowledgement.
        var publishes = new List<RawPacket>();
        int acks = 0;
        while (acks < 3 || publishes.Count < 2)
        {
            var packet = await client.ReadAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("closed");
            if (packet.Type == 4)
            {
                acks++;
            }
            else
            {
                Assert.Equal(3, packet.Type);
                publishes.Add(packet);
            }
        }

        Assert.Equal(["m1", "m2"], publishes.Select(p => p.Payload));

        // The third is held back until one is acknowledged (a negative: it is given half a second to go wrong).
        await Assert.ThrowsAsync<TimeoutException>(() => client.ReadAsync(TimeSpan.FromMilliseconds(500)));
        await client.SendAsync(RawMqtt5Client.Ack(0x40, publishes[0].PacketId));
        var third = await client.ReadAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("m3", third?.Payload);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("tls")]
    [InlineData("websocket")]
    public async Task A_keep_alive_above_the_maximum_is_lowered_in_connack_and_a_client_silent_past_one_and_a_half_times_it_is_disconnected(string transport)
    {
        var (server, thumbprint, folder) = await StartAsync(o => o with { MqttMaxKeepAlive = TimeSpan.FromSeconds(1) });
        await using var _ = server;
        using var __ = folder;

        // Keep-alive 0 (none) and 120 s both become the server's 1 s.
        foreach (ushort asked in new ushort[] { 0, 120 })
        {
            await using var silent = await RawMqtt5Client.ConnectAsync(server, transport, keepAliveSeconds: asked, tlsThumbprint: thumbprint);
            Assert.Equal(1u, silent.Connack.NumericProperty(0x13));
            var started = TimeProvider.System.GetTimestamp();
            while (await silent.ReadAsync(TimeSpan.FromSeconds(10)) is { } packet)
            {
                Assert.Equal(14, packet.Type);
            }

            Assert.InRange(TimeProvider.System.GetElapsedTime(started).TotalSeconds, 1.2, 8);
        }

        // A client that pings within the server's keep-alive stays connected.
        await using var pinging = await RawMqtt5Client.ConnectAsync(server, transport, keepAliveSeconds: 120, tlsThumbprint: thumbprint);
        for (int ping = 0; ping < 6; ping++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(400), TimeProvider.System);
            await pinging.SendAsync([0xC0, 0x00]);
            Assert.Equal(13, (await pinging.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
        }
    }

    [Fact]
    public async Task A_device_without_keep_alive_publishing_on_the_fast_path_stays_within_the_server_keep_alive()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxKeepAlive = TimeSpan.FromSeconds(1) });
        await using var device = await RawMqtt5Client.ConnectAsync(server, keepAliveSeconds: 0);
        Assert.Equal(1u, device.Connack.NumericProperty(0x13));
        long before = server.Server.Broker!.FastPathMessages;
        var started = TimeProvider.System.GetTimestamp();
        int seq = 0;
        while (TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(3))
        {
            // Only data, no PINGREQ: MQTTnet never sees these packets, the channel keeps its keep-alive fed.
            await device.SendAsync(RawMqtt5Client.Publish("devices/d1/telemetry", $$"""{"seq": {{++seq}}}""", qos: 1, packetId: (ushort)seq));
            Assert.Equal(4, (await device.ReadAsync(TimeSpan.FromSeconds(10)))?.Type);
            await Task.Delay(TimeSpan.FromMilliseconds(200), TimeProvider.System);
        }

        Assert.True(server.Server.Broker.FastPathMessages - before >= seq - 1, "the messages took the fast path");
    }

    [Fact]
    public async Task A_session_lives_for_the_interval_of_the_latest_connect_or_disconnect_and_no_longer_than_the_maximum()
    {
        // MQTTnet expires sessions on the system clock, so real time passes here. Every wait is on the safe side of
        // its interval: a session checked for being gone waited longer than its interval, and one checked for being
        // there has tens of seconds to spare, however slow the machine.
        string clientId = "expiring-" + Guid.NewGuid().ToString("N")[..8];
        static async Task<bool> SessionPresentAsync(PlexusTestServer server, string clientId, bool cleanStart, uint connectExpiry, uint? disconnectExpiry = null)
        {
            await using var client = await RawMqtt5Client.ConnectAsync(server, clientId: clientId, cleanStart: cleanStart, sessionExpiry: connectExpiry);
            await client.SendAsync(RawMqtt5Client.Disconnect(disconnectExpiry));
            Assert.Null(await client.ReadAsync(TimeSpan.FromSeconds(10)));
            return client.SessionPresent;
        }

        await using (var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxSessionExpiry = TimeSpan.FromSeconds(2) }))
        {
            // Asking for an hour gets the server's two seconds, said in CONNACK, and the session is gone after them.
            await using (var asking = await RawMqtt5Client.ConnectAsync(server, sessionExpiry: 3600))
            {
                Assert.Equal(2u, asking.Connack.NumericProperty(0x11));
            }

            Assert.False(await SessionPresentAsync(server, clientId, cleanStart: true, connectExpiry: 3600));
            await Task.Delay(TimeSpan.FromSeconds(2.5), TimeProvider.System);
            Assert.False(await SessionPresentAsync(server, clientId, cleanStart: false, connectExpiry: 3600));
        }

        await using (var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxSessionExpiry = TimeSpan.FromSeconds(60) }))
        {
            // Within the interval the session is resumed.
            Assert.False(await SessionPresentAsync(server, clientId, cleanStart: true, connectExpiry: 60));
            Assert.True(await SessionPresentAsync(server, clientId, cleanStart: false, connectExpiry: 60));

            // The DISCONNECT's interval replaces the CONNECT's: 0 ends the session at once, 60 keeps one that the
            // CONNECT's 1 second would have ended.
            Assert.False(await SessionPresentAsync(server, clientId, cleanStart: true, connectExpiry: 60, disconnectExpiry: 0));
            Assert.False(await SessionPresentAsync(server, clientId, cleanStart: false, connectExpiry: 1, disconnectExpiry: 60));
            await Task.Delay(TimeSpan.FromSeconds(2), TimeProvider.System);
            Assert.True(await SessionPresentAsync(server, clientId, cleanStart: false, connectExpiry: 60));
        }
    }
}
