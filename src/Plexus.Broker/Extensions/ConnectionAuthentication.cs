using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Checks a CONNECT's credentials with the <see cref="IMqttAuthenticator"/> and keeps the principal it accepted in the
/// connection's session items for the extensions after it. A client that sent no client id gets one first.
/// </summary>
internal sealed class ConnectionAuthentication(IMqttAuthenticator authenticator, ILogger logger) : IValidatingConnectionHook
{
    public async Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        AssignClientIdentifierIfEmpty(e);
        var credentials = new MqttCredentials(e.ClientId, e.UserName, e.Password, ConnectionEvents.ChannelOf(e.RemoteEndPoint)?.ClientCertificate);
        MqttAuthentication authentication = await authenticator.AuthenticateAsync(credentials, CancellationToken.None);
        MqttAuthenticationResult result = authentication.Result == MqttAuthenticationResult.Accepted && authentication.Principal is null
            ? MqttAuthenticationResult.NotAuthorized
            : authentication.Result;

        // MQTTnet writes the matching MQTT 3.1.1 return code for these (4 and 5).
        e.ReasonCode = result switch
        {
            MqttAuthenticationResult.Accepted => MqttConnectReasonCode.Success,
            MqttAuthenticationResult.BadUserNameOrPassword => MqttConnectReasonCode.BadUserNameOrPassword,
            _ => MqttConnectReasonCode.NotAuthorized,
        };
        if (result != MqttAuthenticationResult.Accepted)
        {
            string reason = authentication.Reason is null ? result.ToString() : result + ": " + authentication.Reason;
            BrokerLog.ConnectionRefused(logger, reason, e.ClientId, e.UserName, e.RemoteEndPoint?.ToString());
            return;
        }

        e.SessionItems[ConnectionEvents.PrincipalKey] = authentication.Principal!;
    }

    /// <summary>
    /// An empty client id with a clean session must be accepted and given an id by the server (MQTT 3.1.1
    /// [MQTT-3.1.3-6], MQTT 5 §3.1.3.1); mosquitto_pub and paho send one. MQTTnet 5.2 assigns
    /// <see cref="ValidatingConnectionEventArgs.AssignedClientIdentifier"/> for MQTT 5 only and refuses 3.1.1 with
    /// "identifier rejected", so for 3.1.1 the id is written into the CONNECT packet MQTTnet keeps privately.
    /// If a later MQTTnet renames that field, the accessor throws and the client is refused as before.
    /// </summary>
    private static void AssignClientIdentifierIfEmpty(ValidatingConnectionEventArgs e)
    {
        if (!string.IsNullOrEmpty(e.ClientId) || e.CleanSession == false)
        {
            return;
        }

        string assigned = "plexus-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        if (e.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500)
        {
            e.AssignedClientIdentifier = assigned;
            return;
        }

        try
        {
            ConnectionEvents.ConnectPacket(e).ClientId = assigned;
        }
        catch (MissingFieldException)
        {
        }
    }
}
