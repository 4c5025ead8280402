using System.Buffers;

namespace Plexus.Broker.Transport;

/// <summary>
/// What an MQTT 5 client asked of the PUBLISH packets sent to it, applied by its channel to the bytes MQTTnet.Server 5.2
/// writes (which applies neither): its Receive Maximum, by holding back a QoS 1/2 PUBLISH while that many are
/// unacknowledged, and its Topic Alias Maximum, by giving topics aliases. One per connection: aliases and the
/// window start afresh with each connection, as MQTT 5 says.
/// </summary>
/// <remarks>
/// Holding back happens below MQTTnet's send loop, which therefore never waits for the client: its PUBACKs, SUBACKs
/// and PINGRESPs keep flowing while PUBLISHes wait (when the loop itself waited, as it did, a client that had not yet
/// acknowledged two deliveries got no PUBACK for its own publishes). What is held is what MQTTnet believes sent; a
/// connection that ends with packets held loses nothing, as MQTTnet resends every unacknowledged QoS 1/2 message
/// when the session resumes. Only <see cref="MaxHeldBytes"/> are held: beyond them the send loop waits after all.
/// </remarks>
internal sealed class OutboundFlow
{
    /// <summary>Bytes of PUBLISH packets held back at most before MQTTnet's send loop has to wait for the client.</summary>
    public const int MaxHeldBytes = 1 << 20;

    private readonly int _receiveMaximum;
    private readonly Lock _sync = new();
    private readonly Queue<(byte[] Packet, bool Counted)> _held = new();
    private int _heldBytes;
    private int _inFlight;
    private TaskCompletionSource? _room;

    /// <param name="receiveMaximum">The client's Receive Maximum; 0 or 65535 hold nothing back.</param>
    /// <param name="topicAliasMaximum">Aliases to give topics sent to the client (the lower of its maximum and the server's); 0 for none.</param>
    public OutboundFlow(ushort receiveMaximum, ushort topicAliasMaximum)
    {
        _receiveMaximum = receiveMaximum is 0 or ushort.MaxValue ? 0 : receiveMaximum;
        Aliases = topicAliasMaximum > 0 ? new OutboundTopicAliases(topicAliasMaximum) : null;
    }

    public OutboundTopicAliases? Aliases { get; }

    /// <summary>Whether the client's Receive Maximum is below what MQTT allows, so packets may be held back.</summary>
    public bool Windowed => _receiveMaximum > 0;

    public bool HasHeld
    {
        get
        {
            lock (_sync)
            {
                return _held.Count > 0;
            }
        }
    }

    /// <summary>
    /// Called with the channel's write lock held, for a PUBLISH about to be sent: true when it may go now (and it
    /// then counts as in flight), false when it was queued behind others or the window is full.
    /// <paramref name="mustWait"/> is set (and nothing queued) when <see cref="MaxHeldBytes"/> are held already.
    /// </summary>
    public bool TrySend(ReadOnlySpan<byte> publish, out Task? mustWait)
    {
        mustWait = null;
        bool counted = ((publish[0] >> 1) & 0x03) > 0;
        lock (_sync)
        {
            if (_held.Count == 0 && (!counted || _inFlight < _receiveMaximum))
            {
                _inFlight += counted ? 1 : 0;
                return true;
            }

            if (_heldBytes > 0 && _heldBytes + publish.Length > MaxHeldBytes)
            {
                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                mustWait = _room.Task;
                return false;
            }

            _held.Enqueue((publish.ToArray(), counted));
            _heldBytes += publish.Length;
            return false;
        }
    }

    /// <summary>The client acknowledged a QoS 1/2 PUBLISH sent to it (PUBACK, PUBCOMP, or PUBREC with a failure code).</summary>
    public void Acknowledged()
    {
        lock (_sync)
        {
            // An acknowledgement for a message a former connection of the session sent was never counted here.
            if (_inFlight > 0)
            {
                _inFlight--;
            }
        }
    }

    /// <summary>Called with the channel's write lock held: the next held packet that may go now, counted as in flight; null when none.</summary>
    public byte[]? TryRelease()
    {
        TaskCompletionSource? room = null;
        byte[]? packet = null;
        lock (_sync)
        {
            if (_held.TryPeek(out var next) && (!next.Counted || _inFlight < _receiveMaximum))
            {
                _held.Dequeue();
                _heldBytes -= next.Packet.Length;
                _inFlight += next.Counted ? 1 : 0;
                packet = next.Packet;
                room = _room;
                _room = null;
            }
        }

        room?.TrySetResult();
        return packet;
    }
}

/// <summary>
/// Topic aliases the server gives the topics it sends to one client: the first <c>maximum</c> distinct topics each
/// get one, set by the first PUBLISH of the topic (topic name and alias) and used by the later ones (alias only, an
/// empty topic name); topics after those go out with their names. Looked up from the packet's UTF-8 without
/// allocating; a topic's bytes are copied once, when it gets its alias.
/// </summary>
internal sealed class OutboundTopicAliases(ushort maximum)
{
    private readonly Dictionary<byte[], ushort> _aliases = new(TopicBytesComparer.Instance);
    private readonly ArrayBufferWriter<byte> _rewritten = new(256);

    /// <summary>The packet to send: <paramref name="publish"/> itself, or its copy with a topic alias.</summary>
    public ReadOnlyMemory<byte> Apply(ReadOnlyMemory<byte> publish)
    {
        ReadOnlySpan<byte> packet = publish.Span;
        if (!MqttWire.TryReadFixedHeader(packet, out int headerLength, out int remaining, out bool malformed) || malformed
            || MqttWire.TryReadPublishHeader(packet, headerLength, remaining, out int topicLength, out _, out _) != MqttWire.PublishHeaderStatus.Complete
            || topicLength == 0)
        {
            return publish;
        }

        ReadOnlySpan<byte> topic = packet.Slice(headerLength + 2, topicLength);
        var lookup = _aliases.GetAlternateLookup<ReadOnlySpan<byte>>();
        bool known = lookup.TryGetValue(topic, out ushort alias);
        if (!known)
        {
            if (_aliases.Count >= maximum)
            {
                return publish;
            }

            alias = (ushort)(_aliases.Count + 1);
            lookup[topic] = alias;
        }

        _rewritten.ResetWrittenCount();
        int length = MqttWire.WriteAliasedPublish(packet, _rewritten.GetSpan(packet.Length + MqttWire.AliasedPublishGrowth), alias, omitTopic: known);
        if (length == 0)
        {
            return publish;
        }

        _rewritten.Advance(length);
        return _rewritten.WrittenMemory;
    }

    private sealed class TopicBytesComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static readonly TopicBytesComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode((ReadOnlySpan<byte>)obj);

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}

/// <summary>
/// The topic aliases an MQTT 5 client has set on its connection (alias → whether set; MQTTnet keeps the topics), so
/// that the framing refuses what MQTTnet 5.2 lets through: an alias of 0 or above the server's Topic Alias Maximum
/// (DISCONNECT 0x94), and an alias used before it was set (DISCONNECT 0x82).
/// </summary>
internal sealed class InboundTopicAliases(ushort maximum)
{
    private readonly ulong[] _set = new ulong[(maximum + 64) / 64];

    /// <summary>0 when the PUBLISH may go on; otherwise the reason code of the DISCONNECT it earns.</summary>
    public byte Check(bool hasTopic, bool hasAlias, ushort alias)
    {
        if (!hasAlias)
        {
            // MQTT 5 §3.3.2.1: without an alias a PUBLISH must name its topic.
            return hasTopic ? (byte)0 : MqttWire.ProtocolError;
        }

        if (alias == 0 || alias > maximum)
        {
            return MqttWire.TopicAliasInvalid;
        }

        ref ulong word = ref _set[alias / 64];
        ulong bit = 1UL << (alias % 64);
        if (hasTopic)
        {
            word |= bit;
            return 0;
        }

        return (word & bit) != 0 ? (byte)0 : MqttWire.ProtocolError;
    }
}
