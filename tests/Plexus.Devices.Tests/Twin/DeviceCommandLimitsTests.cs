using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Plexus.TestKit;
using static Plexus.Devices.Tests.Twin.TwinTestSupport;

namespace Plexus.Devices.Tests.Twin;

/// <summary>
/// The limits of commands (docs/devices.md#desired-properties-and-commands): commands waiting per device, the payload's
/// size, and how long finished commands stay in <c>main.device_commands</c>.
/// </summary>
public sealed class DeviceCommandLimitsTests
{
    [Fact]
    public async Task A_device_with_max_pending_commands_waiting_refuses_one_more_with_a_409_naming_the_option()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { MaxPendingCommands = 2 });
        string token = await RegisterAsync(server, "d1");
        await RegisterAsync(server, "d2");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token);
        await device.SubscribeCollectingAsync("devices/d1/commands/#");
        Assert.Equal("delivered", (await SendCommandAsync(server, "d1", """{"name": "one"}""")).GetProperty("status").GetString());
        Assert.Equal("delivered", (await SendCommandAsync(server, "d1", """{"name": "two"}""")).GetProperty("status").GetString());

        var (status, error) = await PostCommandAsync(server, "d1", """{"name": "three"}""");

        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("conflict", error.GetProperty("code").GetString());
        Assert.Contains("--max-pending-commands", error.GetProperty("error").GetString(), StringComparison.Ordinal);
        var rows = await server.RowsAsync("SELECT name FROM device_commands ORDER BY sent_at");
        Assert.Equal("one two", string.Join(" ", rows.Select(r => r[0].GetString())));

        // The limit is per device: another device's command is not held up.
        Assert.Equal("failed", (await SendCommandAsync(server, "d2", """{"name": "one"}""")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_payload_over_max_command_bytes_is_a_413_naming_the_option_and_is_not_recorded()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { MaxCommandBytes = 64 });
        await RegisterAsync(server, "d1");
        string payload = new('x', 70);

        var (status, error) = await PostCommandAsync(server, "d1", $$"""{"name": "big", "payload": "{{payload}}"}""");

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("too_large", error.GetProperty("code").GetString());
        Assert.Equal("payload", error.GetProperty("field").GetString());
        Assert.Contains("--max-command-bytes", error.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(await server.RowsAsync("SELECT id FROM device_commands"));

        // Just under the limit (60 characters of payload, 62 bytes of JSON with its quotes) is sent.
        Assert.Equal("failed", (await SendCommandAsync(server, "d1", $$"""{"name": "small", "payload": "{{new string('x', 60)}}"}""")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Finished_commands_older_than_the_history_retention_are_removed_and_waiting_ones_are_kept()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        await using var server = await PlexusTestServer.StartAsync(time: clock, configure: options => options with { CommandHistoryRetention = TimeSpan.FromHours(1), MaxCommandTimeout = TimeSpan.FromHours(3) });
        string token = await RegisterAsync(server, "d1");
        using var device = await DeviceTestClients.ConnectAsync(server, "d1", token);
        await device.SubscribeCollectingAsync("devices/d1/commands/#");
        string answered = (await SendCommandAsync(server, "d1", """{"name": "ping"}""")).GetProperty("id").GetString()!;
        await DeviceTestClients.PublishAsync(device, $"devices/d1/responses/{answered}", """{"status": "succeeded"}""");
        await Eventually.TrueAsync(async () => (await GetCommandAsync(server, "d1", answered)).GetProperty("status").GetString() == "succeeded");
        string waiting = (await SendCommandAsync(server, "d1", """{"name": "slow", "timeout": "2h"}""")).GetProperty("id").GetString()!;

        // Within the retention both stay, however often the sweep runs.
        for (int i = 0; i < 9; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(6));
        }

        Assert.Equal("ping slow", await NamesAsync(server));

        // Past it, the answered one goes at the next sweep (every 6 minutes for an hour's retention); the one still
        // waiting for its answer stays.
        clock.Advance(TimeSpan.FromMinutes(12));
        await Eventually.TrueAsync(async () => await NamesAsync(server) == "slow", because: "the sweep removes the finished command");
        Assert.Equal("delivered", (await GetCommandAsync(server, "d1", waiting)).GetProperty("status").GetString());
        using var gone = await server.Client.GetAsync($"/api/v1/devices/d1/commands/{answered}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    private static async Task<string> NamesAsync(PlexusTestServer server) =>
        string.Join(" ", (await server.RowsAsync("SELECT name FROM device_commands ORDER BY sent_at")).Select(r => r[0].GetString()));

    private static async Task<(HttpStatusCode Status, JsonElement Body)> PostCommandAsync(PlexusTestServer server, string device, string json)
    {
        using var response = await server.Client.PostAsync($"/api/v1/devices/{device}/commands", new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }
}
