using System.Net;
using System.Text;
using Plexus.Broker.Devices;
using Plexus.Broker.Transport;
using Plexus.Pipeline.Devices;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Transport;

/// <summary>
/// The channel's hand-written framing must not depend on where the socket's reads happen to cut the stream: the same
/// bytes split anywhere (a fixed header cut between its type byte and a two-byte remaining length, a packet id cut in
/// half, one byte per read) give the same packets taken, the same bytes handed to MQTTnet and the same PUBACKs.
/// </summary>
public sealed class DevicePublishChannelFramingTests
{
    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Stream_split_at_every_byte_boundary_decodes_as_when_read_whole(byte protocolLevel)
    {
        byte[] stream = Stream(protocolLevel, out Decoded expected);
        Decoded whole = await FeedAsync([stream]);
        Assert.Equal(expected, whole);

        for (int cut = 1; cut < stream.Length; cut++)
        {
            Decoded split = await FeedAsync([stream[..cut], stream[cut..]]);
            Assert.True(whole == split, $"split at byte {cut} of {stream.Length}:\n{split}\nwhole:\n{whole}");
        }
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task Stream_fed_one_byte_per_read_decodes_as_when_read_whole(byte protocolLevel)
    {
        byte[] stream = Stream(protocolLevel, out Decoded expected);

        Decoded byteByByte = await FeedAsync([.. stream.Select(b => new[] { b })]);

        Assert.Equal(expected, byteByByte);
    }

    /// <summary>
    /// CONNECT, then PUBLISHes of QoS 0 and 1 with remaining lengths of one and two bytes, some the fast path takes
    /// (the device's own topics) and some it hands to MQTTnet (another device's, a non-device topic), and a PINGREQ.
    /// </summary>
    private static byte[] Stream(byte level, out Decoded expected)
    {
        bool v5 = level == 5;
        string big = new('x', 200), bigger = new('y', 300);
        byte[] connect = Connect(level);
        byte[] qos0Small = Publish(v5, "devices/d1/telemetry", 0, 0, """{"t":1}""");
        byte[] qos1Big = Publish(v5, "devices/d1/telemetry", 1, 7, big);
        byte[] notDevice = Publish(v5, "other/topic", 0, 0, "x");
        byte[] otherDevice = Publish(v5, "devices/d2/telemetry", 1, 9, "{}");
        byte[] qos0Bigger = Publish(v5, "devices/d1/lp", 0, 0, bigger);
        byte[] qos1Small = Publish(v5, "devices/d1/state", 1, 11, """{"a":1}""");
        byte[] ping = [0xC0, 0x00];
        Assert.Equal(1, HeaderLength(qos0Small) - 1);
        Assert.Equal(2, HeaderLength(qos1Big) - 1);
        Assert.Equal(2, HeaderLength(qos0Bigger) - 1);

        byte[] ack7 = v5 ? [0x40, 3, 0, 7, 0x10] : [0x40, 2, 0, 7];
        byte[] ack11 = v5 ? [0x40, 3, 0, 11, 0x10] : [0x40, 2, 0, 11];
        expected = new Decoded(
            Convert.ToHexString([.. connect, .. notDevice, .. otherDevice, .. ping]),
            string.Join('\n', Describe("devices/d1/telemetry", 0, 0, """{"t":1}"""), Describe("devices/d1/telemetry", 1, 7, big), Describe("devices/d1/lp", 0, 0, bigger), Describe("devices/d1/state", 1, 11, """{"a":1}""")),
            Convert.ToHexString([.. ack7, .. ack11]),
            string.Empty);
        return [.. connect, .. qos0Small, .. qos1Big, .. notDevice, .. otherDevice, .. qos0Bigger, .. qos1Small, .. ping];
    }

    private static string Describe(string topic, int qos, ushort packetId, string payload) => $"{topic} qos {qos} id {packetId}: {payload}";

    /// <summary>Reads the channel as MQTTnet does, switching the fast path on once the CONNECT went through, as the broker does.</summary>
    private static async Task<Decoded> FeedAsync(byte[][] reads)
    {
        var transport = new ScriptedTransport(reads);
        var handler = new RecordingHandler();
        var limits = new MqttInputLimits(MaxConnectSize: 1024, MaxPacketSize: 4096, ConnectTimeout: TimeSpan.FromMinutes(1));
        using var channel = new DevicePublishChannel(transport, handler, limits, TimeSpan.FromMinutes(1), TimeProvider.System, fastPathAllowed: true);
        var handedOver = new List<byte>();
        var buffer = new byte[4096];
        int connectLength = -1;
        bool enabled = false;
        int read;
        while ((read = await channel.ReadAsync(buffer, 0, buffer.Length, CancellationToken.None)) > 0)
        {
            handedOver.AddRange(buffer.AsSpan(0, read));
            if (connectLength < 0 && handedOver.Count >= 2)
            {
                connectLength = HeaderLength([.. handedOver]) + handedOver[1];
            }

            if (!enabled && connectLength > 0 && handedOver.Count >= connectLength)
            {
                channel.Enable(FastPathIdentity.ForDevice("c1", "d1", maximumPacketSize: 0));
                enabled = true;
            }
        }

        return new Decoded(Convert.ToHexString([.. handedOver]), string.Join('\n', handler.Taken), Convert.ToHexString([.. transport.Sent]), string.Join('\n', handler.Refusals));
    }

    private static int HeaderLength(byte[] packet)
    {
        Assert.True(MqttWire.TryReadFixedHeader(packet, out int headerLength, out _, out _));
        return headerLength;
    }

    private static byte[] Connect(byte level)
    {
        // Keep-alive 60 s: within the server's maximum, so the CONNECT is handed over as it came.
        List<byte> body = [0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', level, 0x02, 0, 60];
        if (level == 5)
        {
            body.Add(0); // no properties
        }

        MqttBytes.AddString(body, "c1");
        return MqttBytes.Packet(0x10, body);
    }

    private static byte[] Publish(bool v5, string topic, int qos, ushort packetId, string payload)
    {
        var body = new List<byte>();
        MqttBytes.AddString(body, topic);
        if (qos > 0)
        {
            body.AddRange([(byte)(packetId >> 8), (byte)packetId]);
        }

        if (v5)
        {
            body.Add(0); // no properties
        }

        body.AddRange(Encoding.UTF8.GetBytes(payload));
        return MqttBytes.Packet((byte)(0x30 | (qos << 1)), body);
    }

    /// <summary>What the channel made of a stream: bytes handed to MQTTnet, messages the fast path took, bytes it sent, limits broken.</summary>
    private sealed record Decoded(string HandedOver, string Taken, string Sent, string Refusals)
    {
        public override string ToString() => $"handed over {HandedOver}\ntaken:\n{Taken}\nsent {Sent}\nrefused {Refusals}";
    }

    /// <summary>A connection whose reads return exactly the given pieces, in order, then the end of the stream.</summary>
    private sealed class ScriptedTransport(byte[][] reads) : MqttTransport
    {
        private int _next;

        public List<byte> Sent { get; } = [];

        public override EndPoint RemoteEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 50000);

        public override EndPoint LocalEndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 1883);

        public override bool IsSecure => false;

        public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            if (_next == reads.Length)
            {
                return ValueTask.FromResult(0);
            }

            byte[] piece = reads[_next++];
            Assert.True(piece.Length <= buffer.Length, "the channel offered less room than one scripted read");
            piece.CopyTo(buffer);
            return ValueTask.FromResult(piece.Length);
        }

        public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            lock (Sent)
            {
                Sent.AddRange(data.Span);
            }

            return ValueTask.CompletedTask;
        }

        public override void Shutdown()
        {
        }

        public override void Dispose()
        {
        }
    }

    /// <summary>Takes the PUBLISHes to the connection's own device topics, as the broker's fast path does, and acknowledges QoS 1 ones at commit.</summary>
    private sealed class RecordingHandler : IDevicePublishHandler
    {
        private readonly List<ushort> _owed = [];

        public List<string> Taken { get; } = [];

        public List<string> Refusals { get; } = [];

        public bool TryTake(DevicePublishChannel channel, FastPathIdentity identity, in PublishView publish)
        {
            if (!publish.Topic.StartsWith(identity.TopicPrefix) || publish.HasProperties || publish.Retain)
            {
                return false;
            }

            Taken.Add(Describe(Encoding.UTF8.GetString(publish.Topic), publish.Qos, publish.PacketId, Encoding.UTF8.GetString(publish.Payload)));
            if (publish.Qos == 1)
            {
                _owed.Add(publish.PacketId);
            }

            return true;
        }

        public Task? Commit(DevicePublishChannel channel, out long sequence)
        {
            foreach (ushort packetId in _owed)
            {
                channel.Acknowledge(packetId, new DeviceIngestOutcome(DeviceIngestStatus.Stored, 1, 0, null));
            }

            _owed.Clear();
            sequence = 0;
            return null;
        }

        public Task WhenStoredAsync(long sequence) => Task.CompletedTask;

        public DeviceIngest.IngestStaging CreateStaging() => new();

        public void InputRefused(DevicePublishChannel channel, MqttInputRefusal refusal, long packetSize) => Refusals.Add($"{refusal} {packetSize}");
    }
}
