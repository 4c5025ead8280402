using System.Runtime.CompilerServices;
using MQTTnet.Packets;
using MQTTnet.Server;
using MQTTnet.Server.Internal;

namespace Plexus.Broker.Sessions;

/// <summary>
/// The parts of MQTTnet.Server 5.2 a session is saved from and restored into, which it keeps private: it has no API
/// to create a session for a client that is not connected (its PreparingSession event carries subscriptions and
/// messages but nothing reads them back), nor to read a session's subscriptions or queue. A later MQTTnet renaming one
/// of these fields makes the accessor throw <see cref="MissingFieldException"/> at start, which the session tests catch.
/// </summary>
internal static class MqttNetSessions
{
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_clientSessionsManager")]
    public static extern ref MqttClientSessionsManager SessionsManager(MqttServer server);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_options")]
    public static extern ref MqttServerOptions Options(MqttServer server);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_eventContainer")]
    public static extern ref MqttServerEventContainer Events(MqttServer server);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_retainedMessagesManager")]
    public static extern ref MqttRetainedMessagesManager RetainedMessages(MqttServer server);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_sessionsStorage")]
    public static extern ref MqttSessionsStorage Storage(MqttClientSessionsManager manager);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_sessionsManagementLock")]
    public static extern ref ReaderWriterLockSlim StorageLock(MqttClientSessionsManager manager);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_session")]
    public static extern ref MqttSession Session(MqttSessionStatus status);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_subscriptionsManager")]
    private static extern ref MqttClientSubscriptionsManager SubscriptionsManager(MqttSession session);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_subscriptions")]
    private static extern ref Dictionary<string, MqttSubscription> Subscriptions(MqttClientSubscriptionsManager manager);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_subscriptionsLock")]
    private static extern ref ReaderWriterLockSlim SubscriptionsLock(MqttClientSubscriptionsManager manager);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_unacknowledgedPublishPackets")]
    private static extern ref List<MqttPublishPacket> Unacknowledged(MqttSession session);

    /// <summary>A copy of the session's subscriptions (MQTTnet's own; shared subscriptions are Plexus's and not among them).</summary>
    public static List<MqttSubscription> SubscriptionsOf(MqttSession session)
    {
        var manager = SubscriptionsManager(session);
        var guard = SubscriptionsLock(manager);
        guard.EnterReadLock();
        try
        {
            return [.. Subscriptions(manager).Values];
        }
        finally
        {
            guard.ExitReadLock();
        }
    }

    /// <summary>
    /// A copy of the session's QoS 1/2 messages not yet acknowledged, oldest first: MQTTnet adds a message to this list
    /// when it queues it and removes it at PUBACK or PUBCOMP, and resends the list when the session is resumed.
    /// </summary>
    public static List<MqttPublishPacket> UnacknowledgedOf(MqttSession session)
    {
        var packets = Unacknowledged(session);
        lock (packets)
        {
            return [.. packets];
        }
    }
}
