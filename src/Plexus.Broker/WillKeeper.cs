using System.Collections;
using System.Collections.Concurrent;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Plexus.Broker;

/// <summary>
/// MQTT 5 will messages, kept by the broker instead of MQTTnet.Server 5.2, which publishes a will at once whatever
/// its Will Delay Interval and never after a DISCONNECT with reason 0x04 (Disconnect with Will Message). The will
/// is taken out of the CONNECT (MQTTnet then has none to publish) and published here: after the delay, or when
/// the session ends if that is sooner; not at all after a normal DISCONNECT or when the client reconnects in time.
/// </summary>
internal sealed class WillKeeper : IDisposable
{
    private readonly TimeProvider _time;
    private readonly Func<string, MqttApplicationMessage, IDictionary, Task> _publish;
    // Per connection object, compared by reference: a takeover's new connection may come from the same address and
    // port as the old one, and the old one's disconnect must not take (or publish) the new one's will.
    private readonly ConcurrentDictionary<(string ClientId, object Connection), PendingWill> _pending = new(ConnectionComparer.Instance);
    private readonly ConcurrentDictionary<string, ITimer> _scheduled = new(StringComparer.Ordinal);

    public WillKeeper(TimeProvider time, Func<string, MqttApplicationMessage, IDictionary, Task> publish)
    {
        _time = time;
        _publish = publish;
    }

    /// <summary>Wills of disconnected clients waiting for their delay.</summary>
    public int Waiting => _scheduled.Count;

    /// <summary>Takes the will of an accepted MQTT 5 CONNECT over (clears its will flag).</summary>
    /// <param name="connection">The object that stands for this one connection (see <see cref="Extensions.ConnectionEvents.ConnectionOf"/>).</param>
    public void TakeOver(string clientId, object connection, MqttConnectPacket connect, IDictionary sessionItems)
    {
        if (!connect.WillFlag)
        {
            return;
        }

        var message = new MqttApplicationMessage
        {
            Topic = connect.WillTopic,
            Payload = new System.Buffers.ReadOnlySequence<byte>(connect.WillMessage ?? []),
            QualityOfServiceLevel = connect.WillQoS,
            Retain = connect.WillRetain,
            ContentType = connect.WillContentType,
            ResponseTopic = connect.WillResponseTopic,
            CorrelationData = connect.WillCorrelationData,
            MessageExpiryInterval = connect.WillMessageExpiryInterval,
            PayloadFormatIndicator = connect.WillPayloadFormatIndicator,
            UserProperties = connect.WillUserProperties,
        };
        connect.WillFlag = false;

        // A copy: the session's items change with later connections of the client.
        var items = new Hashtable();
        foreach (DictionaryEntry entry in sessionItems)
        {
            items[entry.Key] = entry.Value;
        }

        _pending[(clientId, connection)] = new PendingWill(message, Math.Min(connect.WillDelayInterval, connect.SessionExpiryInterval), items);
    }

    /// <summary>The client connected again: a will still waiting for its delay is not published.</summary>
    public void Connected(string clientId)
    {
        if (_scheduled.TryRemove(clientId, out var timer))
        {
            timer.Dispose();
        }
    }

    public void Disconnected(string clientId, object connection, MqttClientDisconnectType type, MqttDisconnectReasonCode? reason)
    {
        if (!_pending.TryRemove((clientId, connection), out var will))
        {
            return;
        }

        if (type == MqttClientDisconnectType.Clean && reason is null or MqttDisconnectReasonCode.NormalDisconnection)
        {
            return;
        }

        if (will.DelaySeconds == 0)
        {
            _ = PublishAsync(clientId, will);
            return;
        }

        ITimer? timer = null;
        timer = _time.CreateTimer(
            _ =>
            {
                // Only if still scheduled: a reconnect removed (and cancelled) it.
                if (timer is not null && ((ICollection<KeyValuePair<string, ITimer>>)_scheduled).Remove(new KeyValuePair<string, ITimer>(clientId, timer)))
                {
                    timer.Dispose();
                    _ = PublishAsync(clientId, will);
                }
            },
            null,
            Timeout.InfiniteTimeSpan,
            Timeout.InfiniteTimeSpan);
        if (_scheduled.TryRemove(clientId, out var previous))
        {
            previous.Dispose();
        }

        _scheduled[clientId] = timer;
        timer.Change(TimeSpan.FromSeconds(will.DelaySeconds), Timeout.InfiniteTimeSpan);
    }

    private async Task PublishAsync(string clientId, PendingWill will)
    {
        try
        {
            await _publish(clientId, will.Message, will.SessionItems);
        }
        catch (Exception)
        {
            // The broker is stopping or the message was refused; a will is best effort by nature.
        }
    }

    /// <summary>Wills still waiting for their delay when the broker stops are not published.</summary>
    public void Dispose()
    {
        foreach (var timer in _scheduled.Values)
        {
            timer.Dispose();
        }

        _scheduled.Clear();
    }

    private sealed class ConnectionComparer : IEqualityComparer<(string ClientId, object Connection)>
    {
        public static readonly ConnectionComparer Instance = new();

        public bool Equals((string ClientId, object Connection) x, (string ClientId, object Connection) y) =>
            string.Equals(x.ClientId, y.ClientId, StringComparison.Ordinal) && ReferenceEquals(x.Connection, y.Connection);

        public int GetHashCode((string ClientId, object Connection) key) =>
            HashCode.Combine(StringComparer.Ordinal.GetHashCode(key.ClientId), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(key.Connection));
    }

    private sealed record PendingWill(MqttApplicationMessage Message, uint DelaySeconds, IDictionary SessionItems);
}
