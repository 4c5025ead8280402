using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Broker.Tests.Auth;

/// <summary>Topic filters on API tokens (allow and deny, publish and subscribe), over real clients on every transport.</summary>
public sealed class TokenTopicAclTests
{
    public enum Transport
    {
        Tcp,
        Tls,
        WebSocket,
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, Transport.Tcp)]
    [InlineData(MqttProtocolVersion.V500, Transport.Tcp)]
    [InlineData(MqttProtocolVersion.V500, Transport.Tls)]
    [InlineData(MqttProtocolVersion.V311, Transport.WebSocket)]
    [InlineData(MqttProtocolVersion.V500, Transport.WebSocket)]
    public async Task A_token_subscribes_only_within_its_filters_and_never_receives_denied_topics(MqttProtocolVersion version, Transport transport)
    {
        using var folder = new TempDirectory();
        var (certificate, key, thumbprint) = TestCertificates.WriteSelfSignedPem(folder.Path);
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificate, MqttTlsKey = key });
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new
        {
            name = "dashboard",
            scope = "read",
            mqtt = new { subscribe = new[] { "devices/+/telemetry" }, deny_subscribe = new[] { "devices/secret/#" } },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        string token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var app = await MqttTestClients.ConnectAsync(server, version, password: token, configure: b => Use(b, server, transport, thumbprint));
        using var admin = await MqttTestClients.ConnectAsync(server, version);

        var granted = await app.SubscribeResultAsync("devices/+/telemetry");
        var everything = await app.SubscribeResultAsync("#");
        var denied = await app.SubscribeResultAsync("devices/secret/telemetry");
        var received = new List<string>();
        app.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        await admin.PublishAsync("devices/secret/telemetry", """{"v": 1}""");
        await admin.PublishAsync("devices/d1/status", "up");
        await admin.PublishAsync("devices/d1/telemetry", """{"v": 2}""");

        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, granted);
        var refused = version == MqttProtocolVersion.V500 ? MqttClientSubscribeResultCode.NotAuthorized : MqttClientSubscribeResultCode.UnspecifiedError;
        Assert.Equal(refused, everything);
        Assert.Equal(refused, denied);
        await Eventually.TrueAsync(() => { lock (received) { return received.Contains("devices/d1/telemetry"); } }, because: "the allowed topic is delivered");
        lock (received)
        {
            Assert.Equal(["devices/d1/telemetry"], received);
        }

        Assert.Single(server.Logs.Entries, e => e.Message.Contains("application dashboard (scope read)", StringComparison.Ordinal) && e.Message.Contains("may not subscribe", StringComparison.Ordinal));
        string metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains("plexus_mqtt_acl_refusals_total{action=\"subscribe\"} 2\n", metrics, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_token_publishes_only_within_its_filters_and_a_deny_filter_wins(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        var rules = MqttTopicRules.Create(null, ["apps/dash/#"], null, ["apps/dash/admin"]);
        string token = server.Server.ApiTokens.Create("dash", Api.Auth.ApiScope.Write, mqtt: rules).Token;
        using var app = await MqttTestClients.ConnectAsync(server, version, password: token);
        using var watcher = await MqttTestClients.ConnectAsync(server, version);
        var seen = await watcher.SubscribeCollectingAsync("#");

        var allowed = await app.PublishAsync("apps/dash/state", "ok");
        var outside = await app.PublishAsync("apps/other/state", "no");
        var denied = await app.PublishAsync("apps/dash/admin", "no");
        await app.PublishAsync("apps/other/qos0", "no", MqttQualityOfServiceLevel.AtMostOnce);
        await app.PublishAsync("apps/dash/last", "ok");

        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttClientPublishReasonCode.Success, allowed.ReasonCode);
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, outside.ReasonCode);
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, denied.ReasonCode);
        }

        await Eventually.TrueAsync(() => MqttTestClients.Count(seen) == 2, because: "the two allowed messages arrive");
        lock (seen)
        {
            Assert.Equal(["apps/dash/state", "apps/dash/last"], seen.Select(m => m.Topic));
        }

        Assert.True(app.IsConnected);
        Assert.Single(server.Logs.Entries, e => e.Message.Contains("application dash (scope write)", StringComparison.Ordinal) && e.Message.Contains("may not publish", StringComparison.Ordinal));
        string metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains("plexus_mqtt_acl_refusals_total{action=\"publish\"} 3\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retained_messages_and_wills_on_denied_topics_are_held_back_at_delivery()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var admin = await MqttTestClients.ConnectAsync(server);
        await admin.PublishAsync("plant/secret/key", "hidden", retain: true);
        await admin.PublishAsync("plant/open/state", "shown", retain: true);
        string token = server.Server.ApiTokens.Create("viewer", Api.Auth.ApiScope.Read, mqtt: MqttTopicRules.Create(null, null, ["plant/secret/#"], null)).Token;
        using var app = await MqttTestClients.ConnectAsync(server, password: token);

        var seen = await app.SubscribeCollectingAsync("plant/#");
        var dying = await MqttTestClients.ConnectAsync(server, configure: b => b.WithWillTopic("plant/secret/will").WithWillPayload("gone").WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
        dying.Dispose(); // drops the connection without DISCONNECT: the will is published
        await admin.PublishAsync("plant/open/marker", "last");

        await Eventually.TrueAsync(() => { lock (seen) { return seen.Any(m => m.Topic == "plant/open/marker"); } }, because: "the marker after the will arrives");
        lock (seen)
        {
            Assert.Equal(["plant/open/state", "plant/open/marker"], seen.Select(m => m.Topic));
        }
    }

    [Theory]
    [InlineData("""{"name": "a", "scope": "read", "mqtt": {"subscribe": ["a/#/b"]}}""", "'#'")]
    [InlineData("""{"name": "a", "scope": "read", "mqtt": {"subscribe": ["a+/b"]}}""", "'+'")]
    [InlineData("""{"name": "a", "scope": "read", "mqtt": {"publish": ["a/b"]}}""", "scope read may not publish")]
    [InlineData("""{"name": "a", "scope": "admin", "mqtt": {"subscribe": ["a/b"]}}""", "scope admin cannot be limited")]
    [InlineData("""{"name": "a", "scope": "read", "mqtt": {"allow": ["a/b"]}}""", "mqtt.allow")]
    [InlineData("""{"name": "a", "scope": "read", "mqtt": {"subscribe": [""]}}""", "empty topic filter")]
    public async Task Invalid_topic_filters_are_refused_with_the_field_named(string body, string expected)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var response = await server.Client.PostAsync("/api/v1/tokens", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("mqtt", error.GetProperty("field").GetString());
        Assert.Contains(expected, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Topic_filters_survive_a_restart_and_are_listed()
    {
        using var data = new TempDirectory();
        await using (var first = await PlexusTestServer.StartAsync(data.Path))
        {
            first.Server.ApiTokens.Create("dashboard", Api.Auth.ApiScope.Read, mqtt: MqttTopicRules.Create(["devices/+/telemetry"], null, ["devices/secret/#"], null));
        }

        await using var second = await PlexusTestServer.StartAsync(data.Path);
        var list = await second.Client.GetFromJsonAsync<JsonElement>("/api/v1/tokens");
        var mqtt = Assert.Single(list.GetProperty("tokens").EnumerateArray()).GetProperty("mqtt");
        Assert.Equal("devices/+/telemetry", Assert.Single(mqtt.GetProperty("subscribe").EnumerateArray()).GetString());
        Assert.Equal("devices/secret/#", Assert.Single(mqtt.GetProperty("deny_subscribe").EnumerateArray()).GetString());
        Assert.Empty(mqtt.GetProperty("publish").EnumerateArray());
    }

    private static void Use(MqttClientOptionsBuilder builder, PlexusTestServer server, Transport transport, string thumbprint)
    {
        switch (transport)
        {
            case Transport.Tls:
                builder.WithTcpServer("127.0.0.1", server.Server.MqttTlsEndpoint!.Port)
                    .WithTlsOptions(o => o.UseTls().WithCertificateValidationHandler(args => string.Equals(args.Certificate.GetCertHashString(), thumbprint, StringComparison.OrdinalIgnoreCase)));
                break;
            case Transport.WebSocket:
                builder.WithWebSocketServer(o => o.WithUri($"ws://127.0.0.1:{server.Address.Port}/mqtt"));
                break;
        }
    }
}
