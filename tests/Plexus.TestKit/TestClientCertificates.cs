using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.TestKit;

/// <summary>Device client certificates and the CAs that issue them, made in the test with <see cref="CertificateRequest"/>.</summary>
public static class TestClientCertificates
{
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";
    private const string ServerAuthenticationOid = "1.3.6.1.5.5.7.3.1";

    private static DateTimeOffset Now => DateTimeOffset.FromUnixTimeSeconds(TimeProvider.System.GetUtcNow().ToUnixTimeSeconds());

    /// <summary>A self-signed CA that can issue device certificates (with its private key).</summary>
    public static X509Certificate2 CreateAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        using var certificate = request.CreateSelfSigned(Now.AddDays(-1), Now.AddYears(1));
        return Usable(certificate);
    }

    /// <summary>
    /// A client certificate with CN = <paramref name="commonName"/>: issued by <paramref name="issuer"/>, or self-signed
    /// when it is null; valid from <paramref name="validFrom"/> (default yesterday) for <paramref name="validFor"/>
    /// (default 30 days); for TLS client authentication unless <paramref name="serverOnly"/>.
    /// </summary>
    public static X509Certificate2 CreateClient(string commonName, X509Certificate2? issuer = null, DateTimeOffset? validFrom = null, TimeSpan? validFor = null, bool serverOnly = false)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + commonName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverOnly ? ServerAuthenticationOid : ClientAuthenticationOid)], critical: false));
        var from = validFrom ?? Now.AddDays(-1);
        var until = from + (validFor ?? TimeSpan.FromDays(30));
        if (issuer is null)
        {
            using var selfSigned = request.CreateSelfSigned(from, until);
            return Usable(selfSigned);
        }

        using var issuerKey = issuer.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the issuer has no private key");
        using var issued = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), from, until, RandomNumberGenerator.GetBytes(16));
        using var withKey = issued.CopyWithPrivateKey(key);
        return Usable(withKey);
    }

    /// <summary>The certificate as PEM, without its key: what an operator registers.</summary>
    public static string Pem(X509Certificate2 certificate) => certificate.ExportCertificatePem();

    /// <summary>Writes the certificate and its private key as PEM files (for mosquitto_pub --cert --key); returns their paths.</summary>
    public static (string Certificate, string Key) WritePem(X509Certificate2 certificate, string folder, string name)
    {
        string certificatePath = Path.Combine(folder, name + ".crt");
        string keyPath = Path.Combine(folder, name + ".key");
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        using var key = certificate.GetECDsaPrivateKey() ?? throw new InvalidOperationException("the certificate has no private key");
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>The SHA-256 thumbprint in lower-case hex, as the registry shows it.</summary>
    public static string Thumbprint(X509Certificate2 certificate) => Convert.ToHexStringLower(certificate.GetCertHash(HashAlgorithmName.SHA256));

    // On Linux SslStream cannot use an ephemeral key; a PKCS#12 round trip gives the certificate one it can use.
    private static X509Certificate2 Usable(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null, X509KeyStorageFlags.Exportable);
}
