using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;

namespace Plexus.Broker.Extensions;

/// <summary>
/// The topic ACL (<see cref="MqttTopicAcl"/>) at every door: a publish, a subscription and the delivery of each
/// message to a client, judged against the principal that owns the client id.
/// </summary>
internal sealed class TopicAclExtension(MqttSessionOwnership owners, ILogger logger)
    : IInterceptingPublishHook, IInterceptingSubscriptionHook, IInterceptingEnqueueHook, IClientDisconnectedHook
{
    // Client ids whose refused publish (or subscription) was logged during their current connection: a client that
    // keeps publishing where it may not would otherwise write a warning per message.
    private readonly ConcurrentDictionary<string, byte> _publishRefusalLogged = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _subscribeRefusalLogged = new(StringComparer.Ordinal);
    private long _publishesRefused;
    private long _subscriptionsRefused;

    /// <summary>Publishes refused by the ACL since start, every one counted (only the first per connection is logged).</summary>
    public long PublishesRefused => Interlocked.Read(ref _publishesRefused);

    /// <summary>Subscriptions refused by the ACL since start.</summary>
    public long SubscriptionsRefused => Interlocked.Read(ref _subscriptionsRefused);

    /// <summary>
    /// The principal a publish is judged as: its client id's owner, or for a delayed will (WillKeeper) that comes
    /// after its session ended, the principal it was published under.
    /// </summary>
    public static MqttPrincipal? PublisherOf(MqttSessionOwnership owners, InterceptingPublishEventArgs e) =>
        owners.HasOwner(e.ClientId) ? owners.PrincipalOf(e.ClientId) : e.SessionItems?[ConnectionEvents.PrincipalKey] as MqttPrincipal;

    /// <summary>
    /// A device publishes only under devices/&lt;its id&gt;/, so the id a message is stored under is the
    /// authenticated one. Refused: MQTT 5 PUBACK 0x87; 3.1.1 acknowledges and drops it.
    /// </summary>
    public Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        var principal = PublisherOf(owners, e);
        string topic = e.ApplicationMessage.Topic;
        bool fromServerTwin = e.SessionItems?[DeviceTwinExtension.TwinKey] is true && string.Equals(e.ClientId, PlexusBroker.ServerClientId, StringComparison.Ordinal);
        if (!MqttTopicAcl.MayPublish(principal, topic) || !owners.AclFileAllows(principal, e.ClientId, topic, read: false)
            || !MqttTopicAcl.MayPublishTwinTopic(principal, topic, fromServerTwin))
        {
            Interlocked.Increment(ref _publishesRefused);
            if (_publishRefusalLogged.TryAdd(e.ClientId, 0))
            {
                MqttAclLog.PublishRefused(logger, principal?.ToString() ?? "unknown client", e.ClientId, topic);
            }

            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    /// <summary>Subscriptions: MQTT 5 SUBACK 0x87, MQTT 3.1.1 SUBACK 0x80 (MQTTnet maps it); a shared one by its inner filter.</summary>
    public Task InterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var principal = owners.PrincipalOf(e.ClientId);
        string filter = SharedSubscriptions.AclFilter(e.TopicFilter.Topic);
        if (!MqttTopicAcl.MaySubscribe(principal, filter) || !owners.AclFileAllows(principal, e.ClientId, filter, read: true))
        {
            Interlocked.Increment(ref _subscriptionsRefused);
            if (_subscribeRefusalLogged.TryAdd(e.ClientId, 0))
            {
                MqttAclLog.SubscribeRefused(logger, principal?.ToString() ?? "unknown client", e.ClientId, filter);
            }

            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Again at delivery: a message is queued for a client only while its session's principal may read the topic
    /// and was not revoked, so a revoked token receives nothing more at once, before its connection is closed and
    /// also into a persistent session.
    /// </summary>
    public Task InterceptingClientEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (!owners.MayReceive(e.ReceiverClientId, e.ApplicationMessage.Topic))
        {
            e.AcceptEnqueue = false;
        }

        return Task.CompletedTask;
    }

    /// <summary>A new connection of the client logs its first refusal again.</summary>
    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        _publishRefusalLogged.TryRemove(e.ClientId, out _);
        _subscribeRefusalLogged.TryRemove(e.ClientId, out _);
        return Task.CompletedTask;
    }
}
