using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Broker.Auth;
using Plexus.Devices;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Broker.Tests.Auth;

/// <summary>MQTT applications with scoped API tokens, and auto-provisioning with a provisioning key, over real clients.</summary>
public sealed class ScopedMqttTests
{
    private const string ProvisioningKey = "fleet-provisioning-key-0123456789";

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Read_token_application_subscribes_anywhere_but_may_not_publish(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string read = server.Server.ApiTokens.Create("dashboard", Api.Auth.ApiScope.Read).Token;
        using var app = await ConnectAsync(server, "dashboard", read, version);

        var subscribed = await app.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var refused = await PublishAsync(app, "devices/d1/telemetry", """{"temp": 1}""");

        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(subscribed.Items).ResultCode);
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        }

        Assert.True(app.IsConnected);
        using var writer = await ConnectAsync(server, "etl", server.Server.ApiTokens.Create("etl", Api.Auth.ApiScope.Write).Token, version);
        Assert.True((await PublishAsync(writer, "devices/d1/telemetry", """{"temp": 2}""")).IsSuccess);
        Assert.Equal([2.0], (await server.RowsAsync("SELECT temp FROM telemetry")).Select(r => r[0].GetDouble()));
        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("application dashboard (scope read)", StringComparison.Ordinal) && m.Contains("may not publish", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Application_limited_to_other_namespaces_may_not_publish_or_subscribe_to_device_topics(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string partner = server.Server.ApiTokens.Create("partner", Api.Auth.ApiScope.Write, ["partner_a"]).Token;
        using var app = await ConnectAsync(server, "partner", partner, version);
        using var watcher = await ConnectAsync(server, "admin", PlexusTestServer.AdminToken, version);
        var seen = new List<string>();
        watcher.ApplicationMessageReceivedAsync += e =>
        {
            lock (seen)
            {
                seen.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        await watcher.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce).Build());

        var subscribed = await app.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter("devices/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("+/d1/telemetry", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("$share/g/devices/+/telemetry", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("partner/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        var refused = await PublishAsync(app, "devices/d1/telemetry", """{"temp": 1}""");
        var allowed = await PublishAsync(app, "partner/status", "up");

        var codes = subscribed.Items.Select(i => i.ResultCode).ToList();
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, codes[4]);
        Assert.All(codes.Take(4), code => Assert.Equal(version == MqttProtocolVersion.V500 ? MqttClientSubscribeResultCode.NotAuthorized : MqttClientSubscribeResultCode.UnspecifiedError, code));
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        }

        Assert.True(allowed.IsSuccess);
        await Eventually.TrueAsync(() =>
        {
            lock (seen)
            {
                return seen.Contains("partner/status");
            }
        });
        lock (seen)
        {
            Assert.DoesNotContain("devices/d1/telemetry", seen);
        }

        Assert.Empty(await server.RowsAsync("SELECT table_name FROM information_schema.tables WHERE table_name = 'telemetry'"));
        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("application partner (scope write, namespaces partner_a)", StringComparison.Ordinal));

        // A token whose namespaces include main publishes device data as any writer does.
        using var mainWriter = await ConnectAsync(server, "etl", server.Server.ApiTokens.Create("etl", Api.Auth.ApiScope.Write, ["main", "partner_a"]).Token, version);
        Assert.True((await PublishAsync(mainWriter, "devices/d1/telemetry", """{"temp": 2}""")).IsSuccess);
        Assert.Equal([2.0], (await server.RowsAsync("SELECT temp FROM telemetry")).Select(r => r[0].GetDouble()));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Unknown_or_revoked_api_token_is_refused_at_connect(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.ApiTokens.Create("old", Api.Auth.ApiScope.Admin).Token;
        server.Server.ApiTokens.Revoke("old");

        foreach (string password in new[] { token, "plxa_not-a-token" })
        {
            var (client, result) = await TryConnectAsync(server, "app", password, version);
            using (client)
            {
                Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
            }
        }
    }

    [Fact]
    public async Task Revoking_a_token_disconnects_its_open_connections_only()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string doomed = server.Server.ApiTokens.Create("doomed", Api.Auth.ApiScope.Write).Token;
        string kept = server.Server.ApiTokens.Create("kept", Api.Auth.ApiScope.Write).Token;
        using var first = await ConnectAsync(server, "a", doomed);
        using var other = await ConnectAsync(server, "b", kept);
        var reason = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        first.DisconnectedAsync += e =>
        {
            reason.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };

        using var response = await server.Client.DeleteAsync("/api/v1/tokens/doomed");
        Assert.True(response.IsSuccessStatusCode);

        Assert.Equal(MqttClientDisconnectReason.NotAuthorized, await reason.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(other.IsConnected);
        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("application doomed disconnected", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mosquitto_clients_with_scoped_tokens_publish_and_subscribe_as_their_scope_allows()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string read = server.Server.ApiTokens.Create("viewer", Api.Auth.ApiScope.Read).Token;
        string write = server.Server.ApiTokens.Create("feeder", Api.Auth.ApiScope.Write).Token;
        string port = server.MqttEndpoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var refused = MqttTestClients.StartMosquitto("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-u", "viewer", "-P", read, "-V", "mqttv311", "-q", "1", "-t", "devices/m1/telemetry", "-m", """{"v": 1}"""]);
        await refused.WaitForExitAsync();
        using var subscriber = MqttTestClients.StartMosquitto("mosquitto_sub", ["-h", "127.0.0.1", "-p", port, "-u", "viewer", "-P", read, "-t", "devices/+/telemetry", "-C", "1", "-W", "30"]);
        await Eventually.TrueAsync(async () =>
        {
            using var publisher = MqttTestClients.StartMosquitto("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-u", "feeder", "-P", write, "-q", "1", "-t", "devices/m1/telemetry", "-m", """{"v": 2}"""]);
            await publisher.WaitForExitAsync();
            Assert.True(publisher.ExitCode == 0, $"mosquitto_pub exited with {publisher.ExitCode}: {await publisher.StandardError.ReadToEndAsync()}");
            return subscriber.HasExited;
        }, TimeSpan.FromSeconds(30), "the read-scope mosquitto_sub received a message");

        Assert.Equal("{\"v\": 2}", (await subscriber.StandardOutput.ReadToEndAsync()).Trim());
        Assert.All(await server.RowsAsync("SELECT v FROM telemetry"), row => Assert.Equal(2, row[0].GetDouble()));
        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("application viewer (scope read)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Unknown_device_with_the_provisioning_key_is_registered_and_reconnects_with_it(MqttProtocolVersion version)
    {
        await using var server = await StartProvisioningAsync();

        using (var device = await ConnectAsync(server, "sensor-42", ProvisioningKey, version))
        {
            Assert.True((await PublishAsync(device, "devices/sensor-42/telemetry", """{"temp": 20}""")).IsSuccess);
            var refused = await PublishAsync(device, "devices/other/telemetry", """{"temp": 1}""");
            if (version == MqttProtocolVersion.V500)
            {
                Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
            }
        }

        var registered = server.Server.Devices.Get("sensor-42");
        Assert.NotNull(registered);
        Assert.Equal("auto", registered.Tags["provisioned"]);
        using var again = await ConnectAsync(server, "sensor-42", ProvisioningKey, version);
        Assert.Equal(["sensor-42"], (await server.RowsAsync("SELECT device FROM telemetry")).Select(r => r[0].GetString()));
        Assert.Equal(1, server.Server.Devices.Count);
        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("MQTT device sensor-42 auto-provisioned", StringComparison.Ordinal));

        // Its derived token is its own over HTTP too, where the key alone names no device.
        string derived = DeviceProvisioning.DeviceToken(ProvisioningKey, "sensor-42");
        using var http = new HttpClient { BaseAddress = server.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", derived);
        using var written = await http.PostAsync("/api/v2/write", new StringContent("env temp=1 1"));
        Assert.Equal(System.Net.HttpStatusCode.NoContent, written.StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", ProvisioningKey);
        using var keyOnly = await http.PostAsync("/api/v2/write", new StringContent("env temp=1 1"));
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, keyOnly.StatusCode);
    }

    [Fact]
    public async Task Provisioning_key_cannot_take_over_a_known_device_nor_register_an_invalid_id()
    {
        await using var server = await StartProvisioningAsync();
        server.Server.Devices.Add(new NewDevice("truck-7"));
        using (var provisioned = await ConnectAsync(server, "rotated-1", ProvisioningKey))
        {
            await provisioned.DisconnectAsync();
        }

        server.Server.Devices.RotateToken("rotated-1");

        foreach (string user in new[] { "truck-7", "rotated-1", "bad/id", "" })
        {
            var (client, result) = await TryConnectAsync(server, user, ProvisioningKey);
            using (client)
            {
                Assert.True(MqttClientConnectResultCode.BadUserNameOrPassword == result.ResultCode, $"{user}: {result.ResultCode}");
            }
        }

        Assert.Equal(2, server.Server.Devices.Count);
        var messages = server.Logs.Entries.Select(e => e.Message).ToList();
        Assert.Contains(messages, m => m.Contains("\"truck-7\"", StringComparison.Ordinal) && m.Contains("does not take over a known device", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("\"bad/id\"", StringComparison.Ordinal) && m.Contains("invalid device id", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_provisioning_key_unknown_devices_are_refused()
    {
        await using var server = await PlexusTestServer.StartAsync();

        var (client, result) = await TryConnectAsync(server, "sensor-1", ProvisioningKey);
        using (client)
        {
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        }

        Assert.Equal(0, server.Server.Devices.Count);
    }

    [Fact]
    public async Task Mosquitto_pub_provisions_a_device_on_first_connect()
    {
        await using var server = await StartProvisioningAsync();
        string port = server.MqttEndpoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);

        using var publisher = MqttTestClients.StartMosquitto("mosquitto_pub", ["-h", "127.0.0.1", "-p", port, "-u", "boiler-3", "-P", ProvisioningKey, "-q", "1", "-t", "devices/boiler-3/telemetry", "-m", """{"pressure": 1.5}"""]);
        await publisher.WaitForExitAsync();

        Assert.True(publisher.ExitCode == 0, await publisher.StandardError.ReadToEndAsync());
        Assert.Equal("auto", server.Server.Devices.Get("boiler-3")!.Tags["provisioned"]);
        var row = Assert.Single(await server.RowsAsync("SELECT device, pressure FROM telemetry"));
        Assert.Equal(("boiler-3", 1.5), (row[0].GetString(), row[1].GetDouble()));
    }

    private static Task<PlexusTestServer> StartProvisioningAsync() =>
        PlexusTestServer.StartAsync(configure: o => o with { ProvisioningKey = ProvisioningKey });
}
