using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Plexus.Broker;

/// <summary>
/// Shared subscriptions (<c>$share/&lt;group&gt;/&lt;filter&gt;</c>, MQTT 5 §4.8.2; also accepted from MQTT 3.1.1
/// clients). MQTTnet.Server 5.2 refuses them, so the broker keeps the groups itself: MQTTnet never stores the
/// subscription, and each matching message is queued into exactly one member's session per group, in turn.
/// </summary>
/// <remarks>
/// Design note: MQTTnet answers 0x9E for a filter starting with <c>$share/</c> before the subscription interceptor
/// runs, so the inbound SUBSCRIBE is rewritten first: the filter gets <see cref="Marker"/> (a NUL, which no client
/// can send in a topic filter) in place of <c>$share/</c>, and the subscription interceptor recognises it.
/// Members whose client is connected take turns; when none of a group is connected, a member with a persistent
/// session gets the message queued for its return.
/// </remarks>
internal sealed class SharedSubscriptions
{
    public const string SharePrefix = "$share/";
    public const string Marker = "\0share/";

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Group, string Filter), Group> _groups = [];
    private readonly HashSet<string> _connected = new(StringComparer.Ordinal);
    private Group[] _snapshot = [];

    /// <summary>Rewrites the <c>$share/</c> filters of an inbound SUBSCRIBE so that MQTTnet lets the interceptor see them.</summary>
    public static void MarkSharedFilters(MQTTnet.Packets.MqttSubscribePacket subscribe)
    {
        foreach (var filter in subscribe.TopicFilters)
        {
            if (filter.Topic?.StartsWith(SharePrefix, StringComparison.Ordinal) == true)
            {
                filter.Topic = Marker + filter.Topic[SharePrefix.Length..];
            }
        }
    }

    /// <summary>The filter the topic ACL judges: the inner filter of a shared subscription, else the filter itself.</summary>
    public static string AclFilter(string filter) =>
        TryParse(filter, out _, out string inner) ? inner : filter;

    public static bool IsShared(string filter) =>
        filter.StartsWith(Marker, StringComparison.Ordinal) || filter.StartsWith(SharePrefix, StringComparison.Ordinal);

    /// <summary>Splits <c>$share/group/filter</c> (or its marked form); false when the filter is not a valid shared one.</summary>
    public static bool TryParse(string filter, out string group, out string inner)
    {
        group = inner = "";
        string rest;
        if (filter.StartsWith(Marker, StringComparison.Ordinal))
        {
            rest = filter[Marker.Length..];
        }
        else if (filter.StartsWith(SharePrefix, StringComparison.Ordinal))
        {
            rest = filter[SharePrefix.Length..];
        }
        else
        {
            return false;
        }

        int slash = rest.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == rest.Length - 1)
        {
            return false;
        }

        group = rest[..slash];
        inner = rest[(slash + 1)..];
        return group.AsSpan().IndexOfAny('+', '#') < 0;
    }

    /// <summary>Adds (or updates) a member; called from the subscription interceptor after the ACL allowed it.</summary>
    public void Subscribe(string clientId, MqttSessionStatus session, string group, string filter, MqttQualityOfServiceLevel qos)
    {
        lock (_lock)
        {
            if (!_groups.TryGetValue((group, filter), out var entry))
            {
                entry = new Group(group, filter);
                _groups.Add((group, filter), entry);
            }

            entry.Members.RemoveAll(m => m.ClientId == clientId);
            entry.Members.Add(new Member(clientId, session, qos));
            _snapshot = [.. _groups.Values];
        }
    }

    public bool Unsubscribe(string clientId, string group, string filter)
    {
        lock (_lock)
        {
            if (!_groups.TryGetValue((group, filter), out var entry) || entry.Members.RemoveAll(m => m.ClientId == clientId) == 0)
            {
                return false;
            }

            if (entry.Members.Count == 0)
            {
                _groups.Remove((group, filter));
            }

            _snapshot = [.. _groups.Values];
            return true;
        }
    }

    /// <summary>The client's session ended (clean disconnect, clean start, expiry): it leaves every group.</summary>
    public void RemoveClient(string clientId)
    {
        lock (_lock)
        {
            _connected.Remove(clientId);
            foreach (var (key, entry) in _groups.ToList())
            {
                if (entry.Members.RemoveAll(m => m.ClientId == clientId) > 0 && entry.Members.Count == 0)
                {
                    _groups.Remove(key);
                }
            }

            _snapshot = [.. _groups.Values];
        }
    }

    public void SetConnected(string clientId, bool connected)
    {
        lock (_lock)
        {
            if (connected)
            {
                _connected.Add(clientId);
            }
            else
            {
                _connected.Remove(clientId);
            }
        }
    }

    public int GroupCount => Volatile.Read(ref _snapshot).Length;

    /// <summary>
    /// Queues <paramref name="message"/> into one member's session of every group whose filter matches, at the
    /// lower of the message's and the member's QoS, among the members <paramref name="mayReceive"/> allows (the same
    /// check MQTTnet's enqueue interceptor makes for ordinary subscriptions). Returns the number of deliveries.
    /// </summary>
    public int Deliver(MqttApplicationMessage message, Func<string, string, bool> mayReceive)
    {
        var groups = Volatile.Read(ref _snapshot);
        if (groups.Length == 0)
        {
            return 0;
        }

        int delivered = 0;
        foreach (var group in groups)
        {
            if (MqttTopicFilterComparer.Compare(message.Topic, group.Filter) != MqttTopicFilterCompareResult.IsMatch)
            {
                continue;
            }

            Member? target = Pick(group, message.Topic, mayReceive);
            if (target is null)
            {
                continue;
            }

            var qos = (MqttQualityOfServiceLevel)Math.Min((int)message.QualityOfServiceLevel, (int)target.Qos);
            if (target.Session.TryEnqueueApplicationMessage(Copy(message, qos), out _))
            {
                delivered++;
            }
        }

        return delivered;
    }

    private Member? Pick(Group group, string topic, Func<string, string, bool> mayReceive)
    {
        lock (_lock)
        {
            int count = group.Members.Count;
            for (int i = 0; i < count; i++)
            {
                int index = (group.Next + i) % count;
                if (_connected.Contains(group.Members[index].ClientId) && mayReceive(group.Members[index].ClientId, topic))
                {
                    group.Next = (index + 1) % count;
                    return group.Members[index];
                }
            }

            // Nobody connected: queue for a member with a persistent session (members without one were removed).
            for (int i = 0; i < count; i++)
            {
                int index = (group.Next + i) % count;
                if (mayReceive(group.Members[index].ClientId, topic))
                {
                    group.Next = (index + 1) % count;
                    return group.Members[index];
                }
            }

            return null;
        }
    }

    private static MqttApplicationMessage Copy(MqttApplicationMessage message, MqttQualityOfServiceLevel qos) => new()
    {
        Topic = message.Topic,
        Payload = message.Payload,
        QualityOfServiceLevel = qos,

        // A shared subscription never receives the retain flag of a live message (MQTT 5 §3.3.1.3: retain as published is not applied).
        Retain = false,
        ContentType = message.ContentType,
        ResponseTopic = message.ResponseTopic,
        CorrelationData = message.CorrelationData,
        MessageExpiryInterval = message.MessageExpiryInterval,
        PayloadFormatIndicator = message.PayloadFormatIndicator,
        UserProperties = message.UserProperties,
    };

    private sealed class Group(string name, string filter)
    {
        public string Name { get; } = name;

        public string Filter { get; } = filter;

        public List<Member> Members { get; } = [];

        public int Next { get; set; }
    }

    private sealed record Member(string ClientId, MqttSessionStatus Session, MqttQualityOfServiceLevel Qos);
}
