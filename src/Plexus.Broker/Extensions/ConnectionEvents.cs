using System.Runtime.CompilerServices;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Broker.Transport;

namespace Plexus.Broker.Extensions;

/// <summary>What the extensions read from MQTTnet's events alike: the accepted client id, its principal, its connection.</summary>
internal static class ConnectionEvents
{
    /// <summary>The session item <see cref="ConnectionAuthentication"/> puts the authenticated principal under.</summary>
    public const string PrincipalKey = "plexus.principal";

    /// <summary>Whether the extensions before this one accepted the CONNECT.</summary>
    public static bool IsAccepted(ValidatingConnectionEventArgs e) => e.ReasonCode == MqttConnectReasonCode.Success;

    /// <summary>The client id the connection will have: the one the broker assigned (MQTT 5) when the client sent none.</summary>
    public static string ClientIdOf(ValidatingConnectionEventArgs e) =>
        string.IsNullOrEmpty(e.ClientId) && !string.IsNullOrEmpty(e.AssignedClientIdentifier) ? e.AssignedClientIdentifier : e.ClientId;

    /// <summary>The principal <see cref="ConnectionAuthentication"/> accepted; null before it or for a refused CONNECT.</summary>
    public static MqttPrincipal? PrincipalOf(ValidatingConnectionEventArgs e) => e.SessionItems[PrincipalKey] as MqttPrincipal;

    /// <summary>
    /// The connection's own channel, found by object and never by address: MQTTnet hands every event the endpoint
    /// object of the connection's channel, and two connections from one address and port (a NAT, a reused port, TCP
    /// beside WebSocket) have equal endpoints but never the same channel.
    /// </summary>
    public static DevicePublishChannel? ChannelOf(System.Net.EndPoint? remote) => (remote as ChannelEndPoint)?.Channel;

    /// <summary>The object that stands for one connection, to be compared by reference: its channel.</summary>
    public static object ConnectionOf(System.Net.EndPoint? remote) => (object?)ChannelOf(remote) ?? remote ?? NoConnection;

    private static readonly object NoConnection = new();

    /// <summary>The CONNECT packet MQTTnet keeps privately; a later MQTTnet renaming the field makes this throw <see cref="MissingFieldException"/>.</summary>
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_connectPacket")]
    public static extern ref MqttConnectPacket ConnectPacket(ValidatingConnectionEventArgs e);

    /// <summary>A reason string short enough for a PUBACK.</summary>
    public static string? Truncate(string? reason) => reason is { Length: > 200 } ? reason[..200] + "…" : reason;
}
