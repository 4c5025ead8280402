using System.Runtime.CompilerServices;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Server;
using MQTTnet.Server.Internal;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Session expiry as MQTT 5 has it, where MQTTnet.Server 5.2 differs: a session expires by the interval of the
/// latest CONNECT (MQTTnet keeps the one of the CONNECT that created the session) or of the DISCONNECT that ended
/// the connection (MQTTnet decides whether to keep the session by it but then expires the session by the CONNECT's,
/// and reads a DISCONNECT interval of 0, end the session now, as none). No session lives longer than
/// <c>maxSessionExpiry</c> seconds: a CONNECT or DISCONNECT asking more (or never to expire) gets the maximum, which
/// the CONNACK tells MQTT 5 clients; an MQTT 3.1.1 session (clean session off), which has no interval, expires after it too.
/// </summary>
/// <remarks>
/// MQTTnet reads a session's interval from the CONNECT packet object it was created with, and a connection's from
/// its own CONNECT packet object; both are changed in place here. The DISCONNECT's interval is read by the
/// connection's channel, from the bytes, before MQTTnet reads the packet.
/// </remarks>
internal sealed class SessionExpiryExtension(MqttServer server, uint maxSessionExpiry) : IValidatingConnectionHook, IClientConnectedHook
{
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (!ConnectionEvents.IsAccepted(e))
        {
            return Task.CompletedTask;
        }

        MqttConnectPacket connect = ConnectionEvents.ConnectPacket(e);
        if (e.ProtocolVersion == MqttProtocolVersion.V500)
        {
            if (connect.SessionExpiryInterval > maxSessionExpiry)
            {
                connect.SessionExpiryInterval = maxSessionExpiry;
                if (ConnectionEvents.ChannelOf(e.RemoteEndPoint) is { } channel)
                {
                    channel.ServerSessionExpiry = maxSessionExpiry;
                }
            }
        }
        else if (e.CleanSession == false)
        {
            connect.SessionExpiryInterval = maxSessionExpiry;
        }

        return Task.CompletedTask;
    }

    public async Task ClientConnectedAsync(ClientConnectedEventArgs e)
    {
        if (e.ProtocolVersion != MqttProtocolVersion.V500 || ConnectionEvents.ChannelOf(e.RemoteEndPoint) is not { } channel)
        {
            return;
        }

        MqttConnectPacket connect = ConnectPacketOf(e);
        MqttConnectPacket session;
        try
        {
            session = SessionConnectPacket(SessionOf(await server.GetSessionAsync(e.ClientId)));
        }
        catch (InvalidOperationException)
        {
            // The session ended already (the client is gone).
            return;
        }

        // The same object when this connection created the session; a resumed session takes the new interval.
        session.SessionExpiryInterval = connect.SessionExpiryInterval;
        channel.SessionExpiryAtDisconnect = interval =>
        {
            interval = Math.Min(interval, maxSessionExpiry);
            connect.SessionExpiryInterval = interval;
            session.SessionExpiryInterval = interval;
        };
    }

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_connectPacket")]
    private static extern ref MqttConnectPacket ConnectPacketField(ClientConnectedEventArgs e);

    private static MqttConnectPacket ConnectPacketOf(ClientConnectedEventArgs e) => ConnectPacketField(e);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_session")]
    private static extern ref MqttSession SessionField(MqttSessionStatus status);

    private static MqttSession SessionOf(MqttSessionStatus status) => SessionField(status);

    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_connectPacket")]
    private static extern ref MqttConnectPacket SessionConnectPacketField(MqttSession session);

    private static MqttConnectPacket SessionConnectPacket(MqttSession session) => SessionConnectPacketField(session);
}
