using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;

namespace Plexus.MqttBench;

/// <summary>
/// How every client of a load reaches its broker: plain TCP, or TLS to a listener that presents the run's
/// self-signed certificate (<see cref="BenchCertificate"/>). Devices and the subscriber use the same transport.
/// </summary>
internal sealed class BenchTransport
{
    public const string Tcp = "tcp";

    public const string Tls = "tls";

    private readonly string _trustedThumbprint;

    private BenchTransport(string name, BenchCertificate? certificate)
    {
        Name = name;
        Certificate = certificate;
        _trustedThumbprint = certificate?.Thumbprint ?? "";
    }

    public string Name { get; }

    /// <summary>The PEM files the server's TLS listener presents; null for plain TCP.</summary>
    public BenchCertificate? Certificate { get; }

    public bool IsTls => Certificate is not null;

    public static BenchTransport PlainTcp { get; } = new(Tcp, null);

    public static BenchTransport WithTls(BenchCertificate certificate) => new(Tls, certificate);

    /// <summary>A connected stream to 127.0.0.1:<paramref name="port"/>, the TLS handshake done when the transport is TLS.</summary>
    public async Task<Stream> ConnectAsync(int port, CancellationToken cancellation = default)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, cancellation);
            var network = new NetworkStream(socket, ownsSocket: true);
            if (!IsTls)
            {
                return network;
            }

            var tls = new SslStream(network, leaveInnerStreamOpen: false, (_, certificate, _, _) => IsTrusted(certificate));
            try
            {
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.None }, cancellation);
            }
            catch
            {
                await tls.DisposeAsync();
                throw;
            }

            return tls;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The MQTTnet client options for this transport (the <c>--generator mqttnet</c> devices and the subscriber).</summary>
    public MqttClientOptionsBuilder Configure(MqttClientOptionsBuilder builder, int port)
    {
        builder.WithTcpServer("127.0.0.1", port);
        if (IsTls)
        {
            builder.WithTlsOptions(o => o.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(args => IsTrusted(args.Certificate)));
        }

        return builder;
    }

    // A self-signed certificate has no chain to check: trust exactly the one this run made, nothing else.
    private bool IsTrusted(X509Certificate? certificate) =>
        certificate is not null && string.Equals(certificate.GetCertHashString(), _trustedThumbprint, StringComparison.OrdinalIgnoreCase);
}

/// <summary>A self-signed P-256 server certificate for 127.0.0.1 and localhost, written as PEM files for the TLS listeners.</summary>
internal sealed record BenchCertificate(string CertificatePath, string KeyPath, string Thumbprint)
{
    public static BenchCertificate Create(string folder)
    {
        Directory.CreateDirectory(folder);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var subjectNames = new SubjectAlternativeNameBuilder();
        subjectNames.AddIpAddress(IPAddress.Loopback);
        subjectNames.AddDnsName("localhost");
        request.CertificateExtensions.Add(subjectNames.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var notBefore = TimeProvider.System.GetUtcNow().AddDays(-1);
        using var certificate = request.CreateSelfSigned(notBefore, notBefore.AddDays(7));
        var paths = new BenchCertificate(Path.Combine(folder, "server.crt"), Path.Combine(folder, "server.key"), certificate.GetCertHashString());
        File.WriteAllText(paths.CertificatePath, certificate.ExportCertificatePem());
        // Readable by others (the umask's mode): started as root, Mosquitto drops to its own user before it reads the
        // key. The key is made for this run, signs nothing but the loopback handshakes and is deleted afterwards.
        File.WriteAllText(paths.KeyPath, key.ExportPkcs8PrivateKeyPem());
        return paths;
    }
}
