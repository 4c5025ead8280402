using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using MQTTnet.Formatter;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Pipeline.Tests.Observers;

/// <summary>
/// The live position on a device's page follows every stored write of <c>main.positions</c>, whichever source wrote it
/// (docs/devices.md#live-state), and only what the store kept.
/// </summary>
public sealed class LiveStateObserverTests
{
    // 2026-01-02T03:04:05Z and later, in nanoseconds.
    private const long T0 = 1_767_323_045_000_000_000;
    private const long Second = 1_000_000_000;

    [Fact]
    public async Task Location_over_mqtt_moves_the_device_position()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("truck-1")).Token;

        using (var device = await MqttTestClients.ConnectAsync(server, MqttProtocolVersion.V311, "truck-1", token, b => b.WithCredentials("truck-1", token)))
        {
            Assert.True((await device.PublishAsync("devices/truck-1/location", """{"lat": 52.52, "lon": 13.405, "ts": 1767323045000}""")).IsSuccess);
        }

        Assert.Equal((52.52, 13.405, "2026-01-02T03:04:05Z"), await PositionAsync(server, "truck-1"));
    }

    [Fact]
    public async Task Location_over_the_http_device_api_moves_the_device_position()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = DeviceClient(server, server.Server.Devices.Add(new NewDevice("truck-2")).Token);

        using var response = await device.PostAsync("/api/v1/devices/truck-2/location", new StringContent("""{"lat": 48.1, "lon": 11.6, "ts": 1767323045000}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal((48.1, 11.6, "2026-01-02T03:04:05Z"), await PositionAsync(server, "truck-2"));
    }

    [Fact]
    public async Task Line_protocol_write_of_positions_moves_the_device_position()
    {
        await using var server = await PlexusTestServer.StartAsync();
        server.Server.Devices.Add(new NewDevice("truck-3"));

        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync($"positions,device=truck-3 lat=40.5,lon=-3.7,speed=12 {T0}")).StatusCode);

        Assert.Equal((40.5, -3.7, "2026-01-02T03:04:05Z"), await PositionAsync(server, "truck-3"));
    }

    [Fact]
    public async Task Positions_in_another_namespace_or_without_lat_and_lon_leave_the_position_alone()
    {
        await using var server = await PlexusTestServer.StartAsync();
        server.Server.Devices.Add(new NewDevice("truck-4"));

        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync($"positions,device=truck-4 lat=1.5,lon=2.5 {T0}", "?bucket=fleet")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync($"positions,device=truck-4 speed=3 {T0}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync($"positions lat=1.5,lon=2.5 {T0}")).StatusCode);

        Assert.Null(await PositionAsync(server, "truck-4"));
    }

    [Fact]
    public async Task A_refused_point_does_not_move_the_position()
    {
        await using var server = await PlexusTestServer.StartAsync();
        server.Server.Devices.Add(new NewDevice("truck-5"));
        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync($"positions,device=truck-5 lat=10.0,lon=20.0,speed=5.0 {T0}")).StatusCode);

        // Newer, with good coordinates, but speed is a string where the column holds numbers: the store refuses the
        // point and keeps the other line.
        using var response = await server.WriteAsync($"positions,device=truck-5 lat=50.0,lon=99.0,speed=\"fast\" {T0 + (60 * Second)}\nother,device=truck-5 v=1 {T0}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1L, (await server.RowsAsync("SELECT count(*) FROM other"))[0][0].GetInt64());
        Assert.Equal((10.0, 20.0, "2026-01-02T03:04:05Z"), await PositionAsync(server, "truck-5"));
    }

    [Fact]
    public async Task The_newest_fix_by_time_wins_within_a_write_and_across_writes()
    {
        await using var server = await PlexusTestServer.StartAsync();
        server.Server.Devices.Add(new NewDevice("truck-6"));
        server.Server.Devices.Add(new NewDevice("truck-7"));

        // One write, out of time order, two devices: each device's newest fix is its position.
        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync(string.Join('\n',
            $"positions,device=truck-6 lat=1.0,lon=1.0 {T0 + (10 * Second)}",
            $"positions,device=truck-7 lat=7.0,lon=7.0 {T0}",
            $"positions,device=truck-6 lat=3.0,lon=3.0 {T0 + (30 * Second)}",
            $"positions,device=truck-6 lat=2.0,lon=2.0 {T0 + (20 * Second)}"))).StatusCode);

        Assert.Equal((3.0, 3.0, "2026-01-02T03:04:35Z"), await PositionAsync(server, "truck-6"));
        Assert.Equal((7.0, 7.0, "2026-01-02T03:04:05Z"), await PositionAsync(server, "truck-7"));

        // A later write with an older fix (a device catching up after being offline) does not move it back;
        // a newer one does, whatever source brings it.
        Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync($"positions,device=truck-6 lat=9.0,lon=9.0 {T0}")).StatusCode);
        Assert.Equal((3.0, 3.0, "2026-01-02T03:04:35Z"), await PositionAsync(server, "truck-6"));

        using var device = DeviceClient(server, PlexusTestServer.AdminToken);
        using var response = await device.PostAsync("/api/v1/devices/truck-6/location", new StringContent("""{"lat": 4.0, "lon": 4.0, "ts": 1767323085000}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal((4.0, 4.0, "2026-01-02T03:04:45Z"), await PositionAsync(server, "truck-6"));
    }

    private static HttpClient DeviceClient(PlexusTestServer server, string token)
    {
        var client = new HttpClient { BaseAddress = server.Address };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        return client;
    }

    private static async Task<(double Lat, double Lon, string? Time)?> PositionAsync(PlexusTestServer server, string device)
    {
        using var page = await server.Client.GetAsync($"/api/v1/devices/{device}");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var position = JsonDocument.Parse(await page.Content.ReadAsStringAsync()).RootElement.GetProperty("position");
        return position.ValueKind == JsonValueKind.Null
            ? null
            : (position.GetProperty("lat").GetDouble(), position.GetProperty("lon").GetDouble(), position.GetProperty("time").GetString());
    }
}
