using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Shared subscriptions (<see cref="SharedSubscriptions"/>), which MQTTnet.Server 5.2 refuses: the SUBSCRIBE is marked
/// before MQTTnet reads it, the groups are kept here and never stored by MQTTnet, and each accepted message goes to
/// one member of each matching group.
/// </summary>
internal sealed class SharedSubscriptionExtension(SharedSubscriptions shared, MqttSessionOwnership owners, ConnectedClients clients, ILogger logger)
    : IInboundPacketHook, IInterceptingSubscriptionHook, IInterceptingUnsubscriptionHook, IInterceptingPublishHook,
      IValidatingConnectionHook, IClientConnectedHook, IClientDisconnectedHook, ISessionDeletedHook
{
    public Task InterceptingInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttSubscribePacket subscribe)
        {
            SharedSubscriptions.MarkSharedFilters(subscribe);
        }

        return Task.CompletedTask;
    }

    /// <summary>After the ACL allowed the (inner) filter.</summary>
    public Task InterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        string filter = e.TopicFilter.Topic;
        if (!e.ProcessSubscription || !SharedSubscriptions.IsShared(filter))
        {
            return Task.CompletedTask;
        }

        // MQTTnet must not store it (its own matching would deliver every message to every member).
        e.ProcessSubscription = false;
        if (!SharedSubscriptions.TryParse(filter, out string group, out string inner))
        {
            e.Response.ReasonCode = MqttSubscribeReasonCode.TopicFilterInvalid;
            return Task.CompletedTask;
        }

        shared.Subscribe(e.ClientId, e.Session, group, inner, e.TopicFilter.QualityOfServiceLevel);
        ProtocolLog.SharedSubscribed(logger, e.ClientId, group, inner);
        return Task.CompletedTask;
    }

    public Task InterceptingUnsubscriptionAsync(InterceptingUnsubscriptionEventArgs e)
    {
        if (SharedSubscriptions.TryParse(e.Topic, out string group, out string inner))
        {
            e.ProcessUnsubscription = false;
            e.Response.ReasonCode = shared.Unsubscribe(e.ClientId, group, inner) ? MqttUnsubscribeReasonCode.Success : MqttUnsubscribeReasonCode.NoSubscriptionExisted;
        }

        return Task.CompletedTask;
    }

    /// <summary>After the storing hooks: a message they refused is not delivered to shared groups either.</summary>
    public Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.ProcessPublish && !e.CloseConnection && shared.GroupCount > 0)
        {
            shared.Deliver(e.ApplicationMessage, owners.MayReceive);
        }

        return Task.CompletedTask;
    }

    /// <summary>A clean start drops the old session's subscriptions, shared ones included.</summary>
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (ConnectionEvents.IsAccepted(e) && e.CleanSession != false)
        {
            shared.RemoveClient(ConnectionEvents.ClientIdOf(e));
        }

        return Task.CompletedTask;
    }

    public Task ClientConnectedAsync(ClientConnectedEventArgs e)
    {
        shared.SetConnected(e.ClientId, connected: true);
        return Task.CompletedTask;
    }

    /// <summary>A persistent session keeps its memberships for its return; other sessions end with the connection.</summary>
    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType == MqttClientDisconnectType.Takeover)
        {
            return Task.CompletedTask;
        }

        if (clients.IsPersistent(e.ClientId))
        {
            shared.SetConnected(e.ClientId, connected: false);
        }
        else
        {
            shared.RemoveClient(e.ClientId);
        }

        return Task.CompletedTask;
    }

    public Task SessionDeletedAsync(SessionDeletedEventArgs e)
    {
        shared.RemoveClient(e.Id);
        return Task.CompletedTask;
    }
}
