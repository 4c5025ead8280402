using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;
using Plexus.Devices;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;
using static Plexus.TestKit.TestClientCertificates;

namespace Plexus.Broker.Tests.Auth;

/// <summary>
/// Devices that authenticate with an X.509 client certificate on the MQTT TLS listener (docs/mqtt.md#client-certificates):
/// registered certificates, a client CA with CN = device id, revocation, rotation and identity, with real TLS.
/// </summary>
public sealed class ClientCertificateTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Device_with_a_registered_certificate_connects_without_a_token_and_its_telemetry_is_stored(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("meter-1"));
        using var certificate = CreateClient("any-subject");
        server.Server.Devices.Certificates.Add("meter-1", Pem(certificate));

        var (device, result) = await TryConnectAsync(server, certificate, version, userName: "whatever");
        using (device)
        {
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            Assert.True((await PublishAsync(device, "devices/meter-1/telemetry", """{"kwh": 12.5}""")).IsSuccess);
        }

        var rows = await server.RowsAsync("SELECT device, kwh FROM telemetry");
        Assert.Equal("meter-1", rows[0][0].GetString());
        Assert.Equal(12.5, rows[0][1].GetDouble());
        Assert.Equal(1, server.Server.Broker!.FastPathMessages);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Unregistered_self_signed_certificate_is_refused_and_the_reason_logged_once(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("meter-1"));
        using var stranger = CreateClient("meter-1");

        var (client, result) = await TryConnectAsync(server, stranger, version);
        client.Dispose();

        // MQTT 5 0x86; MQTTnet maps the 3.1.1 return code 4 to the same result.
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        var refusals = server.Logs.Entries.Where(e => e.Message.Contains("MQTT connection refused", StringComparison.Ordinal)).ToList();
        var refusal = Assert.Single(refusals);
        Assert.Contains("registered for no device", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Removed_certificate_is_refused_on_the_next_connect_and_its_open_connection_is_closed()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        string token = server.Server.Devices.Add(new NewDevice("meter-1")).Token;
        using var certificate = CreateClient("meter-1");
        server.Server.Devices.Certificates.Add("meter-1", Pem(certificate));
        var (device, _) = await TryConnectAsync(server, certificate);
        using var withToken = await DeviceTestClients.ConnectAsync(server, "meter-1", token);
        var closed = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.DisconnectedAsync += e =>
        {
            closed.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };

        Assert.True(server.Server.Devices.Certificates.Remove("meter-1", Thumbprint(certificate)));

        Assert.Equal(MqttClientDisconnectReason.NotAuthorized, await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        device.Dispose();
        Assert.True(withToken.IsConnected);
        var (again, result) = await TryConnectAsync(server, certificate);
        again.Dispose();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
    }

    [Fact]
    public async Task Removing_the_device_closes_its_certificate_connection_and_a_device_registered_again_does_not_inherit_the_certificate()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("meter-1"));
        using var certificate = CreateClient("meter-1");
        server.Server.Devices.Certificates.Add("meter-1", Pem(certificate));
        var (device, _) = await TryConnectAsync(server, certificate);
        var closed = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.DisconnectedAsync += e =>
        {
            closed.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };

        Assert.True(server.Server.Devices.Remove("meter-1"));
        Assert.Equal(MqttClientDisconnectReason.NotAuthorized, await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        device.Dispose();

        server.Server.Devices.Add(new NewDevice("meter-1"));
        var (again, result) = await TryConnectAsync(server, certificate);
        again.Dispose();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
    }

    [Fact]
    public async Task Certificate_of_device_a_cannot_publish_to_device_b_nor_connect_with_device_b_token()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("a"));
        string tokenOfB = server.Server.Devices.Add(new NewDevice("b")).Token;
        using var certificateOfA = CreateClient("b");
        server.Server.Devices.Certificates.Add("a", Pem(certificateOfA));

        var (device, result) = await TryConnectAsync(server, certificateOfA);
        using (device)
        {
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            var refused = await PublishAsync(device, "devices/b/telemetry", """{"v": 1}""");
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
            Assert.True((await PublishAsync(device, "devices/a/telemetry", """{"v": 2}""")).IsSuccess);
        }

        var rows = await server.RowsAsync("SELECT device, v FROM telemetry");
        Assert.Equal("a", Assert.Single(rows)[0].GetString());

        // A password beside the certificate must be the same device's token: B's is refused.
        var (mixed, mixedResult) = await TryConnectAsync(server, certificateOfA, userName: "b", password: tokenOfB);
        mixed.Dispose();
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, mixedResult.ResultCode);

        // The same certificate cannot be registered for B too.
        var conflict = Assert.Throws<Plexus.Core.RegistryException>(() => server.Server.Devices.Certificates.Add("b", Pem(certificateOfA)));
        Assert.Contains("another device", conflict.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Certificate_issued_by_the_client_ca_with_a_registered_device_id_as_cn_connects_as_that_device(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory();
        using var authority = CreateAuthority("Fleet CA");
        await using var server = await StartAsync(folder, authority);
        server.Server.Devices.Add(new NewDevice("gw-17"));
        using var certificate = CreateClient("gw-17", authority);

        var (device, result) = await TryConnectAsync(server, certificate, version);
        using (device)
        {
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            Assert.True((await PublishAsync(device, "devices/gw-17/telemetry", """{"v": 3}""")).IsSuccess);
        }

        var rows = await server.RowsAsync("SELECT device FROM telemetry");
        Assert.Equal("gw-17", Assert.Single(rows)[0].GetString());
    }

    [Fact]
    public async Task Certificate_from_another_ca_or_naming_no_registered_device_is_refused()
    {
        using var folder = new TempDirectory();
        using var authority = CreateAuthority("Fleet CA");
        using var otherAuthority = CreateAuthority("Fleet CA");
        await using var server = await StartAsync(folder, authority);
        server.Server.Devices.Add(new NewDevice("gw-17"));
        using var fromOtherCa = CreateClient("gw-17", otherAuthority);
        using var unregistered = CreateClient("gw-99", authority);

        var (first, otherCa) = await TryConnectAsync(server, fromOtherCa);
        first.Dispose();
        var (second, noDevice) = await TryConnectAsync(server, unregistered);
        second.Dispose();

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, otherCa.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, noDevice.ResultCode);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("not issued by a CA of --mqtt-client-ca", StringComparison.Ordinal));
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("\"gw-99\" is no registered device id", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Expired_certificate_is_refused_whether_registered_or_issued_by_the_client_ca()
    {
        using var folder = new TempDirectory();
        using var authority = CreateAuthority("Fleet CA");
        await using var server = await StartAsync(folder, authority);
        server.Server.Devices.Add(new NewDevice("old-1"));
        server.Server.Devices.Add(new NewDevice("old-2"));
        var lastMonth = TimeProvider.System.GetUtcNow().AddDays(-30);
        using var registered = CreateClient("old-1", validFrom: lastMonth, validFor: TimeSpan.FromDays(1));
        using var issued = CreateClient("old-2", authority, validFrom: lastMonth, validFor: TimeSpan.FromDays(1));
        server.Server.Devices.Certificates.Add("old-1", Pem(registered));

        foreach (var certificate in new[] { registered, issued })
        {
            var (client, result) = await TryConnectAsync(server, certificate);
            client.Dispose();
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        }

        Assert.Equal(2, server.Logs.Entries.Count(e => e.Message.Contains("the client certificate expired at", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Certificate_not_for_client_authentication_is_refused()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("meter-1"));
        using var serverOnly = CreateClient("meter-1", serverOnly: true);
        server.Server.Devices.Certificates.Add("meter-1", Pem(serverOnly));

        var (client, result) = await TryConnectAsync(server, serverOnly);
        client.Dispose();

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("does not include TLS client authentication", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rotation_adds_the_new_certificate_before_the_old_one_is_removed()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("meter-1"));
        using var old = CreateClient("meter-1");
        using var fresh = CreateClient("meter-1");
        var certificates = server.Server.Devices.Certificates;
        certificates.Add("meter-1", Pem(old));
        certificates.Add("meter-1", Thumbprint(fresh).ToUpperInvariant());

        foreach (var certificate in new[] { old, fresh })
        {
            var (client, result) = await TryConnectAsync(server, certificate);
            client.Dispose();
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        }

        Assert.True(certificates.Remove("meter-1", Thumbprint(old)));
        var (oldClient, oldResult) = await TryConnectAsync(server, old);
        oldClient.Dispose();
        var (freshClient, freshResult) = await TryConnectAsync(server, fresh);
        freshClient.Dispose();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, oldResult.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.Success, freshResult.ResultCode);

        for (int i = 0; i < DeviceCertificates.MaxPerDevice - 1; i++)
        {
            using var spare = CreateClient("meter-1");
            certificates.Add("meter-1", Pem(spare));
        }

        using var oneTooMany = CreateClient("meter-1");
        var full = Assert.Throws<Plexus.Core.RegistryException>(() => certificates.Add("meter-1", Pem(oneTooMany)));
        Assert.Contains($"the most a device may have ({DeviceCertificates.MaxPerDevice})", full.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registering_a_certificate_for_a_ca_mode_device_revokes_its_other_ca_issued_certificates()
    {
        using var folder = new TempDirectory();
        using var authority = CreateAuthority("Fleet CA");
        await using var server = await StartAsync(folder, authority);
        server.Server.Devices.Add(new NewDevice("gw-17"));
        using var lost = CreateClient("gw-17", authority);
        using var replacement = CreateClient("gw-17", authority);
        var (device, connected) = await TryConnectAsync(server, lost);
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        var closed = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.DisconnectedAsync += e =>
        {
            closed.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };

        server.Server.Devices.Certificates.Add("gw-17", Pem(replacement));

        Assert.Equal(MqttClientDisconnectReason.NotAuthorized, await closed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        device.Dispose();
        var (again, refused) = await TryConnectAsync(server, lost);
        again.Dispose();
        var (pinned, accepted) = await TryConnectAsync(server, replacement);
        pinned.Dispose();
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.ResultCode);
        Assert.Equal(MqttClientConnectResultCode.Success, accepted.ResultCode);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("rotated away or revoked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Registered_certificates_survive_a_restart_and_go_with_their_device()
    {
        using var folder = new TempDirectory();
        using var data = new TempDirectory();
        using var kept = CreateClient("meter-1");
        using var dropped = CreateClient("meter-2");
        await using (var first = await StartAsync(folder, dataDirectory: data.Path))
        {
            first.Server.Devices.Add(new NewDevice("meter-1"));
            first.Server.Devices.Add(new NewDevice("meter-2"));
            first.Server.Devices.Certificates.Add("meter-1", Pem(kept));
            first.Server.Devices.Certificates.Add("meter-2", Pem(dropped));
            Assert.True(first.Server.Devices.Remove("meter-2"));
        }

        await using var server = await StartAsync(folder, dataDirectory: data.Path);
        var certificate = Assert.Single(server.Server.Devices.Certificates.List("meter-1"));
        Assert.Equal(Thumbprint(kept), certificate.Thumbprint);
        Assert.Equal("CN=meter-1", certificate.Subject);
        Assert.Null(server.Server.Devices.Certificates.DeviceOf(Thumbprint(dropped)));

        var (client, result) = await TryConnectAsync(server, kept);
        client.Dispose();
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
    }

    [Fact]
    public async Task Client_ca_that_is_missing_not_a_ca_or_without_a_tls_listener_stops_the_start_with_the_reason()
    {
        using var folder = new TempDirectory();
        var (certificatePath, keyPath, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        using var device = CreateClient("meter-1");
        string notCa = Path.Combine(folder.Path, "device.pem");
        await File.WriteAllTextAsync(notCa, Pem(device));
        string missing = Path.Combine(folder.Path, "missing.pem");

        var noFile = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath, MqttTlsKey = keyPath, MqttClientCa = missing }));
        Assert.Contains("--mqtt-client-ca", noFile.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", noFile.Message, StringComparison.Ordinal);

        var deviceCertificate = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath, MqttTlsKey = keyPath, MqttClientCa = notCa }));
        Assert.Contains("is not a CA certificate", deviceCertificate.Message, StringComparison.Ordinal);

        var noTls = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttClientCa = certificatePath }));
        Assert.Contains("needs the MQTT TLS listener", noTls.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Token_clients_keep_connecting_on_the_tls_listener_that_asks_for_certificates()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        string token = server.Server.Devices.Add(new NewDevice("meter-1")).Token;

        var (client, result) = await TryConnectAsync(server, certificate: null, userName: "meter-1", password: token);
        client.Dispose();

        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
    }

    [Fact]
    public async Task Mosquitto_pub_with_a_registered_certificate_and_key_publishes_as_the_device()
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder);
        server.Server.Devices.Add(new NewDevice("meter-1"));
        using var certificate = CreateClient("meter-1");
        var (certificatePath, keyPath) = WritePem(certificate, folder.Path, "meter-1");
        using var stranger = CreateClient("meter-1");
        var (strangerPath, strangerKeyPath) = WritePem(stranger, folder.Path, "stranger");

        server.Server.Devices.Certificates.Add("meter-1", File.ReadAllText(certificatePath));

        var (exit, error) = await MosquittoPubAsync(server, folder, certificatePath, keyPath, "devices/meter-1/telemetry", """{"kwh": 7}""");
        Assert.True(exit == 0, $"mosquitto_pub exited with {exit}: {error}");
        var rows = await server.RowsAsync("SELECT device, kwh FROM telemetry");
        Assert.Equal("meter-1", Assert.Single(rows)[0].GetString());

        var (refusedExit, refusedError) = await MosquittoPubAsync(server, folder, strangerPath, strangerKeyPath, "devices/meter-1/telemetry", """{"kwh": 8}""");
        Assert.NotEqual(0, refusedExit);
        Assert.Contains("bad user name or password", refusedError, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<PlexusTestServer> StartAsync(TempDirectory folder, X509Certificate2? authority = null, string? dataDirectory = null)
    {
        var (certificatePath, keyPath, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        string? authorityPath = null;
        if (authority is not null)
        {
            authorityPath = Path.Combine(folder.Path, "client-ca.pem");
            await File.WriteAllTextAsync(authorityPath, Pem(authority));
        }

        return await PlexusTestServer.StartAsync(dataDirectory, configure: o => o with
        {
            MqttTlsEndpoint = "127.0.0.1:0",
            MqttTlsCertificate = certificatePath,
            MqttTlsKey = keyPath,
            MqttClientCa = authorityPath,
        });
    }

    /// <summary>Connects over TLS with the certificate (or none) and returns the CONNACK's result whatever it is.</summary>
    private static async Task<(IMqttClient Client, MqttClientConnectResult Result)> TryConnectAsync(
        PlexusTestServer server, X509Certificate2? certificate, MqttProtocolVersion version = MqttProtocolVersion.V500, string? userName = null, string? password = null)
    {
        var tls = server.Server.MqttTlsEndpoint!;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", tls.Port)
            .WithProtocolVersion(version)
            .WithClientId("cert-" + Guid.NewGuid().ToString("N")[..8])
            .WithTimeout(TimeSpan.FromSeconds(10))
            .WithTlsOptions(o =>
            {
                // The test's server certificate is self-signed: trusted here by being the listener's, whatever its chain.
                o.UseTls().WithCertificateValidationHandler(args => args.Certificate.Subject == "CN=localhost");
                if (certificate is not null)
                {
                    o.WithClientCertificates([certificate]);
                }
            });
        if (userName is not null)
        {
            builder.WithCredentials(userName, password);
        }

        var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            return (client, await client.ConnectAsync(builder.Build()));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static async Task<(int ExitCode, string Error)> MosquittoPubAsync(PlexusTestServer server, TempDirectory folder, string certificatePath, string keyPath, string topic, string message)
    {
        var tls = server.Server.MqttTlsEndpoint!;
        string[] arguments = ["-h", "127.0.0.1", "-p", tls.Port.ToString(CultureInfo.InvariantCulture), "--cafile", Path.Combine(folder.Path, "server.crt"), "--cert", certificatePath, "--key", keyPath, "-q", "1", "-t", topic, "-m", message];
        using var publisher = Process.Start(new ProcessStartInfo("mosquitto_pub", arguments) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        string error = await publisher.StandardError.ReadToEndAsync();
        await publisher.WaitForExitAsync();
        return (publisher.ExitCode, error);
    }
}
