namespace Plexus.Broker.Auth;

/// <summary>What a client presented in its CONNECT packet.</summary>
public readonly record struct MqttCredentials(string ClientId, string? UserName, string? Password);

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
/// Decides whether a client may connect. The first slice of issue 4 accepts API tokens only (the admin token,
/// as the password); the device registry will plug device identities (user name = device id, password = device
/// token) and topic ACLs in behind this seam without the broker knowing where identities live.
/// </summary>
public interface IMqttAuthenticator
{
    ValueTask<MqttAuthenticationResult> AuthenticateAsync(MqttCredentials credentials, CancellationToken cancellationToken);
}

/// <summary>An authenticator from a password check: no password is <see cref="MqttAuthenticationResult.NotAuthorized"/>, a wrong one <see cref="MqttAuthenticationResult.BadUserNameOrPassword"/>.</summary>
public sealed class TokenMqttAuthenticator : IMqttAuthenticator
{
    private readonly Func<string, bool> _isValidToken;

    public TokenMqttAuthenticator(Func<string, bool> isValidToken)
    {
        ArgumentNullException.ThrowIfNull(isValidToken);
        _isValidToken = isValidToken;
    }

    public ValueTask<MqttAuthenticationResult> AuthenticateAsync(MqttCredentials credentials, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(credentials.Password))
        {
            return ValueTask.FromResult(MqttAuthenticationResult.NotAuthorized);
        }

        return ValueTask.FromResult(_isValidToken(credentials.Password) ? MqttAuthenticationResult.Accepted : MqttAuthenticationResult.BadUserNameOrPassword);
    }
}
