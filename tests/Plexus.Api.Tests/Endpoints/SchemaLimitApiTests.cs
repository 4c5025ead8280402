using System.Net;
using System.Text;
using System.Text.Json;
using InfluxDB.Client;
using InfluxDB.Client.Api.Domain;
using InfluxDB.Client.Core.Exceptions;
using InfluxDB.Client.Writes;
using Plexus.Storage;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>How HTTP writes over a schema limit are answered: which status, which limit, and that nothing was created.</summary>
public sealed class SchemaLimitApiTests
{
    private static string Measurements(int count, string prefix = "m") =>
        string.Join('\n', Enumerable.Range(0, count).Select(i => $"{prefix}{i} v=1 1"));

    private static async Task<long> MeasurementCountAsync(PlexusTestServer server) =>
        (await server.RowsAsync("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'main' AND NOT internal AND view_name LIKE 'm%'"))[0][0].GetInt64();

    [Fact]
    public async Task Write_creating_1000_measurements_is_a_413_naming_the_limit_and_nothing_is_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.WriteAsync(Measurements(1_000));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("request too large", body.GetProperty("code").GetString());
        Assert.Equal("max-new-measurements-per-write", body.GetProperty("limit").GetString());
        Assert.Equal(100, body.GetProperty("max").GetInt32());
        Assert.Equal(101, body.GetProperty("value").GetInt32());
        string message = body.GetProperty("message").GetString()!;
        Assert.Contains("more than 100 new measurements", message);
        Assert.Contains("--max-new-measurements-per-write", message);
        Assert.Equal(message, body.GetProperty("error").GetString());
        Assert.Equal(0, await MeasurementCountAsync(server));
    }

    [Fact]
    public async Task Line_with_5000_fields_is_a_partial_write_naming_the_column_limit()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string wide = "wide " + string.Join(',', Enumerable.Range(0, 5_000).Select(i => $"f{i}=1")) + " 1";

        using var response = await server.WriteAsync("ok v=1 1\n" + wide);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(1, body.GetProperty("written").GetInt32());
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, error.GetProperty("line").GetInt32());
        string reason = error.GetProperty("reason").GetString()!;
        Assert.Contains("\"wide\" would have 5000 columns", reason);
        Assert.Contains("--max-columns-per-measurement", reason);
        Assert.Empty((await server.SqlAsync("SELECT view_name FROM duckdb_views() WHERE view_name = 'wide'")).GetProperty("rows").EnumerateArray());
    }

    [Fact]
    public async Task Limits_set_on_the_server_are_exact_at_the_boundary()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with
        {
            SchemaLimits = new SchemaLimits { MaxNewMeasurementsPerWrite = 5, MaxNewColumnsPerWrite = 8, MaxColumnsPerMeasurement = 6 },
        });

        using var fiveMeasurements = await server.WriteAsync(Measurements(5, "a"));
        using var sixMeasurements = await server.WriteAsync(Measurements(6, "b"));
        using var sixColumns = await server.WriteAsync("wide,t=x f0=1,f1=1,f2=1,f3=1,f4=1 1");
        using var sevenColumns = await server.WriteAsync("wider,t=x f0=1,f1=1,f2=1,f3=1,f4=1,f5=1 1");
        using var nineNewColumns = await server.WriteAsync("c0 f0=1,f1=1,f2=1 1\nc1 f0=1,f1=1,f2=1 1\nc2 f0=1,f1=1,f2=1 1");

        Assert.Equal(HttpStatusCode.NoContent, fiveMeasurements.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, sixMeasurements.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, sixColumns.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, sevenColumns.StatusCode);
        Assert.Contains("--max-columns-per-measurement", await sevenColumns.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, nineNewColumns.StatusCode);
        Assert.Contains("--max-new-columns-per-write", await nineNewColumns.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task New_namespace_beyond_the_limit_is_a_400_and_existing_ones_still_take_writes()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { SchemaLimits = new SchemaLimits { MaxNamespaces = 2 } });

        using var first = await server.WriteAsync("m v=1 1", "?bucket=fleet");
        using var second = await server.WriteAsync("m v=1 1", "?bucket=plant");
        using var main = await server.WriteAsync("m v=1 1");

        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        var body = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("max-namespaces", body.GetProperty("limit").GetString());
        Assert.Contains("namespace \"plant\"", body.GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.NoContent, main.StatusCode);
    }

    [Fact]
    public async Task Dotnet_InfluxDB_Client_sees_the_refusal_and_the_option_that_raises_it()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var client = new InfluxDBClient(server.Address.ToString(), PlexusTestServer.AdminToken);
        var points = Enumerable.Range(0, 150).Select(i => PointData.Measurement($"m{i}").Field("v", 1.0).Timestamp(1L, WritePrecision.S)).ToList();

        var error = await Assert.ThrowsAsync<RequestEntityTooLargeException>(() => client.GetWriteApiAsync().WritePointsAsync(points, "main", "any-org"));

        Assert.Contains("--max-new-measurements-per-write", error.Message);
    }

    [Fact]
    public async Task Device_data_of_Plexus_is_written_even_when_main_is_full()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { SchemaLimits = new SchemaLimits { MaxMeasurementsPerNamespace = 1 } });
        using var first = await server.WriteAsync("m v=1 1");
        using var second = await server.WriteAsync("n v=1 1");
        Assert.Equal(HttpStatusCode.NoContent, first.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);

        await server.Server.DeviceState.RecordDeadLetterAsync("d1", "devices/d1/telemetry", "test", new System.Buffers.ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("{")), null);

        var rows = await server.RowsAsync("SELECT device, reason FROM main.dead_letters");
        Assert.Equal("d1", Assert.Single(rows)[0].GetString());
    }
}
