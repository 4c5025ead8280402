using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Plexus.Broker.Auth;

/// <summary>
/// Devices and applications: a password that is an API token makes an application (any user name) with
/// that token's scope; otherwise user name = device id and password = that device's token make a device; with
/// auto-provisioning on, user name = a new device id and password = the provisioning key registers the device. No
/// password is <see cref="MqttAuthenticationResult.NotAuthorized"/>; anything else wrong is
/// <see cref="MqttAuthenticationResult.BadUserNameOrPassword"/>.
/// </summary>
public sealed class DeviceMqttAuthenticator : IMqttAuthenticator
{
    private readonly Func<string, MqttPrincipal?> _findApplication;
    private readonly Func<string, string, bool> _isDeviceToken;
    private readonly DeviceProvisioning? _provisioning;
    private readonly MqttClientCertificates? _certificates;
    private readonly ILogger _logger;

    /// <param name="isApplicationToken">Checks an admin-scope API token.</param>
    /// <param name="isDeviceToken">Checks (device id, token) against the registry, in constant time.</param>
    public DeviceMqttAuthenticator(Func<string, bool> isApplicationToken, Func<string, string, bool> isDeviceToken)
        : this(token => isApplicationToken(token) ? MqttPrincipal.AdminApplication : null, isDeviceToken, null, null)
    {
        ArgumentNullException.ThrowIfNull(isApplicationToken);
    }

    /// <param name="findApplication">The application principal (token name and scope) of an API token, or null.</param>
    /// <param name="isDeviceToken">Checks (device id, token) against the registry, in constant time.</param>
    /// <param name="provisioning">Auto-provisioning; null when off.</param>
    /// <param name="certificates">Judges TLS client certificates; null ignores them.</param>
    public DeviceMqttAuthenticator(Func<string, MqttPrincipal?> findApplication, Func<string, string, bool> isDeviceToken, DeviceProvisioning? provisioning, ILogger? logger, MqttClientCertificates? certificates = null)
    {
        _certificates = certificates;
        ArgumentNullException.ThrowIfNull(findApplication);
        ArgumentNullException.ThrowIfNull(isDeviceToken);
        _findApplication = findApplication;
        _isDeviceToken = isDeviceToken;
        _provisioning = provisioning;
        _logger = logger ?? NullLogger.Instance;
    }

    public ValueTask<MqttAuthentication> AuthenticateAsync(MqttCredentials credentials, CancellationToken cancellationToken)
    {
        if (credentials.ClientCertificate is { } certificate && _certificates is not null)
        {
            return ValueTask.FromResult(AuthenticateWithCertificate(credentials, _certificates.Check(certificate)));
        }

        string? password = credentials.Password;
        if (string.IsNullOrEmpty(password))
        {
            return ValueTask.FromResult(MqttAuthentication.Refused(MqttAuthenticationResult.NotAuthorized));
        }

        if (_findApplication(password) is { Kind: MqttPrincipalKind.Application } application)
        {
            return ValueTask.FromResult(MqttAuthentication.Accepted(application));
        }

        string? user = credentials.UserName;
        if (!string.IsNullOrEmpty(user) && _isDeviceToken(user, password))
        {
            return ValueTask.FromResult(MqttAuthentication.Accepted(MqttPrincipal.Device(user)));
        }

        if (_provisioning is not null && _provisioning.IsKey(password))
        {
            return ValueTask.FromResult(Provision(credentials.ClientId, user));
        }

        return ValueTask.FromResult(MqttAuthentication.Refused(MqttAuthenticationResult.BadUserNameOrPassword));
    }

    /// <summary>
    /// A client that presents a certificate is judged by it, whatever else it sends: a certificate that is not
    /// acceptable refuses the CONNECT even beside a valid token, so a revoked or expired certificate never goes
    /// unnoticed. The user name alone is ignored (clients send all kinds); a password beside the certificate must
    /// be the same device's token, so that one connection never carries two identities.
    /// </summary>
    private MqttAuthentication AuthenticateWithCertificate(MqttCredentials credentials, MqttCertificateCheck check)
    {
        if (check.DeviceId is not { } deviceId)
        {
            return MqttAuthentication.Refused(check.Failure, check.Reason);
        }

        if (!string.IsNullOrEmpty(credentials.Password)
            && !(string.Equals(credentials.UserName, deviceId, StringComparison.Ordinal) && _isDeviceToken(deviceId, credentials.Password)))
        {
            return MqttAuthentication.Refused(MqttAuthenticationResult.NotAuthorized,
                $"the client certificate authenticates device \"{deviceId}\" but the user name and password are not that device's id and token; send the certificate without a password");
        }

        return MqttAuthentication.Accepted(MqttPrincipal.DeviceWithCertificate(deviceId, check.Thumbprint));
    }

    private MqttAuthentication Provision(string clientId, string? deviceId)
    {
        var provisioning = _provisioning!;
        if (string.IsNullOrEmpty(deviceId))
        {
            MqttAclLog.ProvisioningRefused(_logger, "", clientId, "no user name; the user name must be the new device's id");
            return MqttAuthentication.Refused(MqttAuthenticationResult.BadUserNameOrPassword);
        }

        // A device provisioned earlier reconnects with the key: its stored token is the one derived from the key.
        string token = provisioning.DeviceTokenFor(deviceId);
        if (_isDeviceToken(deviceId, token))
        {
            return MqttAuthentication.Accepted(MqttPrincipal.Device(deviceId));
        }

        if (provisioning.IsRegistered(deviceId))
        {
            MqttAclLog.ProvisioningRefused(_logger, deviceId, clientId, "the device is already registered with its own token; the provisioning key does not take over a known device");
            return MqttAuthentication.Refused(MqttAuthenticationResult.BadUserNameOrPassword);
        }

        string? problem = provisioning.Register(deviceId, token);
        if (problem is null)
        {
            MqttAclLog.DeviceProvisioned(_logger, deviceId, clientId);
            return MqttAuthentication.Accepted(MqttPrincipal.Device(deviceId));
        }

        // Two first CONNECTs of one device can race; the loser finds the winner's registration.
        if (_isDeviceToken(deviceId, token))
        {
            return MqttAuthentication.Accepted(MqttPrincipal.Device(deviceId));
        }

        MqttAclLog.ProvisioningRefused(_logger, deviceId, clientId, problem);
        return MqttAuthentication.Refused(MqttAuthenticationResult.BadUserNameOrPassword);
    }
}
