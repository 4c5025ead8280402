using MQTTnet.Server;

namespace Plexus.Broker.Extensions;

/// <summary>
/// One concern of the broker wired to MQTTnet.Server (authentication, topic ACL, retained messages, the fast path…).
/// An extension implements the hook interfaces of the events it handles; <see cref="BrokerExtensions"/> calls each
/// event's hooks in the order of the broker's one list.
/// </summary>
internal interface IBrokerExtension;

internal interface IValidatingConnectionHook : IBrokerExtension
{
    Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e);
}

internal interface IClientConnectedHook : IBrokerExtension
{
    Task ClientConnectedAsync(ClientConnectedEventArgs e);
}

internal interface IClientDisconnectedHook : IBrokerExtension
{
    Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e);
}

internal interface ISessionDeletedHook : IBrokerExtension
{
    Task SessionDeletedAsync(SessionDeletedEventArgs e);
}

internal interface IInterceptingPublishHook : IBrokerExtension
{
    Task InterceptingPublishAsync(InterceptingPublishEventArgs e);
}

internal interface IInterceptingSubscriptionHook : IBrokerExtension
{
    Task InterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e);
}

internal interface IInterceptingUnsubscriptionHook : IBrokerExtension
{
    Task InterceptingUnsubscriptionAsync(InterceptingUnsubscriptionEventArgs e);
}

internal interface IClientSubscribedHook : IBrokerExtension
{
    Task ClientSubscribedTopicAsync(ClientSubscribedTopicEventArgs e);
}

internal interface IClientAcknowledgedPublishHook : IBrokerExtension
{
    Task ClientAcknowledgedPublishPacketAsync(ClientAcknowledgedPublishPacketEventArgs e);
}

internal interface IClientUnsubscribedHook : IBrokerExtension
{
    Task ClientUnsubscribedTopicAsync(ClientUnsubscribedTopicEventArgs e);
}

internal interface IInterceptingEnqueueHook : IBrokerExtension
{
    Task InterceptingClientEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e);
}

internal interface IEnqueuedOrDroppedHook : IBrokerExtension
{
    Task ApplicationMessageEnqueuedOrDroppedAsync(ApplicationMessageEnqueuedEventArgs e);
}

internal interface IInboundPacketHook : IBrokerExtension
{
    Task InterceptingInboundPacketAsync(InterceptingPacketEventArgs e);
}

internal interface IOutboundPacketHook : IBrokerExtension
{
    Task InterceptingOutboundPacketAsync(InterceptingPacketEventArgs e);
}

internal interface IRetainedMessagesHook : IBrokerExtension
{
    Task LoadingRetainedMessagesAsync(LoadingRetainedMessagesEventArgs e);

    Task RetainedMessagesClearedAsync(EventArgs e);
}

internal interface IServerStoppedHook : IBrokerExtension
{
    Task ServerStoppedAsync(EventArgs e);
}

/// <summary>
/// The dispatcher: one handler per MQTTnet event, which awaits the hooks of that event one after the other in list
/// order. An extension that throws stops the chain, and the exception goes to MQTTnet as if the event had one
/// handler: the hooks after it would otherwise act on an event whose outcome is unknown (a connection the
/// authentication did not finish, a publish the ACL did not judge), and MQTTnet answers a failed interceptor by
/// refusing the CONNECT or dropping the packet.
/// </summary>
/// <remarks>
/// Hot path: an event whose hooks all complete synchronously allocates nothing (the loop's async state machine
/// stays on the stack and returns the cached completed task); events no extension hooks are not subscribed.
/// </remarks>
internal sealed class BrokerExtensions(IReadOnlyList<IBrokerExtension> ordered)
{
    public IReadOnlyList<IBrokerExtension> Ordered { get; } = ordered;

    public void AttachTo(MqttServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        if (Chain<IValidatingConnectionHook, ValidatingConnectionEventArgs>(static (x, e) => x.ValidatingConnectionAsync(e)) is { } validating)
        {
            server.ValidatingConnectionAsync += validating;
        }

        if (Chain<IClientConnectedHook, ClientConnectedEventArgs>(static (x, e) => x.ClientConnectedAsync(e)) is { } connected)
        {
            server.ClientConnectedAsync += connected;
        }

        if (Chain<IClientDisconnectedHook, ClientDisconnectedEventArgs>(static (x, e) => x.ClientDisconnectedAsync(e)) is { } disconnected)
        {
            server.ClientDisconnectedAsync += disconnected;
        }

        if (Chain<ISessionDeletedHook, SessionDeletedEventArgs>(static (x, e) => x.SessionDeletedAsync(e)) is { } sessionDeleted)
        {
            server.SessionDeletedAsync += sessionDeleted;
        }

        if (Chain<IInterceptingPublishHook, InterceptingPublishEventArgs>(static (x, e) => x.InterceptingPublishAsync(e)) is { } publish)
        {
            server.InterceptingPublishAsync += publish;
        }

        if (Chain<IInterceptingSubscriptionHook, InterceptingSubscriptionEventArgs>(static (x, e) => x.InterceptingSubscriptionAsync(e)) is { } subscription)
        {
            server.InterceptingSubscriptionAsync += subscription;
        }

        if (Chain<IInterceptingUnsubscriptionHook, InterceptingUnsubscriptionEventArgs>(static (x, e) => x.InterceptingUnsubscriptionAsync(e)) is { } unsubscription)
        {
            server.InterceptingUnsubscriptionAsync += unsubscription;
        }

        if (Chain<IClientSubscribedHook, ClientSubscribedTopicEventArgs>(static (x, e) => x.ClientSubscribedTopicAsync(e)) is { } subscribed)
        {
            server.ClientSubscribedTopicAsync += subscribed;
        }

        if (Chain<IClientAcknowledgedPublishHook, ClientAcknowledgedPublishPacketEventArgs>(static (x, e) => x.ClientAcknowledgedPublishPacketAsync(e)) is { } acknowledged)
        {
            server.ClientAcknowledgedPublishPacketAsync += acknowledged;
        }

        if (Chain<IClientUnsubscribedHook, ClientUnsubscribedTopicEventArgs>(static (x, e) => x.ClientUnsubscribedTopicAsync(e)) is { } unsubscribed)
        {
            server.ClientUnsubscribedTopicAsync += unsubscribed;
        }

        if (Chain<IInterceptingEnqueueHook, InterceptingClientApplicationMessageEnqueueEventArgs>(static (x, e) => x.InterceptingClientEnqueueAsync(e)) is { } enqueue)
        {
            server.InterceptingClientEnqueueAsync += enqueue;
        }

        if (Chain<IEnqueuedOrDroppedHook, ApplicationMessageEnqueuedEventArgs>(static (x, e) => x.ApplicationMessageEnqueuedOrDroppedAsync(e)) is { } enqueuedOrDropped)
        {
            server.ApplicationMessageEnqueuedOrDroppedAsync += enqueuedOrDropped;
        }

        if (Chain<IInboundPacketHook, InterceptingPacketEventArgs>(static (x, e) => x.InterceptingInboundPacketAsync(e)) is { } inbound)
        {
            server.InterceptingInboundPacketAsync += inbound;
        }

        if (Chain<IOutboundPacketHook, InterceptingPacketEventArgs>(static (x, e) => x.InterceptingOutboundPacketAsync(e)) is { } outbound)
        {
            server.InterceptingOutboundPacketAsync += outbound;
        }

        if (Chain<IRetainedMessagesHook, LoadingRetainedMessagesEventArgs>(static (x, e) => x.LoadingRetainedMessagesAsync(e)) is { } loading)
        {
            server.LoadingRetainedMessageAsync += loading;
        }

        if (Chain<IRetainedMessagesHook, EventArgs>(static (x, e) => x.RetainedMessagesClearedAsync(e)) is { } cleared)
        {
            server.RetainedMessagesClearedAsync += cleared;
        }

        if (Chain<IServerStoppedHook, EventArgs>(static (x, e) => x.ServerStoppedAsync(e)) is { } stopped)
        {
            server.StoppedAsync += stopped;
        }
    }

    /// <summary>The handler for one event: its hooks in list order; null when no extension hooks it.</summary>
    internal Func<TArgs, Task>? Chain<THook, TArgs>(Func<THook, TArgs, Task> call)
        where THook : class, IBrokerExtension
    {
        THook[] hooks = [.. Ordered.OfType<THook>()];
        return hooks.Length switch
        {
            0 => null,
            1 => e => call(hooks[0], e),
            _ => e => RunInOrderAsync(hooks, call, e),
        };
    }

    private static async Task RunInOrderAsync<THook, TArgs>(THook[] hooks, Func<THook, TArgs, Task> call, TArgs e)
    {
        foreach (THook hook in hooks)
        {
            await call(hook, e);
        }
    }
}
