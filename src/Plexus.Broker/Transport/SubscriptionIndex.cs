using System.Text;

namespace Plexus.Broker.Transport;

/// <summary>
/// The (non-shared) topic filters MQTTnet holds, by client: the device fast path may skip MQTTnet's dispatch only
/// for a topic no filter matches. It errs on the side of keeping a filter: a filter kept too long only sends
/// messages the ordinary way, one forgotten too early would lose them for a subscriber. Lookups read an immutable
/// snapshot, so they take no lock.
/// </summary>
internal sealed class SubscriptionIndex
{
    private readonly Lock _sync = new();
    private readonly Dictionary<string, HashSet<string>> _byClient = new(StringComparer.Ordinal);
    private byte[][] _snapshot = [];

    public void Add(string clientId, string filter)
    {
        lock (_sync)
        {
            if (!_byClient.TryGetValue(clientId, out var filters))
            {
                _byClient[clientId] = filters = new HashSet<string>(StringComparer.Ordinal);
            }

            if (filters.Add(filter))
            {
                Rebuild();
            }
        }
    }

    public void Remove(string clientId, string filter)
    {
        lock (_sync)
        {
            if (_byClient.TryGetValue(clientId, out var filters) && filters.Remove(filter))
            {
                if (filters.Count == 0)
                {
                    _byClient.Remove(clientId);
                }

                Rebuild();
            }
        }
    }

    public void RemoveClient(string clientId)
    {
        lock (_sync)
        {
            if (_byClient.Remove(clientId))
            {
                Rebuild();
            }
        }
    }

    /// <summary>True when some subscription may receive a message on <paramref name="topic"/>.</summary>
    public bool AnyMatch(ReadOnlySpan<byte> topic)
    {
        foreach (byte[] filter in Volatile.Read(ref _snapshot))
        {
            if (MqttWire.FilterMatches(filter, topic))
            {
                return true;
            }
        }

        return false;
    }

    // Under _sync. Distinct filters only: a thousand dashboards on one filter cost one comparison.
    private void Rebuild() =>
        Volatile.Write(ref _snapshot, _byClient.Values.SelectMany(f => f).Distinct(StringComparer.Ordinal).Select(Encoding.UTF8.GetBytes).ToArray());
}
