using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus devices add|list|show|update|remove` against a real server.</summary>
public sealed class DevicesCommandTests
{
    [Fact]
    public async Task Add_list_update_show_and_remove_devices()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        string[] connection = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var gateway = await CliRunner.RunAsync(["devices", "add", "gw-1", "--type", "gateway", .. connection]);
        Assert.True(gateway.ExitCode == 0, gateway.Error);
        var add = await CliRunner.RunAsync(["devices", "add", "truck-7", "--name", "Truck 7", "--tag", "fleet=East", "--parent", "gw-1", .. connection]);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Contains("\"fleet\": \"East\"", add.Output, StringComparison.Ordinal);
        Assert.Contains("the token is shown only now", add.Error, StringComparison.Ordinal);

        var list = await CliRunner.RunAsync(["devices", "list", "--tag", "fleet=East", .. connection]);
        Assert.Equal(0, list.ExitCode);
        var lines = list.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["ID", "truck-7"], lines.Select(l => l.Split(' ')[0]));
        Assert.Equal(["truck-7", "Truck", "7", "fleet=East", "gw-1"], lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("1 of 1 device", list.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("devices", list.Error, StringComparison.Ordinal);

        var update = await CliRunner.RunAsync(["devices", "update", "truck-7", "--type", "truck", "--clear-parent", "--clear-tags", .. connection]);
        Assert.True(update.ExitCode == 0, update.Error);
        Assert.Contains("\"parent\": null", update.Output, StringComparison.Ordinal);
        Assert.Contains("\"type\": \"truck\"", update.Output, StringComparison.Ordinal);
        Assert.Contains("\"name\": \"Truck 7\"", update.Output, StringComparison.Ordinal);
        Assert.Contains("\"tags\": {}", update.Output, StringComparison.Ordinal);

        var json = await CliRunner.RunAsync(["devices", "list", "--format", "json", .. connection]);
        Assert.Equal(0, json.ExitCode);
        Assert.Contains("\"total\": 2", json.Output, StringComparison.Ordinal);

        var badTag = await CliRunner.RunAsync(["devices", "list", "--tag", "fleet", .. connection]);
        Assert.Equal(1, badTag.ExitCode);
        Assert.Contains("--tag \"fleet\" is not key=value, e.g. --tag fleet=East", badTag.Error, StringComparison.Ordinal);

        var removed = await CliRunner.RunAsync(["devices", "remove", "truck-7", .. connection]);
        Assert.Equal(0, removed.ExitCode);
        Assert.Contains("removed truck-7", removed.Output, StringComparison.Ordinal);
        var missing = await CliRunner.RunAsync(["devices", "show", "truck-7", .. connection]);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("404 not found: ", missing.Error, StringComparison.Ordinal);
        Assert.Contains("truck-7", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Measurement_allow_list_is_set_replaced_and_removed()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttEndpoint = "off" });
        string[] connection = ["--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken];

        var add = await CliRunner.RunAsync(["devices", "add", "meter-1", "--measurement", "power", "--measurement", "telemetry", .. connection]);
        Assert.True(add.ExitCode == 0, add.Error);
        Assert.Equal(["power", "telemetry"], server.Server.Devices.Get("meter-1")!.Measurements);

        var replace = await CliRunner.RunAsync(["devices", "update", "meter-1", "--measurement", "energy", .. connection]);
        Assert.True(replace.ExitCode == 0, replace.Error);
        Assert.Equal(["energy"], server.Server.Devices.Get("meter-1")!.Measurements);

        var keep = await CliRunner.RunAsync(["devices", "update", "meter-1", "--name", "Meter 1", .. connection]);
        Assert.True(keep.ExitCode == 0, keep.Error);
        Assert.Equal(["energy"], server.Server.Devices.Get("meter-1")!.Measurements);

        var both = await CliRunner.RunAsync(["devices", "update", "meter-1", "--measurement", "x", "--any-measurement", .. connection]);
        Assert.Equal(1, both.ExitCode);
        Assert.Contains("contradict", both.Error, StringComparison.Ordinal);

        var any = await CliRunner.RunAsync(["devices", "update", "meter-1", "--any-measurement", .. connection]);
        Assert.True(any.ExitCode == 0, any.Error);
        Assert.Contains("\"measurements\": null", any.Output, StringComparison.Ordinal);
        Assert.Null(server.Server.Devices.Get("meter-1")!.Measurements);
    }
}
