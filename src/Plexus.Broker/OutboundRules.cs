using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Plexus.Broker;

/// <summary>
/// What MQTTnet.Server 5.2 does not apply when it sends a PUBLISH to a client, applied in its outbound packet
/// interceptor: the message expiry interval (an expired message is not sent; the rest carry their remaining
/// lifetime) and the client's Maximum Packet Size (a larger message is not sent to it). The client's Receive Maximum
/// is applied below MQTTnet, by the connection's channel (<see cref="Transport.OutboundFlow"/>).
/// </summary>
/// <remarks>
/// Hazard: MQTTnet gives a queued QoS 1/2 message its packet identifier when it enqueues it, so one not sent here
/// stays in the session's unacknowledged list until the session ends (it is skipped again if resent).
/// </remarks>
internal sealed class OutboundRules
{
    private readonly TimeProvider _time;

    // Keyed by the payload's array, which every receiver's copy of a message shares with the received one.
    private readonly ConditionalWeakTable<byte[], Arrival> _arrivals = [];

    public OutboundRules(TimeProvider time) => _time = time;

    /// <summary>Notes when a message with an expiry interval arrived (called when it is published).</summary>
    public void Arrived(MQTTnet.MqttApplicationMessage message)
    {
        if (message.MessageExpiryInterval > 0 && PayloadArray(message.Payload) is { } array)
        {
            _arrivals.AddOrUpdate(array, new Arrival(_time.GetTimestamp(), message.MessageExpiryInterval));
        }
    }

    /// <summary>False when the message expired; otherwise its expiry interval is set to the time it has left.</summary>
    public bool ApplyExpiry(MqttPublishPacket publish)
    {
        if (publish.MessageExpiryInterval == 0 || PayloadArray(publish.Payload) is not { } array || !_arrivals.TryGetValue(array, out var arrival))
        {
            return true;
        }

        double waited = _time.GetElapsedTime(arrival.Timestamp).TotalSeconds;
        if (waited >= arrival.Interval)
        {
            return false;
        }

        publish.MessageExpiryInterval = (uint)Math.Max(1, Math.Ceiling(arrival.Interval - waited));
        return true;
    }

    /// <summary>
    /// How long a queued message has left before it expires (null when it has no expiry interval): what a saved
    /// session keeps, so that the time the server is down counts too.
    /// </summary>
    public TimeSpan? Remaining(MqttPublishPacket publish)
    {
        if (publish.MessageExpiryInterval == 0)
        {
            return null;
        }

        if (PayloadArray(publish.Payload) is not { } array || !_arrivals.TryGetValue(array, out var arrival))
        {
            return TimeSpan.FromSeconds(publish.MessageExpiryInterval);
        }

        return TimeSpan.FromSeconds(arrival.Interval) - _time.GetElapsedTime(arrival.Timestamp);
    }

    /// <summary>A restored message with <paramref name="remaining"/> to live counts down from now.</summary>
    public void Restored(MqttPublishPacket publish, TimeSpan remaining)
    {
        publish.MessageExpiryInterval = (uint)Math.Max(1, Math.Ceiling(remaining.TotalSeconds));
        if (PayloadArray(publish.Payload) is { } array)
        {
            _arrivals.AddOrUpdate(array, new Arrival(_time.GetTimestamp(), publish.MessageExpiryInterval));
        }
    }

    private static byte[]? PayloadArray(System.Buffers.ReadOnlySequence<byte> payload) =>
        payload.Length > 0 && MemoryMarshal.TryGetArray(payload.First, out var segment) && segment.Array is { Length: > 0 } array ? array : null;

    /// <summary>
    /// An upper bound of the PUBLISH packet's size on the wire (MQTT 5): compared with a client's Maximum Packet
    /// Size, so that nothing the client would have to refuse is sent to it.
    /// </summary>
    public static long MaximumPacketSize(MqttPublishPacket publish)
    {
        long properties = 0;
        properties += publish.MessageExpiryInterval > 0 ? 5 : 0;
        properties += publish.TopicAlias > 0 ? 3 : 0;
        properties += publish.PayloadFormatIndicator != MqttPayloadFormatIndicator.Unspecified ? 2 : 0;
        properties += publish.ContentType is { } contentType ? 3 + System.Text.Encoding.UTF8.GetByteCount(contentType) : 0;
        properties += publish.ResponseTopic is { } responseTopic ? 3 + System.Text.Encoding.UTF8.GetByteCount(responseTopic) : 0;
        properties += publish.CorrelationData is { } correlation ? 3 + correlation.Length : 0;
        properties += (publish.SubscriptionIdentifiers?.Count ?? 0) * 5;
        if (publish.UserProperties is { } userProperties)
        {
            foreach (var property in userProperties)
            {
                properties += 5 + System.Text.Encoding.UTF8.GetByteCount(property.Name ?? "") + property.ValueBuffer.Length;
            }
        }

        long variable = 2 + System.Text.Encoding.UTF8.GetByteCount(publish.Topic ?? "") + 2 + 4 + properties + publish.Payload.Length;
        return 1 + 4 + variable;
    }

    private sealed record Arrival(long Timestamp, uint Interval);
}
