using System.Net;
using System.Text;
using Plexus.TestKit;

namespace Plexus.Console.Tests;

/// <summary>The live stream of a device's stored points (<c>GET /api/v1/devices/{id}/live</c>) and its limits.</summary>
public sealed class LiveFeedTests
{
    [Fact]
    public async Task A_stored_point_of_the_device_arrives_as_a_server_sent_event()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var written = await server.WriteAsync("telemetry,device=pump-1 pressure=1.5 1700000000000000000");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/devices/pump-1/live");
        using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal(": plexus live data of one device", await reader.ReadLineAsync());
        Assert.Equal(string.Empty, await reader.ReadLineAsync());

        using var other = await server.WriteAsync("telemetry,device=pump-2 pressure=9 1700000001000000000");
        using var mine = await server.WriteAsync("telemetry,device=pump-1 pressure=2.25,state=\"on\" 1700000002000000000");
        Assert.Equal("event: point", await reader.ReadLineAsync());
        Assert.Equal("""data: {"measurement":"telemetry","time":"2023-11-14T22:13:22+00:00","fields":{"pressure":2.25,"state":"on"}}""", await reader.ReadLineAsync());
    }

    [Fact]
    public async Task A_slow_client_loses_points_past_its_queue_and_they_are_counted_while_writes_go_on()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { LiveQueue = 2 });
        using var written = await server.WriteAsync("telemetry,device=slow v=0 1700000000000000000");
        using var subscription = server.Server.LiveFeed.TrySubscribe("slow")!;
        for (int i = 1; i <= 5; i++)
        {
            using var write = await server.WriteAsync($"telemetry,device=slow v={i} 170000000{i}000000000");
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        Assert.Equal(3, subscription.Dropped);
        Assert.Equal(3, server.Server.LiveFeed.Dropped);
        Assert.True(subscription.Points.TryRead(out byte[]? first));
        Assert.Contains("\"v\":1", Encoding.UTF8.GetString(first!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streams_past_the_limit_are_refused_with_503_naming_the_option()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { LiveMaxClients = 1 });
        using var written = await server.WriteAsync("telemetry,device=d1 v=1 1700000000000000000");
        using var held = server.Server.LiveFeed.TrySubscribe("d1");
        Assert.NotNull(held);
        using var refused = await server.Client.GetAsync("/api/v1/devices/d1/live");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("--live-max-clients", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_device_token_cannot_watch_a_device()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var added = await server.Client.PostAsync("/api/v1/devices", new StringContent("""{"id": "spy"}""", Encoding.UTF8, "application/json"));
        string token = System.Text.Json.JsonDocument.Parse(await added.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var device = server.ClientWithToken(token);
        using var refused = await device.GetAsync("/api/v1/devices/spy/live");
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }
}
