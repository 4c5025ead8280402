using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Api.Auth;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>
/// A client id belongs to the principal whose session it is: another principal can neither resume that session (and
/// read what it subscribed to) nor kick its client off; a revoked principal receives nothing more.
/// </summary>
public sealed class SessionOwnershipTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_device_reusing_a_dashboards_client_id_is_refused_and_the_dashboard_keeps_its_session(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string readToken = server.Server.ApiTokens.Create("dashboard", ApiScope.Read).Token;
        string d1 = server.Server.Devices.Add(new NewDevice("d1")).Token;
        string d2 = server.Server.Devices.Add(new NewDevice("d2")).Token;
        const string ClientId = "dash";
        void AsDashboard(MqttClientOptionsBuilder b) => b.WithCredentials("dashboard", readToken);

        var (dashboard, seen, _) = await PersistentSessionTests.ConnectPersistentAsync(server, version, ClientId, 300, AsDashboard);
        await dashboard.SubscribeAsync("devices/#", MqttQualityOfServiceLevel.AtLeastOnce);
        using var sensor = await MqttTestClients.ConnectAsync(server, version, "d2-client", d2, b => b.WithCredentials("d2", d2));

        // The owner online: the device is refused and does not kick it off.
        var refused = await ConnectAsDeviceAsync(server, version, ClientId, "d1", d1);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, refused);
        await sensor.PublishAsync("devices/d2/telemetry", """{"t": 1}""");
        await Eventually.TrueAsync(() => MqttTestClients.Count(seen) == 1, because: "the dashboard is still connected and subscribed");
        Assert.True(dashboard.IsConnected);

        // The owner away: its persistent session is still its own. (Published once the broker has seen the
        // disconnect: before, the message would go to the closing connection rather than into the session's queue.)
        await dashboard.DisconnectAsync();
        dashboard.Dispose();
        await Eventually.TrueAsync(async () => !await server.Server.Broker!.IsConnectedAsync(ClientId), because: "the broker has seen the dashboard leave");
        await sensor.PublishAsync("devices/d2/telemetry", """{"t": 2}""");
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectAsDeviceAsync(server, version, ClientId, "d1", d1));
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("client id dash belongs to the session of application dashboard", StringComparison.Ordinal));

        // The owner resumes it, with what was queued while it was away.
        var (back, received, connack) = await PersistentSessionTests.ConnectPersistentAsync(server, version, ClientId, 300, AsDashboard);
        using (back)
        {
            Assert.True(connack.IsSessionPresent);
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);
            Assert.Equal("""{"t": 2}""", MqttTestClients.Text(received[0]));
        }
    }

    [Fact]
    public async Task A_refused_mqtt311_takeover_gets_return_code_5_on_the_wire()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string d1 = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var owner = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311, "owned-id");

        var (socket, returnCode) = await MqttTestClients.RawConnect311Async(server, "owned-id", d1, userName: "d1", cleanSession: false);
        using (socket)
        {
            Assert.Equal(5, returnCode);
        }

        Assert.True(owner.IsConnected);
        await owner.PublishAsync("still/here", "yes");
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task The_same_principal_takes_over_its_own_client_id(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string d1 = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var first = await MqttTestClients.ConnectAsync(server, version, "d1-main", d1, b => b.WithCredentials("d1", d1));
        MqttClientDisconnectedEventArgs? dropped = null;
        first.DisconnectedAsync += e =>
        {
            dropped = e;
            return Task.CompletedTask;
        };

        using var second = await MqttTestClients.ConnectAsync(server, version, "d1-main", d1, b => b.WithCredentials("d1", d1));

        Assert.True(second.IsConnected);
        await Eventually.TrueAsync(() => dropped is not null, because: "the older connection of the same device is taken over");
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, dropped!.Reason);
        }
    }

    [Fact]
    public async Task A_rotated_device_token_receives_nothing_queued_after_the_rotation_even_into_its_persistent_session()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string oldToken = server.Server.Devices.Add(new NewDevice("d3")).Token;
        var (device, _, _) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, "d3-session", 300, b => b.WithCredentials("d3", oldToken));
        await device.SubscribeAsync("devices/d3/cmd/#", MqttQualityOfServiceLevel.AtLeastOnce);
        await device.DisconnectAsync();
        device.Dispose();
        using var console = await MqttTestClients.ConnectAsync(server);

        string newToken = server.Server.Devices.RotateToken("d3");
        await console.PublishAsync("devices/d3/cmd/for-the-old-token", "x");

        var (back, received, connack) = await PersistentSessionTests.ConnectPersistentAsync(server, MqttProtocolVersion.V500, "d3-session", 300, b => b.WithCredentials("d3", newToken));
        using (back)
        {
            Assert.True(connack.IsSessionPresent);
            await console.PublishAsync("devices/d3/cmd/for-the-new-token", "y");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) >= 1);
            lock (received)
            {
                Assert.Equal(["devices/d3/cmd/for-the-new-token"], received.Select(m => m.Topic));
            }
        }
    }

    [Fact]
    public async Task A_revoked_api_token_stops_receiving_at_once()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.ApiTokens.Create("watcher", ApiScope.Read).Token;
        using var watcher = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V500, "watcher-1", token, b => b.WithCredentials("watcher", token));
        var received = await watcher.SubscribeCollectingAsync("alerts/#");
        using var publisher = await MqttTestClients.ConnectAsync(server);
        await publisher.PublishAsync("alerts/before", "1");
        await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1);

        Assert.True(server.Server.ApiTokens.Revoke("watcher"));
        await publisher.PublishAsync("alerts/after", "2");

        await Eventually.TrueAsync(() => !watcher.IsConnected, because: "the revoked application is disconnected");
        lock (received)
        {
            Assert.Equal(["alerts/before"], received.Select(m => m.Topic));
        }
    }

    private static async Task<MqttClientConnectResultCode> ConnectAsDeviceAsync(PlexusTestServer server, MqttProtocolVersion version, string clientId, string deviceId, string token)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", server.MqttEndpoint!.Port)
            .WithProtocolVersion(version)
            .WithClientId(clientId)
            .WithCredentials(deviceId, token)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (version == MqttProtocolVersion.V500)
        {
            builder.WithCleanStart(false).WithSessionExpiryInterval(300);
        }
        else
        {
            builder.WithCleanSession(false);
        }

        var result = await client.ConnectAsync(builder.Build());
        return result.ResultCode;
    }
}
