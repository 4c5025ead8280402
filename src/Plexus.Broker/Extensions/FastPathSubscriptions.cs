using MQTTnet.Server;
using Plexus.Broker.Transport;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Keeps the fast path's <see cref="SubscriptionIndex"/> in step with MQTTnet's subscriptions, so that the fast path
/// never takes a message somebody subscribed to.
/// </summary>
internal sealed class FastPathSubscriptions(SubscriptionIndex subscriptions, ConnectedClients clients)
    : IValidatingConnectionHook, IInterceptingSubscriptionHook, IClientUnsubscribedHook, IClientDisconnectedHook, ISessionDeletedHook
{
    /// <summary>A clean start drops the old session's subscriptions.</summary>
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (ConnectionEvents.IsAccepted(e) && e.CleanSession != false)
        {
            subscriptions.RemoveClient(ConnectionEvents.ClientIdOf(e));
        }

        return Task.CompletedTask;
    }

    /// <summary>After the ACL and the shared subscriptions, and before MQTTnet stores it, so the fast path never misses a subscriber that has its SUBACK.</summary>
    public Task InterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        if (e.ProcessSubscription)
        {
            subscriptions.Add(e.ClientId, e.TopicFilter.Topic);
        }

        return Task.CompletedTask;
    }

    public Task ClientUnsubscribedTopicAsync(ClientUnsubscribedTopicEventArgs e)
    {
        subscriptions.Remove(e.ClientId, e.TopicFilter);
        return Task.CompletedTask;
    }

    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType != MqttClientDisconnectType.Takeover && !clients.IsPersistent(e.ClientId))
        {
            subscriptions.RemoveClient(e.ClientId);
        }

        return Task.CompletedTask;
    }

    public Task SessionDeletedAsync(SessionDeletedEventArgs e)
    {
        subscriptions.RemoveClient(e.Id);
        return Task.CompletedTask;
    }
}
