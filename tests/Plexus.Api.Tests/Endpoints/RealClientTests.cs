using System.Diagnostics;
using InfluxDB.Client;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Writes;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>Writes through the InfluxDB client libraries users already have, then reads back with SQL.</summary>
public sealed class RealClientTests
{
    [Fact]
    public async Task Dotnet_InfluxDB_Client_writes_are_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var client = new InfluxDBClient(server.Address.ToString(), PlexusTestServer.AdminToken);
        var writeApi = client.GetWriteApiAsync();
        var points = Enumerable.Range(0, 100).Select(i => PointData.Measurement("dotnet_env")
            .Tag("room", i % 2 == 0 ? "kitchen" : "hall")
            .Field("temp", 20.0 + (i / 10.0))
            .Field("count", (long)i)
            .Field("ok", i % 3 == 0)
            .Field("note", $"say \"hi\", i={i}")
            .Timestamp(1_700_000_000_000L + (i * 1000L), WritePrecision.Ms)).ToList();

        await writeApi.WritePointsAsync(points, "devices", "any-org");

        var rows = await server.RowsAsync("SELECT count(*), sum(count), count(*) FILTER (WHERE ok), max(note) FILTER (WHERE count = 7), min(epoch_ms(time)) FROM devices.dotnet_env");
        Assert.Equal(100, rows[0][0].GetInt64());
        Assert.Equal(4950, rows[0][1].GetDouble());
        Assert.Equal(34, rows[0][2].GetInt64());
        Assert.Equal("say \"hi\", i=7", rows[0][3].GetString());
        Assert.Equal(1_700_000_000_000L, rows[0][4].GetInt64());
    }

    [Fact]
    public async Task Node_influxdb_client_writes_are_stored()
    {
        string clientDir = Path.Combine(AppContext.BaseDirectory, "clients", "node");
        Assert.True(Directory.Exists(Path.Combine(clientDir, "node_modules", "@influxdata")),
            "the npm client is missing: run scripts/test.sh, which installs it (npm install in tests/clients/node)");
        await using var server = await PlexusTestServer.StartAsync();

        var start = new ProcessStartInfo("node", ["write.mjs", server.Address.ToString().TrimEnd('/'), PlexusTestServer.AdminToken, "web"])
        {
            WorkingDirectory = clientDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var node = Process.Start(start)!;
        string output = await node.StandardOutput.ReadToEndAsync();
        string errors = await node.StandardError.ReadToEndAsync();
        await node.WaitForExitAsync();

        Assert.True(node.ExitCode == 0, $"node client failed: {output} {errors}");
        var rows = await server.RowsAsync("SELECT count(*), sum(count), max(note) FILTER (WHERE count = 3), count(DISTINCT room) FROM web.js_env");
        Assert.Equal(50, rows[0][0].GetInt64());
        Assert.Equal(1225, rows[0][1].GetDouble());
        Assert.Equal("say \"hi\", i=3", rows[0][2].GetString());
        Assert.Equal(2, rows[0][3].GetInt64());
    }
}
