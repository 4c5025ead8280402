using System.Net;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;
using static Plexus.Devices.Tests.Twin.TwinTestSupport;

namespace Plexus.Devices.Tests.Twin;

/// <summary>
/// Desired properties (docs/devices.md#desired-properties-and-commands) end to end: PATCH over HTTP, the retained
/// message a real MQTT client receives, the delta beside the reported state in GET and SQL, the ACL, the limits.
/// </summary>
public sealed class DesiredPropertiesTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_subscribed_device_receives_each_change_with_an_increasing_version(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token, version);
        var received = await device.SubscribeCollectingAsync("devices/d1/desired");

        await DesireAsync(server, "d1", """{"interval": 30}""");
        await DesireAsync(server, "d1", """{"mode": "eco"}""");

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 2, because: "one message per change");
        var messages = Messages(received);
        Assert.Equal(1, messages[0].GetProperty("version").GetInt64());
        Assert.Equal(30, messages[0].GetProperty("properties").GetProperty("interval").GetInt32());
        Assert.Equal(2, messages[1].GetProperty("version").GetInt64());
        Assert.Equal("""{"interval":30,"mode":"eco"}""", messages[1].GetProperty("properties").GetRawText());
        Assert.True(messages[1].TryGetProperty("updated_at", out _));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_device_that_connects_later_gets_the_latest_desired_state_retained(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        await DesireAsync(server, "d1", """{"interval": 30}""");
        await DesireAsync(server, "d1", """{"interval": 60}""");

        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token, version);
        var received = await device.SubscribeCollectingAsync("devices/d1/desired");

        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1, because: "the retained desired message on subscribe");
        Assert.True(received[0].Retain);
        var message = Messages(received)[0];
        Assert.Equal(2, message.GetProperty("version").GetInt64());
        Assert.Equal(60, message.GetProperty("properties").GetProperty("interval").GetInt32());
    }

    [Fact]
    public async Task Mosquitto_sub_as_the_device_reads_its_retained_desired_state()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        await DesireAsync(server, "d1", """{"firmware": "2.1.0"}""");

        using var process = MqttTestClients.StartMosquitto("mosquitto_sub", ["-h", "127.0.0.1", "-p", server.MqttEndpoint!.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-u", "d1", "-P", token, "-i", "d1-sub", "-t", "devices/d1/desired", "-C", "1", "-W", "20"]);
        string output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, await process.StandardError.ReadToEndAsync());
        var message = JsonDocument.Parse(output).RootElement;
        Assert.Equal(1, message.GetProperty("version").GetInt64());
        Assert.Equal("2.1.0", message.GetProperty("properties").GetProperty("firmware").GetString());
    }

    [Fact]
    public async Task A_merge_patch_removes_keys_set_to_null_merges_objects_and_a_patch_that_changes_nothing_keeps_the_version()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await RegisterAsync(server, "d1");
        await DesireAsync(server, "d1", """{"a": 1, "cfg": {"x": 1, "y": 2}}""");

        var second = await DesireAsync(server, "d1", """{"a": null, "cfg": {"y": 3}, "tags": ["red", "blue"]}""");
        var same = await DesireAsync(server, "d1", """{"cfg": {"y": 3}}""");

        Assert.Equal("""{"cfg":{"x":1,"y":3},"tags":["red","blue"]}""", second.GetProperty("desired").GetProperty("properties").GetRawText());
        Assert.Equal(2, second.GetProperty("desired").GetProperty("version").GetInt64());
        Assert.Equal(2, same.GetProperty("desired").GetProperty("version").GetInt64());
    }

    [Theory]
    [InlineData("""[1, 2]""", null, "expected a JSON object")]
    [InlineData("""{"online": true}""", "online", "set by the broker")]
    [InlineData("""{"cfg": {"": 1}}""", "cfg.", "1–128 characters")]
    [InlineData("""{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}""", "a.b.c.d.e.f.g.h", "levels deep")]
    [InlineData("""{"big": "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"}""", null, "--max-desired-bytes")]
    public async Task A_refused_patch_is_a_400_naming_the_field_and_changes_nothing(string patch, string? field, string message)
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { MaxDesiredBytes = 100 });
        await RegisterAsync(server, "d1");
        await DesireAsync(server, "d1", """{"kept": 1}""");

        var (status, body) = await PatchDesiredAsync(server, "d1", patch);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid", body.GetProperty("code").GetString());
        Assert.Contains(message, body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(field, body.TryGetProperty("field", out var named) ? named.GetString() : null);
        var device = await DeviceTestClients.GetDeviceAsync(server, "d1");
        Assert.Equal(1, device.GetProperty("desired").GetProperty("version").GetInt64());
    }

    [Fact]
    public async Task Desired_properties_of_an_unknown_device_are_404_and_need_scope_admin()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await RegisterAsync(server, "d1");
        var (status, _) = await PatchDesiredAsync(server, "nobody", """{"a": 1}""");
        Assert.Equal(HttpStatusCode.NotFound, status);

        using var create = await server.Client.PostAsync("/api/v1/tokens", new StringContent("""{"name": "ingest", "scope": "write"}""", System.Text.Encoding.UTF8, "application/json"));
        string writeToken = JsonDocument.Parse(await create.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var writer = server.ClientWithToken(writeToken);
        using var request = new HttpRequestMessage(HttpMethod.Patch, "/api/v1/devices/d1/desired") { Content = new StringContent("""{"a": 1}""", System.Text.Encoding.UTF8, "application/json") };
        using var refused = await writer.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Fact]
    public async Task Only_plexus_publishes_a_devices_desired_state_and_only_the_device_itself_may_subscribe_to_it()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token1 = await RegisterAsync(server, "d1");
        string token2 = await RegisterAsync(server, "d2");
        await DesireAsync(server, "d1", """{"interval": 30}""");

        using var other = await DeviceTestClients.ConnectAsync(server, "d2", token2);
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await other.SubscribeResultAsync("devices/d1/desired"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await other.SubscribeResultAsync("devices/+/desired"));

        // Neither the device itself nor an application (admin token) may overwrite the retained desired state.
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token1);
        var own = await device.PublishAsync("devices/d1/desired", """{"version": 99, "properties": {}}""", retain: true);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, own.ReasonCode);
        using var application = await MqttTestClients.ConnectAsync(server);
        var forged = await application.PublishAsync("devices/d1/desired", """{"version": 99, "properties": {}}""", retain: true);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);

        var received = await device.SubscribeCollectingAsync("devices/d1/desired");
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
        Assert.Equal(1, Messages(received)[0].GetProperty("version").GetInt64());

        // An application may read it.
        var watched = await application.SubscribeCollectingAsync("devices/+/desired");
        await Eventually.TrueAsync(() => MqttTestClients.Count(watched) == 1);
    }

    [Fact]
    public async Task The_delta_shows_desired_keys_whose_reported_value_differs_in_the_device_and_in_sql()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await RegisterAsync(server, "d1");
        await DesireAsync(server, "d1", """{"interval": 30, "mode": "eco", "cfg": {"level": 2}}""");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token);
        await DeviceTestClients.PublishAsync(device, "devices/d1/state", """{"interval": 30.0, "mode": "normal"}""");

        var shown = await DeviceTestClients.GetDeviceAsync(server, "d1");
        Assert.Equal("""{"cfg_level":"2","mode":"eco"}""", shown.GetProperty("delta").GetRawText());
        Assert.Equal(1, shown.GetProperty("desired").GetProperty("version").GetInt64());

        await Eventually.TrueAsync(async () =>
        {
            var rows = await server.RowsAsync("SELECT key, desired, reported, in_sync FROM device_desired WHERE device = 'd1' ORDER BY key");
            return string.Join(" | ", rows.Select(r => string.Join(",", r.Select(v => v.ToString())))) == "cfg_level,2,,False | interval,30,30.0,True | mode,eco,normal,False";
        }, because: "the live state reaches SQL within its flush interval");

        // Joinable with the registry and the live state.
        var joined = await server.RowsAsync("SELECT count(*) FROM device_desired dd JOIN devices d ON d.id = dd.device JOIN device_state s USING (device) WHERE NOT dd.in_sync");
        Assert.Equal(2, joined[0][0].GetInt64());
    }

    [Fact]
    public async Task The_twin_views_are_reserved_measurement_names()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var desired = await server.WriteAsync("device_desired value=1");
        using var commands = await server.WriteAsync("device_commands value=1");
        Assert.Equal(HttpStatusCode.BadRequest, desired.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, commands.StatusCode);
    }

    [Fact]
    public async Task A_restart_keeps_the_desired_state_and_delivers_it_retained_again()
    {
        using var data = new TempDirectory("plexus-desired");
        string token;
        await using (var first = await PlexusTestServer.StartAsync(data.Path))
        {
            token = await RegisterAsync(first, "d1");
            await DesireAsync(first, "d1", """{"interval": 30}""");
            await DesireAsync(first, "d1", """{"mode": "eco"}""");
        }

        await using var second = await PlexusTestServer.StartAsync(data.Path);
        using var device = await DeviceTestClients.ConnectAsync(second, "d1", token);
        var received = await device.SubscribeCollectingAsync("devices/d1/desired");
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
        Assert.Equal(2, Messages(received)[0].GetProperty("version").GetInt64());

        var next = await DesireAsync(second, "d1", """{"mode": null}""");
        Assert.Equal(3, next.GetProperty("desired").GetProperty("version").GetInt64());
        Assert.Equal("""{"interval":30}""", next.GetProperty("desired").GetProperty("properties").GetRawText());
    }

    [Fact]
    public async Task Removing_a_device_forgets_its_desired_state()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await RegisterAsync(server, "d1");
        await DesireAsync(server, "d1", """{"interval": 30}""");
        using (var removed = await server.Client.DeleteAsync("/api/v1/devices/d1"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        await RegisterAsync(server, "d1");
        await Eventually.TrueAsync(async () => (await DeviceTestClients.GetDeviceAsync(server, "d1")).GetProperty("desired").ValueKind == JsonValueKind.Null);
    }

    private static List<JsonElement> Messages(List<MqttApplicationMessage> received)
    {
        lock (received)
        {
            return [.. received.Select(m => JsonDocument.Parse(MqttTestClients.Text(m)).RootElement.Clone())];
        }
    }
}
