using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.Core;

/// <summary>A server certificate read from PEM files: the MQTT-over-TLS listener's and the HTTPS one's.</summary>
public static class TlsCertificate
{
    /// <summary>
    /// Reads the certificate and its key. Errors name the file, the option that named it and what is wrong, and are
    /// thrown as <see cref="IOException"/> so that `plexus serve` reports them as a start failure.
    /// </summary>
    /// <param name="listener">What the certificate is for, as the start of a sentence: "the MQTT TLS listener".</param>
    /// <param name="certificateOption">The option naming the certificate file, without dashes: "mqtt-tls-cert".</param>
    /// <param name="keyOption">The option naming the key file: "mqtt-tls-key".</param>
    public static X509Certificate2 LoadCertificate(string? certificatePath, string? keyPath, string listener = "the MQTT TLS listener", string certificateOption = "mqtt-tls-cert", string keyOption = "mqtt-tls-key")
    {
        if (string.IsNullOrWhiteSpace(certificatePath) || string.IsNullOrWhiteSpace(keyPath))
        {
            throw new IOException($"{listener} needs a PEM certificate and its private key: set --{certificateOption} and --{keyOption}");
        }

        RequireFile(certificatePath, certificateOption, "certificate");
        RequireFile(keyPath, keyOption, "private key");
        X509Certificate2 pem;
        try
        {
            pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (CryptographicException error)
        {
            throw new IOException($"cannot use {certificatePath} (--{certificateOption}) with {keyPath} (--{keyOption}): {error.Message} (both must be PEM, the key must belong to the certificate, and an encrypted key is not supported)", error);
        }
        catch (ArgumentException error)
        {
            throw new IOException($"cannot use {certificatePath} (--{certificateOption}) with {keyPath} (--{keyOption}): {error.Message}", error);
        }

        using (pem)
        {
            if (!pem.HasPrivateKey)
            {
                throw new IOException($"{keyPath} (--{keyOption}) holds no private key for {certificatePath}");
            }

            // On Linux SslStream cannot use the ephemeral key of a certificate made from PEM; a PKCS#12 round trip
            // gives it a key it can use.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        }
    }

    /// <summary>
    /// Reads the CA certificates of a PEM file (one or more <c>-----BEGIN CERTIFICATE-----</c> blocks): the trust
    /// store for client certificates. Errors name the file and the option, as <see cref="IOException"/>.
    /// </summary>
    public static X509Certificate2Collection LoadAuthorities(string path, string option)
    {
        RequireFile(path, option, "CA certificate");
        var authorities = new X509Certificate2Collection();
        try
        {
            authorities.ImportFromPemFile(path);
        }
        catch (CryptographicException error)
        {
            throw new IOException($"cannot read the CA certificates in {path} (--{option}): {error.Message}; the file must hold PEM certificates (-----BEGIN CERTIFICATE-----)", error);
        }

        if (authorities.Count == 0)
        {
            throw new IOException($"{path} (--{option}) holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
        }

        foreach (var authority in authorities)
        {
            if (authority.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
            {
                throw new IOException($"{authority.Subject} in {path} (--{option}) is not a CA certificate (its basic constraints do not say CA:TRUE); the file must hold the CAs that issue device certificates, not the devices' own");
            }
        }

        return authorities;
    }

    private static void RequireFile(string path, string option, string what)
    {
        if (!File.Exists(path))
        {
            throw new IOException($"the TLS {what} file {path} (--{option}) does not exist");
        }
    }
}
