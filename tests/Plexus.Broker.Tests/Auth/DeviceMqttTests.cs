using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Devices;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Broker.Tests.Auth;

/// <summary>Device identity and the topic ACL with real MQTT clients against a real server.</summary>
public sealed class DeviceMqttTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Registered_device_connects_with_its_token_and_its_telemetry_is_stored(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("truck-7")).Token;
        using var device = await ConnectAsync(server, "truck-7", token, version);

        var result = await PublishAsync(device, "devices/truck-7/telemetry", """{"temp": 21.5, "ts": 1700000000000}""");

        Assert.True(result.IsSuccess, $"publish result {result.ReasonCode}");
        var row = Assert.Single(await server.RowsAsync("SELECT device, temp FROM telemetry"));
        Assert.Equal("truck-7", row[0].GetString());
        Assert.Equal(21.5, row[1].GetDouble());
    }

    [Fact]
    public async Task Device_publishing_to_another_devices_topic_is_refused_with_not_authorized_and_nothing_is_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken);
        var seen = await SubscribeAsync(app, "devices/#");
        using var device = await ConnectAsync(server, "d1", token);

        var refused = await PublishAsync(device, "devices/d2/telemetry", """{"temp": 1}""");
        var outside = await PublishAsync(device, "elsewhere/topic", "x");
        var own = await PublishAsync(device, "devices/d1/telemetry", """{"temp": 2}""");

        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, outside.ReasonCode);
        Assert.True(own.IsSuccess);
        Assert.True(device.IsConnected);
        Assert.Equal(["d1"], (await server.RowsAsync("SELECT device FROM telemetry")).Select(r => r[0].GetString()));

        // Refused messages are not forwarded either: the subscriber sees only d1's own message.
        await Eventually.TrueAsync(() => Count(seen) == 1);
        lock (seen)
        {
            Assert.Equal("devices/d1/telemetry", seen[0].Topic);
        }

        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("device d1", StringComparison.Ordinal) && m.Contains("devices/d2/telemetry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mqtt311_device_publishing_to_another_devices_topic_is_dropped()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token, MqttProtocolVersion.V311);

        await PublishAsync(device, "devices/d2/telemetry", """{"temp": 1}""");
        await PublishAsync(device, "devices/d1/telemetry", """{"temp": 2}""");

        // QoS 1 acks come in order: the second one means the first was handled (and dropped).
        Assert.Equal(["d1"], (await server.RowsAsync("SELECT device FROM telemetry")).Select(r => r[0].GetString()));
        Assert.True(device.IsConnected);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500, (int)MqttClientSubscribeResultCode.NotAuthorized)]
    [InlineData(MqttProtocolVersion.V311, (int)MqttClientSubscribeResultCode.UnspecifiedError)]
    public async Task Device_subscribing_to_all_devices_is_refused(MqttProtocolVersion version, int expected)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token, version);

        var options = new MqttClientFactory().CreateSubscribeOptionsBuilder()
            .WithTopicFilter("devices/+/telemetry", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("devices/d1/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        var result = await device.SubscribeAsync(options);

        Assert.Equal(expected, (int)result.Items.ElementAt(0).ResultCode);
        Assert.Equal(expected, (int)result.Items.ElementAt(1).ResultCode);
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, result.Items.ElementAt(2).ResultCode);
        Assert.Contains(server.Logs.Entries.Select(e => e.Message), m => m.Contains("device d1", StringComparison.Ordinal) && m.Contains("devices/+/telemetry", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Application_with_the_admin_token_subscribes_to_every_devices_telemetry()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var tokens = new[] { "d1", "d2" }.ToDictionary(id => id, id => server.Server.Devices.Add(new NewDevice(id)).Token);
        using var app = await ConnectAsync(server, "any-user-name", PlexusTestServer.AdminToken);
        var seen = await SubscribeAsync(app, "devices/+/telemetry");

        foreach (var (id, token) in tokens)
        {
            using var device = await ConnectAsync(server, id, token);
            Assert.True((await PublishAsync(device, $"devices/{id}/telemetry", """{"v": 1}""")).IsSuccess);
        }

        await Eventually.TrueAsync(() => Count(seen) == 2);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Rotated_out_or_wrong_device_token_is_refused_at_connect(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string old = server.Server.Devices.Add(new NewDevice("d1")).Token;
        string fresh = server.Server.Devices.RotateToken("d1");
        string other = server.Server.Devices.Add(new NewDevice("d2")).Token;

        foreach (var (user, password) in new[] { ("d1", old), ("d1", other), ("ghost", old) })
        {
            var (client, result) = await TryConnectAsync(server, user, password, version);
            using (client)
            {
                Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
                Assert.False(client.IsConnected);
            }
        }

        using var device = await ConnectAsync(server, "d1", fresh, version);
        Assert.True(device.IsConnected);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Connected_device_is_disconnected_when_its_token_is_rotated_or_it_is_removed(bool remove)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var other = await ConnectAsync(server, "d2", server.Server.Devices.Add(new NewDevice("d2")).Token);
        using var device = await ConnectAsync(server, "d1", token);
        var reason = new TaskCompletionSource<MqttClientDisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        device.DisconnectedAsync += e =>
        {
            reason.TrySetResult(e.Reason);
            return Task.CompletedTask;
        };

        using var response = remove
            ? await server.Client.DeleteAsync("/api/v1/devices/d1")
            : await server.Client.PostAsync("/api/v1/devices/d1/rotate-token", null);
        Assert.True(response.IsSuccessStatusCode);

        Assert.Equal(MqttClientDisconnectReason.NotAuthorized, await reason.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(other.IsConnected);
        var (again, result) = await TryConnectAsync(server, "d1", token);
        using (again)
        {
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
        }
    }

    [Fact]
    public async Task Device_reusing_an_applications_persistent_client_id_is_refused()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using (var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken, MqttProtocolVersion.V311, clientId: "shared", cleanSession: false))
        {
            await app.DisconnectAsync();
        }

        // The application's session (and what it subscribed to) stays the application's (docs/mqtt.md, identity).
        var (device, result) = await TryConnectAsync(server, "d1", token, MqttProtocolVersion.V500, clientId: "shared", cleanSession: false);
        device.Dispose();

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, result.ResultCode);
    }

    private static async Task<List<MqttApplicationMessage>> SubscribeAsync(IMqttClient client, string filter)
    {
        var received = new List<MqttApplicationMessage>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage);
            }

            return Task.CompletedTask;
        };
        var result = await client.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, Assert.Single(result.Items).ResultCode);
        return received;
    }

    private static int Count(List<MqttApplicationMessage> received)
    {
        lock (received)
        {
            return received.Count;
        }
    }
}
