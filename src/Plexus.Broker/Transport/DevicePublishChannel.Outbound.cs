// What a connection sends back: MQTTnet's packets, the fast path's acknowledgements after their commit, and MQTT 5
// flow control both ways (the client's Receive Maximum holding deliveries back, the server's counting what comes in).
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using Plexus.Broker.Devices;
using Plexus.Pipeline.Devices;

namespace Plexus.Broker.Transport;

internal sealed partial class DevicePublishChannel
{
    /// <summary>
    /// Counts a QoS 1/2 PUBLISH MQTTnet will answer; false when it is one more than the server's Receive Maximum. A
    /// QoS 2 PUBLISH whose flow is already open (a resend with DUP) is the same flow and is not counted again.
    /// </summary>
    private bool CountInbound(int qos, ushort packetId)
    {
        lock (_ackSync)
        {
            if (qos == 2 && !(_awaitingRelease ??= []).Add(packetId))
            {
                return true;
            }

            return ++_inboundInFlight <= _limits.ReceiveMaximum;
        }
    }

    /// <summary>
    /// An answer of MQTTnet's that ends an inbound QoS 1/2 flow (PUBACK; PUBCOMP or a PUBREC with a failure code for a
    /// QoS 2 flow that is open): counted before it is sent, since the client may publish again once it has it. MQTTnet
    /// answers every PUBREL with a PUBCOMP, also one for a packet id the client never published; such a PUBCOMP ends nothing.
    /// </summary>
    private void InboundAnswered(ReadOnlySpan<byte> packet)
    {
        int type = packet[0] >> 4;
        if (type is not (MqttWire.PubAckType or MqttWire.PubCompType or MqttWire.PubRecType)
            || !MqttWire.TryReadFixedHeader(packet, out int headerLength, out int remaining, out _)
            || remaining < 2 || packet.Length < headerLength + 2)
        {
            return;
        }

        bool failed = remaining >= 3 && packet.Length > headerLength + 2 && packet[headerLength + 2] >= 0x80;
        if (type == MqttWire.PubRecType && !failed)
        {
            return;
        }

        ushort packetId = System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(packet[headerLength..]);
        lock (_ackSync)
        {
            bool ends = type == MqttWire.PubAckType || (_awaitingRelease?.Remove(packetId) ?? false);
            if (ends && _inboundInFlight > 0)
            {
                _inboundInFlight--;
            }
        }
    }

    private Step Refuse(MqttInputRefusal refusal, byte reasonCode, long detail)
    {
        _refusalReason = reasonCode;
        _handler.InputRefused(this, refusal, detail);
        return Step.ProtocolRefused;
    }

    private void AcknowledgedByClient(OutboundFlow outbound)
    {
        outbound.Acknowledged();
        if (outbound.HasHeld)
        {
            _ = SendHeldAsync(outbound);
        }
    }

    private async Task SendHeldAsync(OutboundFlow outbound)
    {
        try
        {
            await _writeLock.WaitAsync();
            try
            {
                while (outbound.TryRelease() is { } packet)
                {
                    if (!_disconnectSent)
                    {
                        await _transport.SendAsync(packet, CancellationToken.None);
                    }
                }
            }
            finally
            {
                _writeLock.Release();
            }
        }
        catch (Exception error) when (MqttTransport.IsConnectionLost(error) || error is ObjectDisposedException)
        {
            // The connection is gone: MQTTnet resends what is unacknowledged when the session resumes.
            Close();
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

            if (_v5 && _outgoing.WrittenCount > 0)
            {
                InboundAnswered(_outgoing.WrittenSpan);
                if (_outbound is { } outbound && _outgoing.WrittenSpan[0] >> 4 == MqttWire.PublishType)
                {
                    await SendPublishAsync(outbound, _outgoing.WrittenMemory, cancellationToken);
                    return;
                }
            }

            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                if (!_disconnectSent)
                {
                    await _transport.SendAsync(_outgoing.WrittenMemory, cancellationToken);
                }
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

    /// <summary>A PUBLISH of MQTTnet's to a client that set limits: aliased, then sent, held back or (rarely) waited for.</summary>
    private async Task SendPublishAsync(OutboundFlow outbound, ReadOnlyMemory<byte> packet, CancellationToken cancellationToken)
    {
        if (outbound.Aliases is { } aliases)
        {
            packet = aliases.Apply(packet);
        }

        while (true)
        {
            Task? mustWait = null;
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                if (!outbound.Windowed || outbound.TrySend(packet.Span, out mustWait))
                {
                    if (!_disconnectSent)
                    {
                        await _transport.SendAsync(packet, cancellationToken);
                    }

                    return;
                }

                if (mustWait is null)
                {
                    return;
                }
            }
            finally
            {
                _writeLock.Release();
            }

            await mustWait.WaitAsync(cancellationToken);
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

                // Before the send: the client may publish again as soon as it has these.
                if (_v5)
                {
                    _inboundInFlight = Math.Max(0, _inboundInFlight - count);
                }
            }

            try
            {
                await _writeLock.WaitAsync();
                try
                {
                    if (!_disconnectSent)
                    {
                        await _transport.SendAsync(_acksSending.WrittenMemory, CancellationToken.None);
                    }
                }
                finally
                {
                    _writeLock.Release();
                }
            }
            catch (Exception error) when (MqttTransport.IsConnectionLost(error))
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
}
