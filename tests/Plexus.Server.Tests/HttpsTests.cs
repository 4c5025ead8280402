using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>
/// HTTPS on the HTTP port (--https-cert, --https-key): writes, SQL and MQTT over WebSocket (then WSS) never cross the
/// network in cleartext; and the warning when they would.
/// </summary>
public sealed class HttpsTests
{
    [Fact]
    public async Task Https_serves_write_and_query_to_a_client_that_trusts_the_certificate()
    {
        using var folder = new TempDirectory("plexus-https");
        var (certificate, key, _) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { HttpsCertificate = certificate, HttpsKey = key });
        Assert.Equal(Uri.UriSchemeHttps, server.Address.Scheme);
        using var client = TrustingClient(server, certificate);

        using (var write = await client.PostAsync("/api/v2/write?bucket=secure", new StringContent("reading,site=a value=21.5 1700000000000000000")))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        using var query = await client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT site, value FROM reading", db = "secure" });
        string body = await query.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        var rows = JsonDocument.Parse(body).RootElement.GetProperty("rows");
        Assert.Equal("a", rows[0][0].GetString());
        Assert.Equal(21.5, rows[0][1].GetDouble());

        // The port speaks only TLS: plain HTTP gets no answer, and a client that does not trust the certificate stops.
        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Address.Port}") };
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => plain.GetAsync("/health"));
        using var untrusting = new HttpClient { BaseAddress = server.Address };
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("/health"));
        Assert.Equal(HttpRequestError.SecureConnectionError, refused.HttpRequestError);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Mqtt_over_wss_on_the_https_port_stores_device_data(MqttProtocolVersion version)
    {
        using var folder = new TempDirectory("plexus-wss");
        var (certificate, key, thumbprint) = TestCertificates.WriteSelfSignedPem(folder.Path);
        var server = await PlexusTestServer.StartAsync(configure: o => o with { HttpsCertificate = certificate, HttpsKey = key });

        // MQTTnet's client sends a header of zero bytes when it drops a WebSocket (over ws:// just the same), which the
        // broker logs as an error; that one is checked for below instead of failing the test on dispose.
        server.AllowErrorLogs = true;
        try
        {
            using var mqtt = new MqttClientFactory().CreateMqttClient();
            string? seen = null;
            var connected = await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
                .WithWebSocketServer(o => o.WithUri($"wss://127.0.0.1:{server.Address.Port}/mqtt"))
                .WithTlsOptions(o => o.UseTls().WithCertificateValidationHandler(args =>
                {
                    seen = args.Certificate.GetCertHashString();
                    return string.Equals(seen, thumbprint, StringComparison.OrdinalIgnoreCase);
                }))
                .WithProtocolVersion(version)
                .WithCredentials("app", PlexusTestServer.AdminToken)
                .Build());
            Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
            var ack = await mqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("devices/wss-1/telemetry").WithPayload("""{"temp": 7.5}""")
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

            Assert.True(ack.IsSuccess);
            Assert.Equal(thumbprint, seen, StringComparer.OrdinalIgnoreCase);
            using var client = TrustingClient(server, certificate);
            using var query = await client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT device, temp FROM telemetry" });
            var rows = JsonDocument.Parse(await query.Content.ReadAsStringAsync()).RootElement.GetProperty("rows");
            Assert.Equal("wss-1", rows[0][0].GetString());
            Assert.Equal(7.5, rows[0][1].GetDouble());
            await mqtt.DisconnectAsync();
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.All(server.Logs.Errors, error => Assert.Contains("The packet type is invalid (0)", error, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Https_needs_both_pem_files_and_names_the_missing_option()
    {
        using var folder = new TempDirectory("plexus-https");
        var (certificate, _, _) = TestCertificates.WriteSelfSignedPem(folder.Path);

        var error = await Assert.ThrowsAsync<IOException>(() => PlexusTestServer.StartAsync(configure: o => o with { HttpsCertificate = certificate }));

        Assert.Contains("--https-key", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Cleartext_http_and_mqtt_on_a_reachable_address_are_warned_about()
    {
        // The addresses are only judged, not bound: tests listen on 127.0.0.1 alone.
        var any = new IPEndPoint(IPAddress.Any, 8086);
        var anyMqtt = new IPEndPoint(IPAddress.IPv6Any, 1883);

        var plain = Warnings(any, https: false, anyMqtt);
        var secured = Warnings(any, https: true, mqtt: null);
        var local = Warnings(new IPEndPoint(IPAddress.Loopback, 8086), https: false, new IPEndPoint(IPAddress.IPv6Loopback, 1883));

        Assert.Equal(2, plain.Count);
        Assert.Contains("HTTP on 0.0.0.0:8086 is not encrypted", plain[0], StringComparison.Ordinal);
        Assert.Contains("--https-cert", plain[0], StringComparison.Ordinal);
        Assert.Contains("MQTT on [::]:1883 is not encrypted", plain[1], StringComparison.Ordinal);
        Assert.Contains("--mqtt-tls", plain[1], StringComparison.Ordinal);
        Assert.Empty(secured);
        Assert.Empty(local);
    }

    [Fact]
    public async Task A_server_on_loopback_logs_no_cleartext_warning()
    {
        await using var server = await PlexusTestServer.StartAsync();

        Assert.DoesNotContain(server.Logs.Entries, e => e.Message.Contains("not encrypted", StringComparison.Ordinal));
    }

    private static List<string> Warnings(IPEndPoint http, bool https, IPEndPoint? mqtt)
    {
        var logs = new CollectingLoggerProvider();
        using (var factory = LoggerFactory.Create(builder => builder.AddProvider(logs)))
        {
            PlexusServer.WarnAboutCleartext(factory.CreateLogger("test"), http, https, mqtt);
        }

        Assert.All(logs.Entries, e => Assert.Equal(LogLevel.Warning, e.Level));
        return [.. logs.Entries.Select(e => e.Message)];
    }

    private static HttpClient TrustingClient(PlexusTestServer server, string certificate)
    {
        var client = new HttpClient(TestCertificates.TrustingHandler(certificate), disposeHandler: true) { BaseAddress = server.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", PlexusTestServer.AdminToken);
        return client;
    }
}
