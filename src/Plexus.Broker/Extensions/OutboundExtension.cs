using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Transport;

namespace Plexus.Broker.Extensions;

/// <summary>
/// What leaves the broker, by the MQTT 5 rules MQTTnet.Server 5.2 leaves open (<see cref="OutboundRules"/>): the
/// CONNACK advertises shared subscriptions, the packet size limit, the server's Receive Maximum and Topic Alias
/// Maximum and, when it lowered the client's, its keep-alive (all enforced by the connection's channel:
/// <see cref="DevicePublishChannel"/>); a queued message's expiry interval counts down (and an expired one is not
/// sent), and a message larger than the client's Maximum Packet Size is discarded. The client's Receive Maximum and
/// Topic Alias Maximum are applied by its channel (<see cref="OutboundFlow"/>).
/// </summary>
internal sealed class OutboundExtension(OutboundRules rules, ConnectedClients clients, MqttInputLimits limits, int maxMessageSize, ILogger logger)
    : IInterceptingPublishHook, IOutboundPacketHook
{
    /// <summary>After the storing hooks: the expiry counts from when the message was accepted.</summary>
    public Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        rules.Arrived(e.ApplicationMessage);
        return Task.CompletedTask;
    }

    public Task InterceptingOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck)
        {
            // MQTTnet advertises "no shared subscriptions", no size limit, no Receive Maximum and 65535 topic
            // aliases; what this broker has and enforces is said instead.
            connAck.SharedSubscriptionAvailable = true;
            connAck.MaximumPacketSize = (uint)maxMessageSize;
            connAck.ReceiveMaximum = limits.ReceiveMaximum;
            connAck.TopicAliasMaximum = limits.TopicAliasMaximum;
            if (ConnectionEvents.ChannelOf(e.RemoteEndPoint) is { } channel)
            {
                connAck.ServerKeepAlive = channel.ServerKeepAlive;
                connAck.SessionExpiryInterval = channel.ServerSessionExpiry;
            }

            return Task.CompletedTask;
        }

        if (e.Packet is MqttPublishPacket publish)
        {
            Outbound(e, publish);
        }

        return Task.CompletedTask;
    }

    private void Outbound(InterceptingPacketEventArgs e, MqttPublishPacket publish)
    {

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

        // A topic alias the channel may add takes 3 bytes (and then usually saves the topic name).
        long aliasBytes = ConnectionEvents.ChannelOf(e.RemoteEndPoint) is { AliasesTopics: true } ? 3 : 0;
        if (client.MaximumPacketSize > 0 && OutboundRules.MaximumPacketSize(publish) + aliasBytes > client.MaximumPacketSize)
        {
            // MQTT 5 §3.1.2.11.4: a message the client cannot take is discarded as if sent.
            e.ProcessPacket = false;
            ProtocolLog.TooLargeForClient(logger, e.ClientId, publish.Topic, client.MaximumPacketSize);
        }
    }
}
