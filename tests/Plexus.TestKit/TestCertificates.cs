using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.TestKit;

/// <summary>Self-signed server certificates made in the test, for the TLS listeners (MQTT over TLS, HTTPS).</summary>
public static class TestCertificates
{
    /// <summary>A self-signed certificate for 127.0.0.1/localhost as PEM files; returns the paths and its thumbprint.</summary>
    public static (string Certificate, string Key, string Thumbprint) WriteSelfSignedPem(string folder)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        var now = DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());
        using var certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30));
        string certificatePath = Path.Combine(folder, "server.crt");
        string keyPath = Path.Combine(folder, "server.key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath, certificate.GetCertHashString());
    }

    /// <summary>An HTTP handler that trusts exactly the certificate in <paramref name="certificatePath"/> (and checks the host name).</summary>
    public static SocketsHttpHandler TrustingHandler(string certificatePath)
    {
        var trusted = X509CertificateLoader.LoadCertificateFromFile(certificatePath);
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(trusted);
        return new SocketsHttpHandler { SslOptions = new System.Net.Security.SslClientAuthenticationOptions { CertificateChainPolicy = policy } };
    }
}
