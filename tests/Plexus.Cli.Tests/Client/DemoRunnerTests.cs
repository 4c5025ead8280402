using Plexus.Cli.Client;
using Plexus.Cli.Tests.Docs;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Client;

/// <summary>
/// The demo as <c>plexus serve --demo</c> runs it: a real server, the fleet registered over HTTP and publishing over
/// MQTT with device tokens, seen in SQL; then <c>plexus demo remove</c> takes it away.
/// </summary>
public sealed class DemoRunnerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Serve_demo_shows_devices_positions_and_state_in_sql_within_a_minute_and_remove_takes_it_away()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var log = new StringWriter();
        using var stop = new CancellationTokenSource();
        var demo = DemoRunner.RunInProcessAsync(server.Server, log, TimeSpan.FromMilliseconds(200), stop.Token);

        await Eventually.TrueAsync(async () => await DocsShell.CountAsync(server, "SELECT count(DISTINCT device) FROM positions") == 4, Deadline, "the four trucks' positions");
        await Eventually.TrueAsync(async () => await DocsShell.CountAsync(server, "SELECT count(DISTINCT device) FROM telemetry WHERE device LIKE 'demo-freezer-%' OR device LIKE 'demo-pump-%'") == 6, Deadline, "freezer and pump telemetry");
        await Eventually.TrueAsync(async () => await DocsShell.CountAsync(server, "SELECT count(*) FROM device_state WHERE online AND device LIKE 'demo-%' AND cardinality(properties) > 0") >= 8, Deadline, "devices online with reported state");
        Assert.Equal(10, await DocsShell.CountAsync(server, "SELECT count(*) FROM devices WHERE tags['demo'] = 'true'"));
        Assert.Equal(2, await DocsShell.CountAsync(server, "SELECT count(*) FROM geofences WHERE name LIKE 'demo-%'"));

        // The query cli.md shows with the demo running: a row per demo device.
        var query = Assert.Single(DocsPages.Runnable("cli.md", "sql"), block => block.File is null);
        Assert.Equal(10, (await server.RowsAsync(query.Code)).Count);

        await stop.CancelAsync();
        await demo;
        Assert.DoesNotContain("stopped:", log.ToString(), StringComparison.Ordinal);

        using var client = PlexusApiClient.Create(server.Address.ToString(), PlexusTestServer.AdminToken);
        using var output = new StringWriter();
        await DemoRunner.RemoveAsync(client, output, CancellationToken.None);

        Assert.Equal(0, await DocsShell.CountAsync(server, "SELECT count(*) FROM devices WHERE registered AND tags['demo'] = 'true'"));
        Assert.Equal(0, await DocsShell.CountAsync(server, "SELECT count(*) FROM assets WHERE id LIKE 'demo-%'"));
        Assert.Equal(0, await DocsShell.CountAsync(server, "SELECT count(*) FROM geofences WHERE name LIKE 'demo-%'"));
        Assert.Contains("removed 17", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(server.Server.ApiTokens.List(), t => t.Name == DemoRunner.TokenName);

        // The rows its devices sent went too, through the one delete.
        Assert.Equal(0, await DocsShell.CountAsync(server, "SELECT count(*) FROM telemetry WHERE device LIKE 'demo-%'"));
        Assert.Equal(0, await DocsShell.CountAsync(server, "SELECT count(*) FROM positions WHERE device LIKE 'demo-%'"));
        Assert.Equal(0, await DocsShell.CountAsync(server, "SELECT count(*) FROM state_history WHERE device LIKE 'demo-%'"));
        Assert.Matches(@"and the \d+ rows they sent", output.ToString());
    }

    [Fact]
    public async Task Demo_registered_twice_gets_new_device_tokens_and_publishes_again()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var client = PlexusApiClient.Create(server.Address.ToString(), PlexusTestServer.AdminToken);
        var first = new DemoRunner(client, server.MqttEndpoint!.Address.ToString(), server.MqttEndpoint.Port, TextWriter.Null, TimeProvider.System);
        await first.RegisterAsync(CancellationToken.None);
        var second = new DemoRunner(client, server.MqttEndpoint.Address.ToString(), server.MqttEndpoint.Port, TextWriter.Null, TimeProvider.System);
        await second.RegisterAsync(CancellationToken.None);
        using var stop = new CancellationTokenSource();

        var run = second.RunAsync(TimeSpan.FromMilliseconds(100), seed: 1, stop.Token);
        await Eventually.TrueAsync(() => second.Published >= 30, Deadline, "publishes with the rotated tokens");
        await stop.CancelAsync();
        await run;
    }
}
