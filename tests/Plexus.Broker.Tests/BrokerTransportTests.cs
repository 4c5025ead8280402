using System.Diagnostics;
using System.Net;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>The other ways in: MQTT over TLS (its own port) and MQTT over WebSocket (the HTTP port, /mqtt).</summary>
public sealed class BrokerTransportTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Tls_listener_serves_publish_and_subscribe_with_a_pem_certificate(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory();
        var (certificatePath, keyPath, thumbprint) = WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath, MqttTlsKey = keyPath });
        var tls = server.Server.MqttTlsEndpoint ?? throw new InvalidOperationException("no TLS listener");
        Assert.NotEqual(0, tls.Port);
        Assert.NotEqual(server.MqttEndpoint!.Port, tls.Port);

        string? seenThumbprint = null;
        void UseTls(MqttClientOptionsBuilder builder) => builder
            .WithTcpServer("127.0.0.1", tls.Port)
            .WithTlsOptions(o => o.UseTls().WithCertificateValidationHandler(args =>
            {
                // Trust exactly the test's certificate, whatever the chain says of a self-signed one.
                seenThumbprint = args.Certificate.GetCertHashString();
                return string.Equals(seenThumbprint, thumbprint, StringComparison.OrdinalIgnoreCase);
            }));
        using var subscriber = await MqttTestClients.ConnectAsync(server, version, configure: UseTls);
        using var publisher = await MqttTestClients.ConnectAsync(server, version, configure: UseTls);
        using var plain = await MqttTestClients.ConnectAsync(server, version);
        var received = await subscriber.SubscribeCollectingAsync("secure/#");

        await publisher.PublishAsync("secure/a", "over tls");
        await plain.PublishAsync("secure/b", "over tcp");

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2);
        Assert.Equal(thumbprint, seenThumbprint, StringComparer.OrdinalIgnoreCase);
        lock (received)
        {
            Assert.Equal(["over tcp", "over tls"], received.Select(MqttTestClients.Text).Order(StringComparer.Ordinal));
        }

        // The TLS port speaks only TLS: a plain MQTT client gets no CONNACK.
        using var cleartext = new MqttClientFactory().CreateMqttClient();
        await Assert.ThrowsAnyAsync<Exception>(() => cleartext.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", tls.Port).WithCredentials("app", PlexusTestServer.AdminToken).WithTimeout(TimeSpan.FromSeconds(3)).Build()));
    }

    [Fact]
    public async Task Device_telemetry_over_tls_takes_the_fast_path_and_is_stored()
    {
        using var folder = new TempDirectory();
        var (certificatePath, keyPath, thumbprint) = WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath, MqttTlsKey = keyPath });
        string token = server.Server.Devices.Add(new Plexus.Devices.NewDevice("tls-1")).Token;
        var tls = server.Server.MqttTlsEndpoint!;
        using var device = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311, "tls-1", token, b => b
            .WithCredentials("tls-1", token)
            .WithTcpServer("127.0.0.1", tls.Port)
            .WithTlsOptions(o => o.UseTls().WithCertificateValidationHandler(args => string.Equals(args.Certificate.GetCertHashString(), thumbprint, StringComparison.OrdinalIgnoreCase))));

        await device.PublishAsync("devices/tls-1/telemetry", """{"temp": 21.5}""");

        var rows = await server.RowsAsync("SELECT device, temp FROM telemetry");
        Assert.Equal("tls-1", rows[0][0].GetString());
        Assert.Equal(1, server.Server.Broker!.FastPathMessages);
    }

    [Fact]
    public async Task Mosquitto_clients_use_the_tls_listener_with_the_certificate_as_ca_file()
    {
        using var folder = new TempDirectory();
        var (certificatePath, keyPath, _) = WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath, MqttTlsKey = keyPath });
        var tls = server.Server.MqttTlsEndpoint!;
        string[] common = ["-h", "127.0.0.1", "-p", tls.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--cafile", certificatePath, "-u", "app", "-P", PlexusTestServer.AdminToken];
        using var watcher = await MqttTestClients.ConnectAsync(server);
        var seen = await watcher.SubscribeCollectingAsync("tls/mosquitto");

        using var publisher = Process.Start(new ProcessStartInfo("mosquitto_pub", [.. common, "-q", "1", "-t", "tls/mosquitto", "-m", "hello"]) { RedirectStandardError = true })!;
        await publisher.WaitForExitAsync();

        Assert.True(publisher.ExitCode == 0, $"mosquitto_pub over TLS exited with {publisher.ExitCode}: {await publisher.StandardError.ReadToEndAsync()}");
        await Eventually.TrueAsync(() => MqttTestClients.Count(seen) == 1);
        Assert.Equal("hello", MqttTestClients.Text(seen[0]));
    }

    [Fact]
    public async Task Missing_or_unusable_tls_files_stop_the_start_with_the_file_named()
    {
        using var folder = new TempDirectory();
        var (certificatePath, keyPath, _) = WriteSelfSignedPem(folder.Path);
        string missing = Path.Combine(folder.Path, "missing.pem");
        string garbage = Path.Combine(folder.Path, "garbage.pem");
        await File.WriteAllTextAsync(garbage, "not a certificate");

        var noFile = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = missing, MqttTlsKey = keyPath }));
        Assert.Contains(missing, noFile.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", noFile.Message, StringComparison.Ordinal);

        var bad = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = garbage, MqttTlsKey = keyPath }));
        Assert.Contains(garbage, bad.Message, StringComparison.Ordinal);

        var noKey = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificatePath }));
        Assert.Contains("--mqtt-tls-key", noKey.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task WebSocket_clients_on_the_http_port_publish_and_subscribe(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string url = $"ws://127.0.0.1:{server.Address.Port}/mqtt";
        void UseWebSocket(MqttClientOptionsBuilder builder) => builder.WithWebSocketServer(o => o.WithUri(url));
        using var subscriber = await MqttTestClients.ConnectAsync(server, version, configure: UseWebSocket);
        using var tcp = await MqttTestClients.ConnectAsync(server, version);
        var received = await subscriber.SubscribeCollectingAsync("ws/#", MqttQualityOfServiceLevel.ExactlyOnce);
        var fromWebSocket = await tcp.SubscribeCollectingAsync("ws/from-browser");

        await tcp.PublishAsync("ws/to-browser", "to ws", MqttQualityOfServiceLevel.ExactlyOnce);
        var ack = await subscriber.PublishAsync("ws/from-browser", "from ws");

        Assert.Equal(MqttClientPublishReasonCode.Success, ack.ReasonCode);
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2 && MqttTestClients.Count(fromWebSocket) == 1);
        Assert.Equal("from ws", MqttTestClients.Text(fromWebSocket[0]));

        // Device data over WebSocket is stored like over TCP.
        await subscriber.PublishAsync("devices/ws-1/telemetry", """{"temp": 7.5}""");
        var rows = await server.RowsAsync("SELECT device, temp FROM telemetry");
        Assert.Equal("ws-1", rows[0][0].GetString());
    }

    [Fact]
    public async Task WebSocket_connect_is_authenticated_like_tcp_and_plain_http_gets_a_clear_400()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string url = $"ws://127.0.0.1:{server.Address.Port}/mqtt";
        using var client = new MqttClientFactory().CreateMqttClient();

        var refused = await client.ConnectAsync(new MqttClientOptionsBuilder().WithWebSocketServer(o => o.WithUri(url))
            .WithProtocolVersion(MqttProtocolVersion.V500).WithCredentials("app", "wrong-token").Build());

        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.ResultCode);
        using var response = await server.Client.GetAsync("/mqtt");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("subprotocol", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_stops_promptly_with_a_websocket_client_connected()
    {
        var server = await PlexusTestServer.StartAsync();
        using var client = await MqttTestClients.ConnectAsync(server, configure: b => b.WithWebSocketServer(o => o.WithUri($"ws://127.0.0.1:{server.Address.Port}/mqtt")));
        Assert.True(client.IsConnected);

        var clock = Stopwatch.StartNew();
        await server.DisposeAsync();

        // An open WebSocket must not hold the HTTP shutdown for its full timeout (15 s).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopping took {clock.Elapsed.TotalSeconds:F1} s");
        await Eventually.TrueAsync(() => !client.IsConnected);
    }

    [Fact]
    public async Task WebSocket_endpoint_answers_404_when_the_broker_is_off()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });

        using var response = await server.Client.GetAsync("/mqtt");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    /// <summary>A self-signed certificate for 127.0.0.1/localhost as PEM files; returns the paths and its thumbprint.</summary>
    internal static (string Certificate, string Key, string Thumbprint) WriteSelfSignedPem(string folder) => TestCertificates.WriteSelfSignedPem(folder);
}
