using MQTTnet.Server;
using Plexus.Broker.Devices;

namespace Plexus.Broker.Extensions;

/// <summary>
/// A device's connections into its live state (<see cref="DeviceConnectivity"/>): online at CONNECT, offline with the
/// reason at the disconnect. Its activity is marked by the ingest and the fast path, which read the device topic.
/// </summary>
internal sealed class ConnectivityExtension(DeviceConnectivity connectivity)
    : IValidatingConnectionHook, IClientConnectedHook, IClientDisconnectedHook
{
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (ConnectionEvents.IsAccepted(e) && ConnectionEvents.PrincipalOf(e) is { } principal)
        {
            connectivity.Accepted(ConnectionEvents.ClientIdOf(e), principal, e.KeepAlivePeriod ?? 0, HasWill(e));
        }

        return Task.CompletedTask;
    }

    public Task ClientConnectedAsync(ClientConnectedEventArgs e) => connectivity.ConnectedAsync(e.ClientId);

    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e) => connectivity.DisconnectedAsync(e);

    /// <summary>Read before the will extension takes the will out of the CONNECT.</summary>
    private static bool HasWill(ValidatingConnectionEventArgs e)
    {
        try
        {
            return ConnectionEvents.ConnectPacket(e).WillFlag;
        }
        catch (MissingFieldException)
        {
            return false;
        }
    }
}
