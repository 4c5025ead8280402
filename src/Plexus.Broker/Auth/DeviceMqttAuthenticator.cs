namespace Plexus.Broker.Auth;

/// <summary>
/// Devices and applications (issue 4 §3): a password that is an API token makes an application (any user name);
/// otherwise user name = device id and password = that device's token make a device. No password is
/// <see cref="MqttAuthenticationResult.NotAuthorized"/>; anything else wrong is
/// <see cref="MqttAuthenticationResult.BadUserNameOrPassword"/>.
/// </summary>
public sealed class DeviceMqttAuthenticator : IMqttAuthenticator
{
    private readonly Func<string, bool> _isApplicationToken;
    private readonly Func<string, string, bool> _isDeviceToken;

    /// <param name="isApplicationToken">Checks an API token (the admin token today).</param>
    /// <param name="isDeviceToken">Checks (device id, token) against the registry, in constant time.</param>
    public DeviceMqttAuthenticator(Func<string, bool> isApplicationToken, Func<string, string, bool> isDeviceToken)
    {
        ArgumentNullException.ThrowIfNull(isApplicationToken);
        ArgumentNullException.ThrowIfNull(isDeviceToken);
        _isApplicationToken = isApplicationToken;
        _isDeviceToken = isDeviceToken;
    }

    public ValueTask<MqttAuthentication> AuthenticateAsync(MqttCredentials credentials, CancellationToken cancellationToken)
    {
        string? password = credentials.Password;
        if (string.IsNullOrEmpty(password))
        {
            return ValueTask.FromResult(MqttAuthentication.Refused(MqttAuthenticationResult.NotAuthorized));
        }

        if (_isApplicationToken(password))
        {
            return ValueTask.FromResult(MqttAuthentication.Accepted(MqttPrincipal.Application));
        }

        if (!string.IsNullOrEmpty(credentials.UserName) && _isDeviceToken(credentials.UserName, password))
        {
            return ValueTask.FromResult(MqttAuthentication.Accepted(MqttPrincipal.Device(credentials.UserName)));
        }

        return ValueTask.FromResult(MqttAuthentication.Refused(MqttAuthenticationResult.BadUserNameOrPassword));
    }
}
