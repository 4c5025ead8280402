// One connection's byte stream, read once, with the input limits (CONNECT first, its size and deadline, each packet's
// size from its fixed header) and the fast path's hand-written MQTT framing in front of MQTTnet, in the order bytes
// meet them; they share one read buffer and its offsets. What goes back to the client (MQTTnet's packets, the fast
// path's acknowledgements, MQTT 5 flow control) is in DevicePublishChannel.Outbound.cs. Hot path, measured.
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using Plexus.Broker.Devices;
using Plexus.Pipeline.Devices;

namespace Plexus.Broker.Transport;
/// <summary>
/// The byte stream MQTTnet reads a connection (TCP, TLS or WebSocket) through, with the input limits and a fast path
/// in front of it. The framing reads each fixed header before MQTTnet does: the first packet must be a CONNECT within
/// <see cref="MqttInputLimits.MaxConnectSize"/> that arrives within the connect timeout, and a later packet over
/// <see cref="MqttInputLimits.MaxPacketSize"/> closes the connection (MQTT 5: DISCONNECT 0x95) before its body is
/// read, so MQTTnet never buffers what a client only announced. The fast path (TCP and TLS): a data PUBLISH that
/// needs nothing from MQTTnet (no subscriber, no retain, no properties, QoS 0 or 1) is decoded straight from the
/// receive buffer into the connection's staging, moved into the shared batch before the next read, and never
/// reaches MQTTnet; every other packet is handed over byte for byte. Reading many packets per system call and skipping MQTTnet's packet objects, dispatch and per-message tasks
/// is what makes device ingest cheaper than forwarding.
/// </summary>
/// <remarks>
/// Two things MQTTnet would otherwise get wrong are made up for here. Its keep-alive only sees packets it read, so
/// after taking packets for a while the channel hands it a PINGREQ of its own and swallows the PINGRESP it answers.
/// And a QoS 1 PUBACK the fast path owes is sent by the channel after the commit, between MQTTnet's packets (writes
/// take one lock); a QoS 1 or 2 PUBLISH that goes to MQTTnet waits until those PUBACKs are out, so acknowledgements
/// leave in the order the messages came.
/// </remarks>
internal sealed partial class DevicePublishChannel : IMqttChannel, IIngestAcknowledger
{
    private const int BufferSize = 32 * 1024;
    private const int MaxRetainedOutgoingBytes = 1 << 20;
    private const int MaxReasonLength = 200;

    // Taken messages committed to the shared batch at once, at most: enough to take the lock once per many
    // messages, few enough that a hundred connections committing together overshoot the open batch only a little.
    internal const int MaxStagedMessages = 32;

    private readonly MqttTransport _transport;
    private readonly IDevicePublishHandler _handler;
    private readonly MqttInputLimits _limits;
    private readonly bool _fastPathAllowed;
    private readonly TimeProvider _time;
    private ITimer? _connectDeadline;
    private bool _connectPassingThrough;
    private bool _inputRefused;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly byte[] _buffer = new byte[BufferSize];
    private int _start;
    private int _end;

    // Bytes of the current packet MQTTnet has still to read; synthetic PINGREQ bytes still to hand over.
    private int _passThrough;
    private int _injected;
    private int _pendingPings;

    private bool _connectSeen;
    private bool _v5;
    private long _pingInterval;
    // On the real clock, not the broker's: the synthetic PINGREQs feed MQTTnet's keep-alive, which MQTTnet times
    // itself on the real clock, so a fake clock here would let MQTTnet drop a connection the fast path keeps busy.
    private static readonly TimeProvider MqttNetClock = TimeProvider.System;
    private long _lastHandedOver = MqttNetClock.GetTimestamp();
    private volatile FastPathIdentity? _identity;

    // The newest shared write this connection's messages went into.
    private long _lastWriteSequence;

    private ArrayBufferWriter<byte> _outgoing = new(1024);

    private readonly Lock _ackSync = new();
    private ArrayBufferWriter<byte> _acks = new(256);
    private ArrayBufferWriter<byte> _acksSending = new(256);
    private int _acksQueued;
    private bool _ackSenderRunning;
    private int _unacknowledged;
    private TaskCompletionSource? _acksDone;
    private int _closed;

    // MQTT 5 rules MQTTnet 5.2 leaves undone (docs/mqtt.md): QoS 1/2 PUBLISHes received and not yet answered
    // (under _ackSync, like the fast path's own count), the aliases the client set, why the connection is refused,
    // and what the client asked of the packets sent to it.
    private int _inboundInFlight;

    // The QoS 2 packet ids whose flow is open (PUBLISH counted, PUBCOMP not sent yet), under _ackSync: only the PUBCOMP
    // of one of these ends a flow, so a PUBREL for an id the client never published cannot lower the count.
    private HashSet<ushort>? _awaitingRelease;

    // Set under the write lock once the framing sent its DISCONNECT: MQTT 5 §4.13 lets nothing follow it, so PUBRECs
    // MQTTnet still had queued for earlier packets are dropped, not sent after it.
    private bool _disconnectSent;
    private InboundTopicAliases? _inboundAliases;
    private byte _refusalReason;
    private OutboundFlow? _outbound;

    /// <param name="connectTimeLeft">What is left of the connect timeout (a TLS handshake took the rest).</param>
    /// <param name="fastPathAllowed">False keeps every packet on MQTTnet's path (WebSocket).</param>
    public DevicePublishChannel(MqttTransport transport, IDevicePublishHandler handler, MqttInputLimits limits, TimeSpan connectTimeLeft, TimeProvider time, bool fastPathAllowed)
    {
        _transport = transport;
        _handler = handler;
        _limits = limits;
        _fastPathAllowed = fastPathAllowed;
        _time = time;
        Staging = handler.CreateStaging();
        RemoteEndPoint = new ChannelEndPoint(transport.RemoteEndPoint as IPEndPoint ?? new IPEndPoint(IPAddress.None, 0), this);
        LocalEndPoint = transport.LocalEndPoint;
        _connectDeadline = time.CreateTimer(static state => ((DevicePublishChannel)state!).ConnectTimedOut(), this, connectTimeLeft > TimeSpan.Zero ? connectTimeLeft : TimeSpan.Zero, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The certificate the client presented in its TLS handshake; null without TLS or when it sent none (MQTTnet's type says otherwise).</summary>
    public X509Certificate2 ClientCertificate => _transport.ClientCertificate!;

    public EndPoint RemoteEndPoint { get; }

    public EndPoint LocalEndPoint { get; }

    public bool IsSecureConnection => _transport.IsSecure;

    /// <summary>The client id MQTTnet accepted for this connection; null before.</summary>
    public string? ClientId { get; set; }

    /// <summary>Messages the fast path took since the last commit into the shared batch (see <see cref="NextPacket"/>).</summary>
    internal DeviceIngest.IngestStaging Staging { get; }

    /// <summary>The protocol level of the CONNECT (4 or 5), 0 before it or for one the fast path does not know.</summary>
    public byte ProtocolLevel { get; private set; }

    /// <summary>MQTT 5: the keep-alive the server imposed for the CONNACK's Server Keep Alive (the client asked for more, or none); 0 when it kept the client's.</summary>
    public ushort ServerKeepAlive { get; private set; }

    /// <summary>
    /// MQTT 5, once MQTTnet accepted the CONNECT: applies the client's Receive Maximum and Topic Alias Maximum to the
    /// PUBLISH packets sent to it (MQTTnet 5.2 applies neither). Before the CONNACK is sent, so before any PUBLISH.
    /// </summary>
    public void LimitOutbound(ushort receiveMaximum, ushort topicAliasMaximum)
    {
        var flow = new OutboundFlow(receiveMaximum, Math.Min(topicAliasMaximum, _limits.TopicAliasMaximum));
        _outbound = flow.Windowed || flow.Aliases is not null ? flow : null;
    }

    /// <summary>MQTT 5: the Session Expiry Interval the server imposed for the CONNACK (the client asked for more); 0 when it kept the client's.</summary>
    public uint ServerSessionExpiry { get; set; }

    /// <summary>MQTT 5: called with the Session Expiry Interval of the client's DISCONNECT, when it carries one, before MQTTnet reads the DISCONNECT.</summary>
    public Action<uint>? SessionExpiryAtDisconnect { get; set; }

    /// <summary>Whether topics sent to this client may carry an alias (3 more bytes a packet, for the client's Maximum Packet Size).</summary>
    public bool AliasesTopics => _outbound?.Aliases is not null;

    /// <summary>Switches the fast path on for a device connection MQTTnet accepted.</summary>
    public void Enable(FastPathIdentity identity)
    {
        if (_fastPathAllowed && ProtocolLevel is 4 or 5)
        {
            _identity = identity;
        }
    }

    public Task ConnectAsync(CancellationToken cancellationToken) => throw new NotSupportedException("a server-side channel is connected already");

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _transport.CloseAsync(cancellationToken);
        }
        catch (Exception error) when (MqttTransport.IsConnectionLost(error) || error is OperationCanceledException)
        {
        }

        Dispose();
    }

    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        while (!_inputRefused)
        {
            if (_injected > 0)
            {
                int n = Math.Min(count, _injected);
                MqttWire.PingRequest.Slice(MqttWire.PingRequest.Length - _injected, n).CopyTo(buffer.AsSpan(offset, n));
                _injected -= n;
                return n;
            }

            if (_passThrough > 0)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                {
                    return 0;
                }

                int n = Math.Min(Math.Min(count, _passThrough), _end - _start);
                _buffer.AsSpan(_start, n).CopyTo(buffer.AsSpan(offset, n));
                _start += n;
                _passThrough -= n;
                if (_passThrough == 0 && _connectPassingThrough)
                {
                    ConnectArrived();
                }

                return n;
            }

            switch (NextPacket())
            {
                case Step.NeedMore:
                    // Everything taken from what was read goes to the shared batch before the next read.
                    if (CommitStaged() is { } wait)
                    {
                        await wait.WaitAsync(cancellationToken);
                    }

                    if (!await FillAsync(cancellationToken))
                    {
                        return 0;
                    }

                    break;
                case Step.Taken:
                    if (Staging.Messages >= MaxStagedMessages && CommitStaged() is { } full)
                    {
                        await full.WaitAsync(cancellationToken);
                    }

                    break;
                case Step.Refused:
                    _inputRefused = true;
                    return 0;
                case Step.TooLarge:
                    _inputRefused = true;
                    await RefuseAsync(MqttWire.DisconnectPacketTooLarge, cancellationToken);
                    return 0;
                case Step.ProtocolRefused:
                    _inputRefused = true;
                    await RefuseAsync(MqttWire.Disconnect(_refusalReason), cancellationToken, drain: true);
                    return 0;
                case Step.WaitForEarlier:
                    // Its acknowledgement must not overtake those of the messages before it, nor their commits.
                    await _handler.WhenStoredAsync(_lastWriteSequence).WaitAsync(cancellationToken);
                    _lastWriteSequence = 0;
                    await WaitForAcksAsync(cancellationToken);
                    HandOver(PacketLengthAtStart());
                    break;
            }
        }

        return 0;
    }

    private enum Step
    {
        NeedMore,
        Taken,
        HandedOver,
        WaitForEarlier,

        /// <summary>An input limit was broken before the CONNECT: the connection is closed, MQTTnet reads its end.</summary>
        Refused,

        /// <summary>A packet after the CONNECT is over the size limit: DISCONNECT 0x95 (MQTT 5), then closed.</summary>
        TooLarge,

        /// <summary>MQTT 5: a PUBLISH breaks the server's Receive Maximum or topic alias rules: DISCONNECT with the reason, then closed.</summary>
        ProtocolRefused,
    }

    private Task? CommitStaged()
    {
        Task? wait = _handler.Commit(this, out long sequence);
        _lastWriteSequence = Math.Max(_lastWriteSequence, sequence);
        return wait;
    }

    private const byte ConnectFirstByte = MqttWire.ConnectType << 4;

    /// <summary>The shortest CONNECT body: protocol name "MQTT" with its length (6), level, flags, keep-alive.</summary>
    private const int MinConnectBody = 10;

    /// <summary>At a packet boundary: takes the next packet, hands it over, or says what it waits for.</summary>
    private Step NextPacket()
    {
        ReadOnlySpan<byte> available = _buffer.AsSpan(_start, _end - _start);
        if (available.Length < 2 || !MqttWire.TryReadFixedHeader(available, out int headerLength, out int remaining, out bool malformed))
        {
            return Step.NeedMore;
        }

        int type = available[0] >> 4;
        long total = (long)headerLength + remaining;
        if (!_connectSeen)
        {
            // Unauthenticated: refused on the fixed header alone, before a byte of the body is buffered anywhere. A CONNECT's
            // flags are 0 and its body holds at least the protocol name, level, flags and keep-alive (10 bytes): other
            // protocols on this port (a TLS ClientHello starts 0x16 0x03, like a 3-byte CONNECT with flags 6) are refused
            // here as one line in the log, not handed to MQTTnet, which logs them as errors with a stack trace.
            MqttInputRefusal? refusal = type != MqttWire.ConnectType || available[0] != ConnectFirstByte || remaining < MinConnectBody || malformed
                ? MqttInputRefusal.NotConnectFirst
                : total > _limits.MaxConnectSize ? MqttInputRefusal.ConnectTooLarge
                : null;
            if (refusal is { } refused)
            {
                _handler.InputRefused(this, refused, total);
                Close();
                return Step.Refused;
            }
        }
        else if (total > _limits.MaxPacketSize)
        {
            _handler.InputRefused(this, MqttInputRefusal.PacketTooLarge, total);
            return Step.TooLarge;
        }

        if (malformed)
        {
            // MQTTnet reads the same bytes and reports the protocol violation.
            HandOver(headerLength);
            return Step.HandedOver;
        }

        var identity = _identity;
        bool inspect = (type == MqttWire.PublishType && identity is not null) || (type == MqttWire.ConnectType && !_connectSeen);
        if (!inspect || total > _buffer.Length)
        {
            if (type == MqttWire.ConnectType && !_connectSeen)
            {
                // A CONNECT larger than the buffer (a large will): its level and keep-alive are read from its first
                // bytes, and the deadline holds until its last byte is handed over.
                if (available.Length < headerLength + MinConnectBody)
                {
                    return Step.NeedMore;
                }

                ReadConnect(headerLength);
                _connectSeen = true;
                _connectPassingThrough = true;
            }
            else if (_v5 && _connectSeen && CheckMqtt5(available, type, headerLength, remaining) is { } verdict)
            {
                return verdict;
            }

            HandOver((int)total);
            return Step.HandedOver;
        }

        if (available.Length < total)
        {
            return Step.NeedMore;
        }

        ReadOnlySpan<byte> packet = available[..(int)total];
        if (type == MqttWire.ConnectType)
        {
            _connectSeen = true;
            ConnectArrived();
            ReadConnect(headerLength);
            HandOver((int)total);
            return Step.HandedOver;
        }

        if (!MqttWire.TryParsePublish(packet, headerLength, _v5, out PublishView publish))
        {
            HandOver((int)total);
            return Step.HandedOver;
        }

        if (_v5)
        {
            // What the fast path adds for MQTT 5: a comparison for a QoS 1 message; a packet with properties (never
            // taken here) or without a topic name has its topic alias checked.
            if ((publish.HasProperties || publish.Topic.IsEmpty) && CheckTopicAlias(packet, headerLength, remaining) is { } refused)
            {
                return refused;
            }

            if (publish.Qos > 0 && Volatile.Read(ref _inboundInFlight) >= _limits.ReceiveMaximum)
            {
                return Refuse(MqttInputRefusal.ReceiveMaximumExceeded, MqttWire.ReceiveMaximumExceeded, total);
            }
        }

        if (_handler.TryTake(this, identity!, in publish))
        {
            // Counted before its commit, the only thing that can acknowledge it, can start: Commit runs on this thread.
            if (publish.Qos == 1)
            {
                lock (_ackSync)
                {
                    _unacknowledged++;
                    if (_v5)
                    {
                        _inboundInFlight++;
                    }
                }
            }

            _start += (int)total;
            if (_pingInterval > 0 && MqttNetClock.GetTimestamp() - _lastHandedOver >= _pingInterval)
            {
                _injected = MqttWire.PingRequest.Length;
                Interlocked.Increment(ref _pendingPings);
                _lastHandedOver = MqttNetClock.GetTimestamp();
            }

            return Step.Taken;
        }

        if (publish.Qos > 0)
        {
            if (_v5)
            {
                CountInbound(publish.Qos, publish.PacketId);
            }

            CommitStaged();
            if (Volatile.Read(ref _unacknowledged) > 0 || _lastWriteSequence > 0)
            {
                return Step.WaitForEarlier;
            }
        }

        HandOver((int)total);
        return Step.HandedOver;
    }

    /// <summary>
    /// The CONNECT's protocol level and keep-alive, from its first bytes at <c>_start</c>. MQTT 5 §3.2.2.3.14: a
    /// keep-alive above the server's maximum, or none, is replaced by the maximum in the bytes MQTTnet reads, so
    /// MQTTnet enforces it (1.5 times it without a packet closes the connection), and the CONNACK tells the client
    /// (<see cref="ServerKeepAlive"/>). MQTT 3.1.1 has no way to tell a client: its keep-alive stays.
    /// </summary>
    private void ReadConnect(int headerLength)
    {
        if (!MqttWire.TryReadConnect(_buffer.AsSpan(_start, _end - _start), headerLength, out byte level, out ushort keepAlive))
        {
            return;
        }

        ProtocolLevel = level;
        _v5 = level == 5;
        if (_v5 && _limits.MaxKeepAlive > 0 && (keepAlive == 0 || keepAlive > _limits.MaxKeepAlive))
        {
            keepAlive = _limits.MaxKeepAlive;
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(_start + headerLength + MqttWire.ConnectKeepAliveOffset), keepAlive);
            ServerKeepAlive = keepAlive;
        }

        // A third of the keep-alive: MQTTnet disconnects after one and a half without a packet it read.
        _pingInterval = keepAlive == 0 ? 0 : MqttNetClock.TimestampFrequency * Math.Clamp(keepAlive * 1000L / 3, 100, 10_000) / 1000;
    }

    /// <summary>
    /// MQTT 5 packets on MQTTnet's path, read from as much as arrived: a PUBLISH's topic alias and the server's Receive
    /// Maximum; the client's acknowledgements of what was sent to it. Null lets the packet go to MQTTnet.
    /// </summary>
    private Step? CheckMqtt5(ReadOnlySpan<byte> available, int type, int headerLength, int remaining)
    {
        if (type == MqttWire.PublishType)
        {
            var header = MqttWire.TryReadPublishHeader(available, headerLength, remaining, out int topicLength, out int propertiesStart, out int propertiesLength);
            if (header == MqttWire.PublishHeaderStatus.NeedMore)
            {
                // A topic and properties that do not fit the receive buffer cannot be checked for a topic alias (which
                // MQTTnet would take at any value, holding its topic for the connection's life): refused, not passed on.
                return available.Length < _buffer.Length
                    ? Step.NeedMore
                    : Refuse(MqttInputRefusal.PublishHeaderTooLarge, MqttWire.ImplementationSpecificError, BufferSize);
            }

            if (header == MqttWire.PublishHeaderStatus.Complete
                && CheckTopicAlias(topicLength > 0, available.Slice(propertiesStart, propertiesLength), (long)headerLength + remaining) is { } refused)
            {
                return refused;
            }

            int qos = (available[0] >> 1) & 0x03;
            if (qos > 0 && header == MqttWire.PublishHeaderStatus.Complete
                && !CountInbound(qos, System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(available[(headerLength + 2 + topicLength)..])))
            {
                return Refuse(MqttInputRefusal.ReceiveMaximumExceeded, MqttWire.ReceiveMaximumExceeded, (long)headerLength + remaining);
            }

            return null;
        }

        if (type == MqttWire.DisconnectType && SessionExpiryAtDisconnect is { } setExpiry && headerLength + remaining <= _buffer.Length)
        {
            // MQTT 5 §3.14.2.2.2: the DISCONNECT's Session Expiry Interval replaces the CONNECT's; MQTTnet 5.2 cannot
            // tell one of 0 (end the session now) from none, so it is read here, before MQTTnet reads the packet.
            if (available.Length < headerLength + remaining)
            {
                return Step.NeedMore;
            }

            if (MqttWire.TryReadDisconnectSessionExpiry(available[..(headerLength + remaining)], headerLength, out uint interval))
            {
                setExpiry(interval);
            }

            return null;
        }

        if (_outbound is { } outbound)
        {
            if (type == MqttWire.PubRecType && remaining >= 3)
            {
                // MQTT 5 §4.9: a PUBREC with a failure code ends the flow as a PUBCOMP does.
                if (available.Length < headerLength + 3)
                {
                    return Step.NeedMore;
                }

                if (available[headerLength + 2] >= 0x80)
                {
                    AcknowledgedByClient(outbound);
                }
            }
            else if (type is MqttWire.PubAckType or MqttWire.PubCompType)
            {
                AcknowledgedByClient(outbound);
            }
        }

        return null;
    }

    private Step? CheckTopicAlias(ReadOnlySpan<byte> packet, int headerLength, int remaining)
    {
        var header = MqttWire.TryReadPublishHeader(packet, headerLength, remaining, out int topicLength, out int propertiesStart, out int propertiesLength);
        return header == MqttWire.PublishHeaderStatus.Complete
            ? CheckTopicAlias(topicLength > 0, packet.Slice(propertiesStart, propertiesLength), packet.Length)
            : null;
    }

    private Step? CheckTopicAlias(bool hasTopic, ReadOnlySpan<byte> properties, long packetSize)
    {
        int found = MqttWire.FindProperty(properties, MqttWire.TopicAliasProperty, out uint value);
        ushort alias = (ushort)value;
        if (found < 0)
        {
            // Unreadable properties: MQTTnet reports the malformed packet.
            return null;
        }

        byte reason = (_inboundAliases ??= new InboundTopicAliases(_limits.TopicAliasMaximum)).Check(hasTopic, found > 0, alias);
        return reason == 0 ? null
            : Refuse(reason == MqttWire.TopicAliasInvalid ? MqttInputRefusal.TopicAliasInvalid : MqttInputRefusal.TopicAliasUnknown, reason, found > 0 ? alias : packetSize);
    }

    private void ConnectArrived()
    {
        _connectPassingThrough = false;
        Interlocked.Exchange(ref _connectDeadline, null)?.Dispose();
    }

    private void ConnectTimedOut()
    {
        if (Interlocked.Exchange(ref _connectDeadline, null) is { } deadline)
        {
            deadline.Dispose();
            _handler.InputRefused(this, MqttInputRefusal.ConnectTimeout, 0);
            Close();
        }
    }

    /// <summary>
    /// MQTT 5: a DISCONNECT with the reason (0x95 Packet too large, §3.14.2.1; 0x93, 0x94, 0x82 for the flow-control
    /// and topic-alias rules), then the connection is closed; MQTT 3.1.1 just closes.
    /// </summary>
    /// <param name="drain">
    /// Reads (and drops) what the client still sends, for a moment, before closing: a client in the middle of a flow
    /// (answering PUBRECs with PUBRELs) would otherwise have its writes reset by the closed socket before it read the
    /// DISCONNECT that says why. At most <see cref="DrainTime"/> and <see cref="DrainBytes"/>.
    /// </param>
    private async Task RefuseAsync(ReadOnlyMemory<byte> disconnect, CancellationToken cancellationToken, bool drain = false)
    {
        if (_v5)
        {
            try
            {
                await _writeLock.WaitAsync(cancellationToken);
                try
                {
                    await _transport.SendAsync(disconnect, cancellationToken);
                    _disconnectSent = true;
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            catch (Exception error) when (MqttTransport.IsConnectionLost(error) || error is OperationCanceledException)
            {
                drain = false;
            }

            if (drain)
            {
                await DrainAsync(cancellationToken);
            }
        }

        Close();
    }

    private static readonly TimeSpan DrainTime = TimeSpan.FromSeconds(1);
    private const int DrainBytes = 1 << 20;

    private async Task DrainAsync(CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(DrainTime, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            for (int drained = 0; drained < DrainBytes;)
            {
                int read = await _transport.ReceiveAsync(_buffer, linked.Token);
                if (read == 0)
                {
                    return;
                }

                drained += read;
            }
        }
        catch (Exception error) when (MqttTransport.IsConnectionLost(error) || error is OperationCanceledException)
        {
        }
    }

    private int PacketLengthAtStart()
    {
        MqttWire.TryReadFixedHeader(_buffer.AsSpan(_start, _end - _start), out int headerLength, out int remaining, out _);
        return headerLength + remaining;
    }

    private void HandOver(int packetLength)
    {
        // What was taken before this packet is in the shared batch before MQTTnet sees the packet (its wait for
        // room, if any, is skipped: the packet handed over is one message).
        CommitStaged();
        _passThrough = packetLength;
        _lastHandedOver = MqttNetClock.GetTimestamp();
    }

    /// <summary>Reads more from the socket; false at the end of the connection. Pooled: a device's every message
    /// usually waits here once, and a fresh state machine each time would be garbage per message.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = _end = 0;
        }
        else if (_end == _buffer.Length || (_start > 0 && _buffer.Length - _end < 4096))
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        try
        {
            int read = await _transport.ReceiveAsync(_buffer.AsMemory(_end), cancellationToken);
            _end += read;
            return read > 0;
        }
        catch (Exception error) when (MqttTransport.IsConnectionLost(error) || (error is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            // An aborted WebSocket throws OperationCanceledException: it must read as the end of the connection,
            // since MQTTnet takes a cancellation it did not ask for as an empty packet.
            return false;
        }
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        _transport.Shutdown();
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _connectDeadline, null)?.Dispose();
        Close();
        _transport.Dispose();
    }
}
