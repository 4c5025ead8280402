using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Core;
using Plexus.Devices;
using Plexus.Pipeline.Observers;
using Plexus.Storage.Writing;
using Plexus.TestKit;

namespace Plexus.Pipeline.Tests;

/// <summary>
/// No ingest path bypasses the pipeline: every way data enters a running server reaches an observer exactly once per
/// durable point, named by its source. Each case writes into a measurement of its own, so a point observed twice, or
/// stored but never observed, shows up as a count that differs from the table's for that case.
/// </summary>
public sealed class EverySourceTests
{
    [Fact]
    public async Task Every_source_reaches_the_observers_exactly_once_per_stored_point()
    {
        using var folder = new TempDirectory();
        var (certificate, key, thumbprint) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificate, MqttTlsKey = key });
        var observer = new CountingObserver();
        server.Server.Pipeline.Observers.Add(observer);
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;

        // Expected per measurement: the source that must have written it (one point each).
        var expected = new Dictionary<string, IngestSource>();

        // HTTP line protocol, with the admin token and with the device's token.
        Assert.True((await server.WriteAsync("http_admin v=1 1")).IsSuccessStatusCode);
        expected["http_admin"] = IngestSource.HttpWrite;
        using (var asDevice = new HttpClient { BaseAddress = server.Address })
        {
            asDevice.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
            Assert.True((await asDevice.PostAsync("/api/v2/write", new StringContent("http_device v=1 1", Encoding.UTF8, "text/plain"))).IsSuccessStatusCode);
            expected["http_device"] = IngestSource.HttpWrite;
        }

        // The HTTP device API, with the device's token: telemetry, SenML by content type, location.
        using (var asDevice = new HttpClient { BaseAddress = server.Address })
        {
            asDevice.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
            Assert.True((await asDevice.PostAsync("/api/v1/devices/d1/telemetry/http_api", new StringContent("""{"v": 1}""", Encoding.UTF8, "application/json"))).IsSuccessStatusCode);
            Assert.True((await asDevice.PostAsync("/api/v1/devices/d1/telemetry/http_senml", new StringContent("""[{"n": "v", "v": 1}]""", Encoding.UTF8, "application/senml+json"))).IsSuccessStatusCode);
            expected["http_api"] = IngestSource.HttpDevice;
            expected["http_senml"] = IngestSource.HttpDevice;
        }

        // MQTT from the device over plain TCP (the fast path) at QoS 0 and 1, in each format.
        using (var device = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311, "d1", token, b => b.WithCredentials("d1", token)))
        {
            await device.PublishAsync("devices/d1/telemetry/tcp_qos1", """{"v": 1}""");
            await device.PublishAsync("devices/d1/telemetry/tcp_qos0", """{"v": 1}""", MqttQualityOfServiceLevel.AtMostOnce);
            await device.PublishAsync("devices/d1/lp", "tcp_lp v=1");
            await device.PublishAsync("devices/d1/telemetry/tcp_qos2", """{"v": 1}""", MqttQualityOfServiceLevel.ExactlyOnce);
            await device.PublishAsync("devices/d1/location", """{"lat": 52.5, "lon": 13.4}""");
            await device.PublishAsync("devices/d1/state", """{"firmware": "1.2"}""");
        }

        expected["tcp_qos1"] = IngestSource.Mqtt;
        expected["tcp_qos0"] = IngestSource.Mqtt;
        expected["tcp_lp"] = IngestSource.Mqtt;
        expected["tcp_qos2"] = IngestSource.Mqtt;
        expected[DeviceDataNames.Positions] = IngestSource.Mqtt;
        expected[DeviceDataNames.StateHistory] = IngestSource.Internal;

        // MQTT 5 with SenML by content type, over TLS.
        var tls = server.Server.MqttTlsEndpoint!;
        using (var device = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V500, "d1", token, b => b
            .WithCredentials("d1", token)
            .WithTcpServer("127.0.0.1", tls.Port)
            .WithTlsOptions(o => o.UseTls().WithCertificateValidationHandler(args => string.Equals(args.Certificate.GetCertHashString(), thumbprint, StringComparison.OrdinalIgnoreCase)))))
        {
            await device.PublishAsync("devices/d1/telemetry/tls_qos1", """{"v": 1}""");
            await device.PublishAsync("devices/d1/telemetry/tls_senml", """[{"n": "v", "v": 1}]""", contentType: "application/senml+json");
        }

        expected["tls_qos1"] = IngestSource.Mqtt;
        expected["tls_senml"] = IngestSource.Mqtt;

        // MQTT over WebSocket on the HTTP port.
        using (var device = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311, "d1", token, b => b
            .WithCredentials("d1", token)
            .WithWebSocketServer(o => o.WithUri($"ws://127.0.0.1:{server.Address.Port}/mqtt"))))
        {
            await device.PublishAsync("devices/d1/telemetry/ws_qos1", """{"v": 1}""");
        }

        expected["ws_qos1"] = IngestSource.Mqtt;

        // An application publishing to a device topic while a dashboard subscribes to devices/#, at QoS 0 and 1.
        using (var dashboard = await MqttTestClients.ConnectAsync(server))
        using (var application = await MqttTestClients.ConnectAsync(server))
        {
            var seen = await dashboard.SubscribeCollectingAsync("devices/#");
            await application.PublishAsync("devices/d1/telemetry/app_qos1", """{"v": 1}""");
            await application.PublishAsync("devices/d1/telemetry/app_qos0", """{"v": 1}""", MqttQualityOfServiceLevel.AtMostOnce);
            await Eventually.TrueAsync(() => MqttTestClients.Count(seen) == 2);
        }

        expected["app_qos1"] = IngestSource.Mqtt;
        expected["app_qos0"] = IngestSource.Mqtt;

        // QoS 0 is acknowledged before its commit: wait until every case is stored, then compare.
        foreach (string measurement in expected.Keys)
        {
            await Eventually.TrueAsync(async () => (await server.RowsAsync($"SELECT count(*) FROM main.\"{measurement}\"")) is [[var count]] && count.GetInt64() >= 1, because: measurement + " is stored");
        }

        foreach (var (measurement, source) in expected)
        {
            // One row per case, except the state history, which also records every connect and disconnect of the device.
            long stored = (await server.RowsAsync($"SELECT count(*) FROM main.\"{measurement}\""))[0][0].GetInt64();
            Assert.True(stored == 1 || measurement == DeviceDataNames.StateHistory, $"{measurement}: {stored} rows stored, expected 1");
            var observed = observer.Points.Where(p => p.Key.Measurement == measurement).ToDictionary(p => p.Key.Source, p => p.Value);
            Assert.True(observed.Count == 1 && observed.TryGetValue(source, out int times) && times == stored,
                $"{measurement}: observed {string.Join(", ", observed.Select(p => $"{p.Value}× from {p.Key}"))}; expected {stored}× from {source}");
        }

        Assert.DoesNotContain(observer.Points.Keys, k => !expected.ContainsKey(k.Measurement) && k.Source != IngestSource.Internal);
    }

    private sealed class CountingObserver : IIngestObserver
    {
        public ConcurrentDictionary<(string Measurement, IngestSource Source), int> Points { get; } = new();

        public string Name => "counting";

        public void OnStored(in CommittedWrite write)
        {
            for (int i = 0; i < write.Batch.Count; i++)
            {
                if (write.IsStored(i) && write.Namespace == "main")
                {
                    Points.AddOrUpdate((Encoding.UTF8.GetString(write.Batch.Text(write.Batch[i].Measurement)), write.Origin.Source), 1, (_, n) => n + 1);
                }
            }
        }
    }
}
