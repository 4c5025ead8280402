using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.Broker;

/// <summary>The server certificate of the MQTT-over-TLS listener, read from PEM files.</summary>
internal static class TlsCertificate
{
    /// <summary>
    /// Reads the certificate and its key. Errors name the file and what is wrong with it, and are thrown as
    /// <see cref="IOException"/> so that `plexus serve` reports them as a start failure.
    /// </summary>
    public static X509Certificate2 LoadCertificate(string? certificatePath, string? keyPath)
    {
        if (string.IsNullOrWhiteSpace(certificatePath) || string.IsNullOrWhiteSpace(keyPath))
        {
            throw new IOException("the MQTT TLS listener needs a PEM certificate and its private key: set --mqtt-tls-cert and --mqtt-tls-key");
        }

        RequireFile(certificatePath, "mqtt-tls-cert", "certificate");
        RequireFile(keyPath, "mqtt-tls-key", "private key");
        X509Certificate2 pem;
        try
        {
            pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        }
        catch (CryptographicException error)
        {
            throw new IOException($"cannot use {certificatePath} (--mqtt-tls-cert) with {keyPath} (--mqtt-tls-key): {error.Message} (both must be PEM, the key must belong to the certificate, and an encrypted key is not supported)", error);
        }
        catch (ArgumentException error)
        {
            throw new IOException($"cannot use {certificatePath} (--mqtt-tls-cert) with {keyPath} (--mqtt-tls-key): {error.Message}", error);
        }

        using (pem)
        {
            if (!pem.HasPrivateKey)
            {
                throw new IOException($"{keyPath} (--mqtt-tls-key) holds no private key for {certificatePath}");
            }

            // On Linux SslStream cannot use the ephemeral key of a certificate made from PEM; a PKCS#12 round trip
            // gives it a key it can use.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
        }
    }

    private static void RequireFile(string path, string option, string what)
    {
        if (!File.Exists(path))
        {
            throw new IOException($"the TLS {what} file {path} (--{option}) does not exist");
        }
    }
}
