using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Plexus.Broker.Extensions;

/// <summary>
/// What leaves the broker, by the MQTT 5 rules MQTTnet.Server 5.2 leaves open (<see cref="OutboundRules"/>): the
/// CONNACK advertises shared subscriptions and the packet size limit, a queued message's expiry interval counts down
/// (and an expired one is not sent), a message larger than the client's Maximum Packet Size is discarded, and no
/// more QoS 1/2 messages are in flight to a client than its Receive Maximum.
/// </summary>
internal sealed class OutboundExtension(OutboundRules rules, ConnectedClients clients, int maxMessageSize, ILogger logger)
    : IInterceptingPublishHook, IInboundPacketHook, IOutboundPacketHook
{
    /// <summary>After the storing hooks: the expiry counts from when the message was accepted.</summary>
    public Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        rules.Arrived(e.ApplicationMessage);
        return Task.CompletedTask;
    }

    public Task InterceptingInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPubAckPacket or MqttPubCompPacket && clients.TryGet(e.ClientId, out var client))
        {
            client.Window?.Acknowledged();
        }

        return Task.CompletedTask;
    }

    public async Task InterceptingOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck)
        {
            // MQTTnet advertises "no shared subscriptions" and no size limit; this broker has both.
            connAck.SharedSubscriptionAvailable = true;
            connAck.MaximumPacketSize = (uint)maxMessageSize;
            return;
        }

        if (e.Packet is not MqttPublishPacket publish)
        {
            return;
        }

        if (!rules.ApplyExpiry(publish))
        {
            e.ProcessPacket = false;
            ProtocolLog.ExpiredNotSent(logger, e.ClientId, publish.Topic);
            return;
        }

        if (!clients.TryGet(e.ClientId, out var client))
        {
            return;
        }

        if (client.MaximumPacketSize > 0 && OutboundRules.MaximumPacketSize(publish) > client.MaximumPacketSize)
        {
            // MQTT 5 §3.1.2.11.4: a message the client cannot take is discarded as if sent.
            e.ProcessPacket = false;
            ProtocolLog.TooLargeForClient(logger, e.ClientId, publish.Topic, client.MaximumPacketSize);
            return;
        }

        if (client.Window is { } window && publish.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce)
        {
            // Holds this client's send loop only, until it acknowledges an earlier message.
            await window.WaitAsync(e.CancellationToken);
        }
    }
}
