using MQTTnet.Formatter;
using MQTTnet.Server;

namespace Plexus.Broker.Extensions;

/// <summary>
/// MQTT 5 wills with their Will Delay Interval (<see cref="WillKeeper"/>): taken out of an accepted CONNECT, held
/// per connection, published after an unclean disconnect (or not, after a reconnect in time).
/// </summary>
internal sealed class WillExtension(WillKeeper wills) : IValidatingConnectionHook, IClientConnectedHook, IClientDisconnectedHook, IServerStoppedHook
{
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (ConnectionEvents.IsAccepted(e) && e.ProtocolVersion == MqttProtocolVersion.V500)
        {
            wills.TakeOver(ConnectionEvents.ClientIdOf(e), ConnectionEvents.ConnectionOf(e.RemoteEndPoint), ConnectionEvents.ConnectPacket(e), e.SessionItems);
        }

        return Task.CompletedTask;
    }

    public Task ClientConnectedAsync(ClientConnectedEventArgs e)
    {
        wills.Connected(e.ClientId);
        return Task.CompletedTask;
    }

    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType != MqttClientDisconnectType.Takeover)
        {
            wills.Disconnected(e.ClientId, ConnectionEvents.ConnectionOf(e.RemoteEndPoint), e.DisconnectType, e.ReasonCode);
        }

        return Task.CompletedTask;
    }

    /// <summary>Wills still waiting for their delay when the broker stops are not published.</summary>
    public Task ServerStoppedAsync(EventArgs e)
    {
        wills.Dispose();
        return Task.CompletedTask;
    }
}
