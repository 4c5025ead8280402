using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.Broker.Auth;

/// <summary>What a client certificate proved: the device it authenticates, or why it authenticates none.</summary>
public readonly record struct MqttCertificateCheck(string? DeviceId, string Thumbprint, MqttAuthenticationResult Failure, string? Reason)
{
    public bool Accepted => DeviceId is not null;
}

/// <summary>
/// Which device a TLS client certificate authenticates (docs/mqtt.md#client-certificates), judged once per CONNECT:
/// <list type="number">
/// <item>it is within its validity dates, and where it says what it is for (extended key usage, key usage), it is
/// for TLS client authentication;</item>
/// <item>its SHA-256 thumbprint is registered for a device: that device (the registration is the trust, so a
/// self-signed certificate works);</item>
/// <item>otherwise, with a client CA configured: the chain ends at a CA of that file (the file is the only trust
/// store, never the machine's), the subject's CN is a registered device's id, and that device has no registered
/// certificates (a device with some accepts only those, which is how one CA-issued certificate is revoked without
/// removing the device).</item>
/// </list>
/// A certificate that is not acceptable is <see cref="MqttAuthenticationResult.BadUserNameOrPassword"/> (MQTT 5
/// 0x86); an acceptable one naming no registered device is <see cref="MqttAuthenticationResult.NotAuthorized"/> (0x87).
/// </summary>
public sealed class MqttClientCertificates
{
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";
    private const string AnyExtendedKeyUsageOid = "2.5.29.37.0";

    private readonly Func<string, string?> _deviceOfThumbprint;
    private readonly Func<string, bool> _hasRegisteredCertificates;
    private readonly Func<string, bool> _isRegistered;
    private readonly X509Certificate2Collection? _authorities;
    private readonly TimeProvider _time;

    /// <param name="deviceOfThumbprint">The device a thumbprint (lower-case hex SHA-256) is registered for, or null.</param>
    /// <param name="hasRegisteredCertificates">Whether a device has registered certificates.</param>
    /// <param name="isRegistered">Whether a device id is registered.</param>
    /// <param name="authorities">The CAs trusted to issue device certificates (<c>--mqtt-client-ca</c>); null for none.</param>
    public MqttClientCertificates(Func<string, string?> deviceOfThumbprint, Func<string, bool> hasRegisteredCertificates, Func<string, bool> isRegistered, X509Certificate2Collection? authorities, TimeProvider time)
    {
        _deviceOfThumbprint = deviceOfThumbprint;
        _hasRegisteredCertificates = hasRegisteredCertificates;
        _isRegistered = isRegistered;
        _authorities = authorities is { Count: > 0 } ? authorities : null;
        _time = time;
    }

    /// <summary>Whether a CA file is configured, so that CA-issued certificates of registered devices are accepted.</summary>
    public bool HasAuthorities => _authorities is not null;

    public static string ThumbprintOf(X509Certificate2 certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    public MqttCertificateCheck Check(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        string thumbprint = ThumbprintOf(certificate);
        var now = _time.GetUtcNow().UtcDateTime;
        if (now < certificate.NotBefore.ToUniversalTime())
        {
            return Bad(thumbprint, $"the client certificate is not valid before {certificate.NotBefore.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}");
        }

        if (now > certificate.NotAfter.ToUniversalTime())
        {
            return Bad(thumbprint, $"the client certificate expired at {certificate.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}; issue the device a new one");
        }

        if (NotForClientAuthentication(certificate) is { } usage)
        {
            return Bad(thumbprint, usage);
        }

        if (_deviceOfThumbprint(thumbprint) is { } pinned)
        {
            return new MqttCertificateCheck(pinned, thumbprint, MqttAuthenticationResult.Accepted, null);
        }

        if (_authorities is null)
        {
            return Bad(thumbprint, $"the client certificate {thumbprint} ({certificate.Subject}) is registered for no device, and no client CA is configured (--mqtt-client-ca); register it with `plexus devices cert <id> add <pem>`");
        }

        if (ChainProblem(certificate, now) is { } problem)
        {
            return Bad(thumbprint, $"the client certificate ({certificate.Subject}, issuer {certificate.Issuer}) is not registered and not issued by a CA of --mqtt-client-ca: {problem}");
        }

        string deviceId = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (string.IsNullOrEmpty(deviceId) || !_isRegistered(deviceId))
        {
            return new MqttCertificateCheck(null, thumbprint, MqttAuthenticationResult.NotAuthorized,
                $"the client certificate's CN \"{deviceId}\" is no registered device id; the CN must be the id of a registered device (plexus devices add)");
        }

        if (_hasRegisteredCertificates(deviceId))
        {
            return Bad(thumbprint, $"device \"{deviceId}\" accepts only its registered certificates and {thumbprint} is not one of them (rotated away or revoked)");
        }

        return new MqttCertificateCheck(deviceId, thumbprint, MqttAuthenticationResult.Accepted, null);
    }

    private static MqttCertificateCheck Bad(string thumbprint, string reason) => new(null, thumbprint, MqttAuthenticationResult.BadUserNameOrPassword, reason);

    /// <summary>Where the certificate says what its key is for and TLS client authentication is not among it: why; otherwise null.</summary>
    private static string? NotForClientAuthentication(X509Certificate2 certificate)
    {
        foreach (var extension in certificate.Extensions)
        {
            if (extension is X509EnhancedKeyUsageExtension enhanced)
            {
                bool client = false;
                foreach (var oid in enhanced.EnhancedKeyUsages)
                {
                    client |= oid.Value is ClientAuthenticationOid or AnyExtendedKeyUsageOid;
                }

                if (!client)
                {
                    return "the client certificate's extended key usage does not include TLS client authentication (1.3.6.1.5.5.7.3.2)";
                }
            }
            else if (extension is X509KeyUsageExtension usage
                && (usage.KeyUsages & (X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement)) == 0)
            {
                return "the client certificate's key usage allows neither digital signatures nor key agreement, which TLS client authentication needs";
            }
        }

        return null;
    }

    /// <summary>Builds the chain against the configured CAs only; null when it ends at one of them, otherwise what is wrong.</summary>
    private string? ChainProblem(X509Certificate2 certificate, DateTime now)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        foreach (var authority in _authorities!)
        {
            // Self-issued CAs are the trust anchors; intermediate CAs from the file help build the chain up to one.
            if (string.Equals(authority.Subject, authority.Issuer, StringComparison.Ordinal))
            {
                chain.ChainPolicy.CustomTrustStore.Add(authority);
            }
            else
            {
                chain.ChainPolicy.ExtraStore.Add(authority);
            }
        }

        if (chain.Build(certificate))
        {
            return null;
        }

        var statuses = chain.ChainStatus.Select(s => s.Status.ToString()).Distinct(StringComparer.Ordinal);
        return string.Join(", ", statuses);
    }
}
