using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using Plexus.Broker.Devices;

namespace Plexus.Broker.Transport;

/// <summary>
/// Who a connection's fast path publishes for, set once MQTTnet accepted the CONNECT: a device (its own topics
/// only) or an application whose token may write (any device's topics, e.g. a gateway or Telegraf).
/// </summary>
internal sealed class FastPathIdentity
{
    private FastPathIdentity(string clientId, string? deviceId, uint maximumPacketSize)
    {
        ClientId = clientId;
        DeviceId = deviceId;
        TopicPrefix = System.Text.Encoding.UTF8.GetBytes(DeviceTopic.Prefix + deviceId + (deviceId is null ? "" : "/"));
        MaximumPacketSize = maximumPacketSize;
    }

    public static FastPathIdentity ForDevice(string clientId, string deviceId, uint maximumPacketSize) => new(clientId, deviceId, maximumPacketSize);

    public static FastPathIdentity ForApplication(string clientId, uint maximumPacketSize) => new(clientId, null, maximumPacketSize);

    public string ClientId { get; }

    /// <summary>The device this connection is; null for an application, which names the device in each topic.</summary>
    public string? DeviceId { get; }

    /// <summary><c>devices/&lt;id&gt;/</c> in UTF-8 for a device (the only topics it may publish to), <c>devices/</c> for an application.</summary>
    public byte[] TopicPrefix { get; }

    /// <summary>The client's MQTT 5 Maximum Packet Size (0: none), which a PUBACK reason string must respect.</summary>
    public uint MaximumPacketSize { get; }

    /// <summary>When the fast path next records the device as seen (a <see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long NextActivityUpdate { get; set; }

    // The last measurement name and (for an application) device id read from a topic, with their UTF-8: a
    // connection usually repeats them. Fields, as the topic parser updates them by reference.
    internal (byte[] Bytes, string Text)? LastMeasurement;
    internal (byte[] Bytes, string Text)? LastDevice;
}

/// <summary>Takes (or declines) a device's PUBLISH before MQTTnet decodes it.</summary>
internal interface IDevicePublishHandler
{
    /// <summary>
    /// True when the message is dealt with: decoded into the connection's staging (or dropped as the rules say);
    /// false hands it to MQTTnet unchanged.
    /// </summary>
    bool TryTake(DevicePublishChannel channel, FastPathIdentity identity, in PublishView publish);

    /// <summary>
    /// Moves what the connection staged into the shared batch. Returns a task when the connection should read
    /// nothing more until it completes; <paramref name="sequence"/> names the shared write they went into.
    /// </summary>
    Task? Commit(DevicePublishChannel channel, out long sequence);

    /// <summary>Completes once the shared write <paramref name="sequence"/> that <see cref="Commit"/> reported is committed (or failed).</summary>
    Task WhenStoredAsync(long sequence);

    DeviceIngest.IngestStaging CreateStaging();
}

/// <summary>
/// The byte stream MQTTnet reads a TCP connection through, with a fast path in front of it: a data PUBLISH that
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
internal sealed class DevicePublishChannel : IMqttChannel, IIngestAcknowledger
{
    private const int BufferSize = 32 * 1024;
    private const int MaxRetainedOutgoingBytes = 1 << 20;
    private const int MaxReasonLength = 200;

    // Taken messages committed to the shared batch at once, at most: enough to take the lock once per many
    // messages, few enough that a hundred connections committing together overshoot the open batch only a little.
    internal const int MaxStagedMessages = 32;

    private readonly Socket _socket;
    private readonly IDevicePublishHandler _handler;
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
    private long _lastHandedOver = Stopwatch.GetTimestamp();
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

    public DevicePublishChannel(Socket socket, IDevicePublishHandler handler)
    {
        _socket = socket;
        _handler = handler;
        Staging = handler.CreateStaging();
        RemoteEndPoint = socket.RemoteEndPoint!;
        LocalEndPoint = socket.LocalEndPoint!;
    }

    public X509Certificate2 ClientCertificate => null!;

    public EndPoint RemoteEndPoint { get; }

    public EndPoint LocalEndPoint { get; }

    public bool IsSecureConnection => false;

    /// <summary>Messages the fast path took since the last commit into the shared batch (see <see cref="NextPacket"/>).</summary>
    internal DeviceIngest.IngestStaging Staging { get; }

    /// <summary>The protocol level of the CONNECT (4 or 5), 0 before it or for one the fast path does not know.</summary>
    public byte ProtocolLevel { get; private set; }

    /// <summary>Switches the fast path on for a device connection MQTTnet accepted.</summary>
    public void Enable(FastPathIdentity identity)
    {
        if (ProtocolLevel is 4 or 5)
        {
            _identity = identity;
        }
    }

    public Task ConnectAsync(CancellationToken cancellationToken) => throw new NotSupportedException("a server-side channel is connected already");

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        while (true)
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
                case Step.WaitForEarlier:
                    // Its acknowledgement must not overtake those of the messages before it, nor their commits.
                    await _handler.WhenStoredAsync(_lastWriteSequence).WaitAsync(cancellationToken);
                    _lastWriteSequence = 0;
                    await WaitForAcksAsync(cancellationToken);
                    HandOver(PacketLengthAtStart());
                    break;
            }
        }
    }

    private enum Step
    {
        NeedMore,
        Taken,
        HandedOver,
        WaitForEarlier,
    }

    private Task? CommitStaged()
    {
        Task? wait = _handler.Commit(this, out long sequence);
        _lastWriteSequence = Math.Max(_lastWriteSequence, sequence);
        return wait;
    }

    /// <summary>At a packet boundary: takes the next packet, hands it over, or says what it waits for.</summary>
    private Step NextPacket()
    {
        ReadOnlySpan<byte> available = _buffer.AsSpan(_start, _end - _start);
        if (available.Length < 2 || !MqttWire.TryReadFixedHeader(available, out int headerLength, out int remaining, out bool malformed))
        {
            return Step.NeedMore;
        }

        if (malformed)
        {
            // MQTTnet reads the same bytes and reports the protocol violation.
            HandOver(headerLength);
            return Step.HandedOver;
        }

        int total = headerLength + remaining;
        int type = available[0] >> 4;
        var identity = _identity;
        bool inspect = (type == MqttWire.PublishType && identity is not null) || (type == MqttWire.ConnectType && !_connectSeen);
        if (!inspect || total > _buffer.Length)
        {
            _connectSeen |= type == MqttWire.ConnectType;
            HandOver(total);
            return Step.HandedOver;
        }

        if (available.Length < total)
        {
            return Step.NeedMore;
        }

        ReadOnlySpan<byte> packet = available[..total];
        if (type == MqttWire.ConnectType)
        {
            _connectSeen = true;
            if (MqttWire.TryReadConnect(packet, headerLength, out byte level, out ushort keepAlive))
            {
                ProtocolLevel = level;
                _v5 = level == 5;

                // A third of the keep-alive: MQTTnet disconnects after one and a half without a packet it read.
                _pingInterval = keepAlive == 0 ? 0 : Stopwatch.Frequency * Math.Clamp(keepAlive * 1000L / 3, 100, 10_000) / 1000;
            }

            HandOver(total);
            return Step.HandedOver;
        }

        if (!MqttWire.TryParsePublish(packet, headerLength, _v5, out PublishView publish))
        {
            HandOver(total);
            return Step.HandedOver;
        }

        if (_handler.TryTake(this, identity!, in publish))
        {
            // Counted before its commit, the only thing that can acknowledge it, can start: Commit runs on this thread.
            if (publish.Qos == 1)
            {
                lock (_ackSync)
                {
                    _unacknowledged++;
                }
            }

            _start += total;
            if (_pingInterval > 0 && Stopwatch.GetTimestamp() - _lastHandedOver >= _pingInterval)
            {
                _injected = MqttWire.PingRequest.Length;
                Interlocked.Increment(ref _pendingPings);
                _lastHandedOver = Stopwatch.GetTimestamp();
            }

            return Step.Taken;
        }

        if (publish.Qos > 0)
        {
            CommitStaged();
            if (Volatile.Read(ref _unacknowledged) > 0 || _lastWriteSequence > 0)
            {
                return Step.WaitForEarlier;
            }
        }

        HandOver(total);
        return Step.HandedOver;
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
        _lastHandedOver = Stopwatch.GetTimestamp();
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
            int read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
            _end += read;
            return read > 0;
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    public async Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            _outgoing.Write(segment.Span);
        }

        if (!isEndOfPacket)
        {
            return;
        }

        try
        {
            if (_outgoing.WrittenSpan.SequenceEqual(MqttWire.PingResponse) && TryTakePendingPing())
            {
                return;
            }

            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await SendAllAsync(_outgoing.WrittenMemory, cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
        }
        finally
        {
            if (_outgoing.Capacity > MaxRetainedOutgoingBytes)
            {
                _outgoing = new ArrayBufferWriter<byte>(1024);
            }
            else
            {
                _outgoing.ResetWrittenCount();
            }
        }
    }

    private bool TryTakePendingPing()
    {
        int pending;
        do
        {
            pending = Volatile.Read(ref _pendingPings);
            if (pending == 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref _pendingPings, pending - 1, pending) != pending);
        return true;
    }

    private async ValueTask SendAllAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await _socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    /// <summary>Queues the PUBACK of a fast-path QoS 1 message; sent after the ones queued before it.</summary>
    public void Acknowledge(ushort packetId, in DeviceIngestOutcome outcome)
    {
        // As MQTTnet answers on the ordinary path: the fast path only takes messages nobody subscribes to, so a
        // stored one is 0x10 No matching subscribers (a success code).
        (byte reasonCode, string? reason) = outcome.Status switch
        {
            DeviceIngestStatus.Rejected => ((byte)0x99, Truncate(outcome.Reason)),
            DeviceIngestStatus.PartlyStored => ((byte)0x10, Truncate(outcome.Reason)),
            _ => ((byte)0x10, null),
        };
        Span<byte> ack = stackalloc byte[MqttWire.MaxPubAckSize(MaxReasonLength + 1)];
        int length = MqttWire.WritePubAck(ack, packetId, _v5, reasonCode, reason, _identity?.MaximumPacketSize ?? 0);
        lock (_ackSync)
        {
            _acks.Write(ack[..length]);
            _acksQueued++;
            if (_ackSenderRunning)
            {
                return;
            }

            _ackSenderRunning = true;
        }

        _ = SendAcksAsync();
    }

    /// <summary>The commit failed: the connection is closed unacknowledged, so the client resends after reconnecting.</summary>
    public void Fail(Exception error)
    {
        AcksResolved(1);
        Close();
    }

    private static string? Truncate(string? reason) => reason is { Length: > MaxReasonLength } ? reason[..MaxReasonLength] + "…" : reason;

    private async Task SendAcksAsync()
    {
        while (true)
        {
            int count;
            lock (_ackSync)
            {
                if (_acksQueued == 0)
                {
                    _ackSenderRunning = false;
                    return;
                }

                (_acks, _acksSending) = (_acksSending, _acks);
                count = _acksQueued;
                _acksQueued = 0;
            }

            try
            {
                await _writeLock.WaitAsync();
                try
                {
                    await SendAllAsync(_acksSending.WrittenMemory, CancellationToken.None);
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            catch (Exception error) when (error is SocketException or ObjectDisposedException or IOException)
            {
                // The connection is gone; the client resends what it has no PUBACK for.
                Close();
            }
            finally
            {
                _acksSending.ResetWrittenCount();
                AcksResolved(count);
            }
        }
    }

    private void AcksResolved(int count)
    {
        TaskCompletionSource? done = null;
        lock (_ackSync)
        {
            _unacknowledged -= count;
            if (_unacknowledged == 0)
            {
                done = _acksDone;
                _acksDone = null;
            }
        }

        done?.TrySetResult();
    }

    private async Task WaitForAcksAsync(CancellationToken cancellationToken)
    {
        Task wait;
        lock (_ackSync)
        {
            if (_unacknowledged == 0)
            {
                return;
            }

            _acksDone ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            wait = _acksDone.Task;
        }

        await wait.WaitAsync(cancellationToken);
    }

    private void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        Close();
        _socket.Dispose();
    }
}
