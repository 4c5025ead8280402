using System.Collections.Concurrent;
using MQTTnet.Formatter;
using MQTTnet.Server;

namespace Plexus.Broker.Extensions;

/// <summary>What an accepted CONNECT said that the extensions need later: its session kind, protocol and MQTT 5 limits.</summary>
internal sealed record ClientConnection(bool Persistent, bool V5, uint MaximumPacketSize);

/// <summary>
/// The <see cref="ClientConnection"/> of each connected client, from its CONNECT until its disconnect. Last in the
/// extension list: the extensions before it still read a disconnecting client's entry.
/// </summary>
internal sealed class ConnectedClients : IValidatingConnectionHook, IClientDisconnectedHook
{
    private readonly ConcurrentDictionary<string, ClientConnection> _clients = new(StringComparer.Ordinal);

    public bool TryGet(string clientId, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out ClientConnection client) =>
        _clients.TryGetValue(clientId, out client);

    /// <summary>Whether the client's session outlives its connection (MQTT 5 session expiry, MQTT 3.1.1 clean session off).</summary>
    public bool IsPersistent(string clientId) => _clients.TryGetValue(clientId, out var client) && client.Persistent;

    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (!ConnectionEvents.IsAccepted(e))
        {
            return Task.CompletedTask;
        }

        bool v5 = e.ProtocolVersion == MqttProtocolVersion.V500;
        bool persistent = v5 ? e.SessionExpiryInterval > 0 : e.CleanSession == false;
        _clients[ConnectionEvents.ClientIdOf(e)] = new ClientConnection(persistent, v5, v5 ? e.MaximumPacketSize : 0);
        return Task.CompletedTask;
    }

    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType != MqttClientDisconnectType.Takeover)
        {
            _clients.TryRemove(e.ClientId, out _);
        }

        return Task.CompletedTask;
    }
}
