using System.Security.Cryptography.X509Certificates;

namespace Plexus.Broker.Auth;

/// <summary>What a client presented in its CONNECT packet, and the certificate it presented in its TLS handshake (null when none).</summary>
public readonly record struct MqttCredentials(string ClientId, string? UserName, string? Password, X509Certificate2? ClientCertificate = null);

/// <summary>The answer to a CONNECT, mapped by the broker to the reason code of the client's protocol version.</summary>
public enum MqttAuthenticationResult
{
    Accepted,

    /// <summary>Credentials were given but are wrong: MQTT 5 reason 0x86, MQTT 3.1.1 return code 4.</summary>
    BadUserNameOrPassword,

    /// <summary>No usable credentials, or the identity may not connect: MQTT 5 reason 0x87, MQTT 3.1.1 return code 5.</summary>
    NotAuthorized,
}

/// <summary>
/// The answer to a CONNECT: the result, and for an accepted client who it is (which decides its topic ACL); for a
/// refused one, when the authenticator knows more than the result says, why (logged with the refusal).
/// </summary>
public readonly record struct MqttAuthentication(MqttAuthenticationResult Result, MqttPrincipal? Principal, string? Reason = null)
{
    public static MqttAuthentication Accepted(MqttPrincipal principal) => new(MqttAuthenticationResult.Accepted, principal);

    public static MqttAuthentication Refused(MqttAuthenticationResult result, string? reason = null) => new(result, null, reason);
}

/// <summary>
/// Decides whether a client may connect and as whom. The broker does not know where identities live: the server
/// composes it with <see cref="DeviceMqttAuthenticator"/> over the device registry and the API tokens.
/// </summary>
public interface IMqttAuthenticator
{
    ValueTask<MqttAuthentication> AuthenticateAsync(MqttCredentials credentials, CancellationToken cancellationToken);
}

/// <summary>An authenticator from an API token check (any user name): no password is <see cref="MqttAuthenticationResult.NotAuthorized"/>, a wrong one <see cref="MqttAuthenticationResult.BadUserNameOrPassword"/>; a valid one is an application.</summary>
public sealed class TokenMqttAuthenticator : IMqttAuthenticator
{
    private readonly Func<string, bool> _isValidToken;

    public TokenMqttAuthenticator(Func<string, bool> isValidToken)
    {
        ArgumentNullException.ThrowIfNull(isValidToken);
        _isValidToken = isValidToken;
    }

    public ValueTask<MqttAuthentication> AuthenticateAsync(MqttCredentials credentials, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(credentials.Password))
        {
            return ValueTask.FromResult(MqttAuthentication.Refused(MqttAuthenticationResult.NotAuthorized));
        }

        return ValueTask.FromResult(_isValidToken(credentials.Password)
            ? MqttAuthentication.Accepted(MqttPrincipal.AdminApplication)
            : MqttAuthentication.Refused(MqttAuthenticationResult.BadUserNameOrPassword));
    }
}
