using System.Net;
using System.Net.Http.Json;
using MQTTnet;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Devices.Tests;

/// <summary>Every ```sql block of docs/devices.md runs against devices that sent telemetry, positions, state and a bad payload.</summary>
public sealed class DeviceDocsExamplesTests
{
    public static TheoryData<int, string> Examples()
    {
        var data = new TheoryData<int, string>();
        foreach (var block in DocsPages.Runnable("devices.md", "sql"))
        {
            data.Add(block.Index, block.Code);
        }

        return data;
    }

    [Fact]
    public void The_devices_page_has_sql_examples() => Assert.True(Examples().Count >= 7);

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Sql_example_from_the_devices_page_runs_and_returns_rows(int example, string sql)
    {
        await using var server = await PlexusTestServer.StartAsync();
        await SeedAsync(server);

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });
        string body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"example {example} failed: {body}\n{sql}");
        Assert.DoesNotContain("\"rows\":[]", body);
    }

    private static async Task SeedAsync(PlexusTestServer server)
    {
        var devices = server.Server.Devices;
        string t1 = devices.Add(new NewDevice("truck-1", "Truck 1", "truck", new Dictionary<string, string> { ["fleet"] = "East" })).Token;
        string t2 = devices.Add(new NewDevice("truck-2", "Truck 2", "truck", new Dictionary<string, string> { ["fleet"] = "West" })).Token;
        using var truck1 = await ConnectAsync(server, "truck-1", t1);
        using var truck2 = await ConnectAsync(server, "truck-2", t2);
        foreach (var (client, id, battery) in new[] { (truck1, "truck-1", 80), (truck2, "truck-2", 40) })
        {
            await Publish(client, $"devices/{id}/telemetry", """{"temp": 20.5, "ts": 1767323000000}""");
            await Publish(client, $"devices/{id}/telemetry", """{"temp": 21.5, "ts": 1767323010000}""");
            await Publish(client, $"devices/{id}/location", """[{"lat": 52.52, "lon": 13.40, "speed": 10, "ts": 1767323000000}, {"lat": 52.53, "lon": 13.41, "speed": 12, "ts": 1767323010000}]""");
            await Publish(client, $"devices/{id}/state", $$"""{"firmware": "1.0.0", "battery": {{battery}}}""");
            await Publish(client, $"devices/{id}/state", """{"firmware": "1.1.0"}""");
        }

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, (await PublishAsync(truck1, "devices/truck-1/telemetry", "{not json")).ReasonCode);
        // Desired properties and a command (it fails at once: nothing subscribes to truck-1's commands), for
        // device_desired and device_commands.
        using (var desire = new HttpRequestMessage(HttpMethod.Patch, "/api/v1/devices/truck-1/desired") { Content = JsonContent.Create(new { firmware = "1.2.0", interval = 30 }) })
        using (var desired = await server.Client.SendAsync(desire))
        {
            Assert.Equal(HttpStatusCode.OK, desired.StatusCode);
        }

        using (var command = await server.Client.PostAsJsonAsync("/api/v1/devices/truck-1/commands", new { name = "reboot" }))
        {
            Assert.Equal(HttpStatusCode.Created, command.StatusCode);
        }

        await truck2.DisconnectAsync();
        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "truck-2")).Count == 2);
        server.Server.DeviceState.Flush();
    }

    private static async Task Publish(IMqttClient client, string topic, string payload)
    {
        var result = await PublishAsync(client, topic, payload);
        Assert.True(result.IsSuccess, $"{topic}: {result.ReasonCode} {result.ReasonString}");
    }
}
