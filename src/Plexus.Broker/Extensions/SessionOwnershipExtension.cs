using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;

namespace Plexus.Broker.Extensions;

/// <summary>
/// The client id belongs to the principal whose session it is (<see cref="MqttSessionOwnership"/>): another
/// principal neither resumes that session nor kicks its client off. MQTTnet keeps the first connection's
/// SessionItems when a session is resumed, so the owner is kept here, per client id, and replaced by each accepted
/// CONNECT of the owner.
/// </summary>
internal sealed class SessionOwnershipExtension(MqttSessionOwnership owners, ILogger logger)
    : IValidatingConnectionHook, IClientConnectedHook, ISessionDeletedHook
{
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (!ConnectionEvents.IsAccepted(e) || ConnectionEvents.PrincipalOf(e) is not { } principal)
        {
            return Task.CompletedTask;
        }

        string clientId = ConnectionEvents.ClientIdOf(e);
        if (!string.IsNullOrEmpty(clientId) && !owners.TryClaim(clientId, principal, out var owner))
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            e.SessionItems.Remove(ConnectionEvents.PrincipalKey);
            MqttAclLog.ClientIdTaken(logger, clientId, principal.ToString(), owner!.ToString(), e.RemoteEndPoint?.ToString());
        }

        return Task.CompletedTask;
    }

    public Task ClientConnectedAsync(ClientConnectedEventArgs e)
    {
        owners.Connected(e.ClientId);
        return Task.CompletedTask;
    }

    public Task SessionDeletedAsync(SessionDeletedEventArgs e)
    {
        owners.SessionEnded(e.Id);
        return Task.CompletedTask;
    }
}
