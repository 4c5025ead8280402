using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.Storage;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Devices.Tests;

/// <summary>
/// A device's measurement allow-list in the registry (docs/devices.md#measurement-allow-list), and the schema limits
/// as a device meets them: over HTTP with its token and over MQTT with real clients, refusals answered and kept as
/// dead letters.
/// </summary>
public sealed class MeasurementAllowListTests
{
    private static async Task<string> AddDeviceAsync(PlexusTestServer server, string id, params string[] measurements)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id, measurements });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        var device = JsonDocument.Parse(body).RootElement;
        Assert.Equal(measurements, device.GetProperty("measurements").EnumerateArray().Select(m => m.GetString()));
        return device.GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task Http_write_with_a_device_token_stores_allowed_measurements_and_refuses_others_naming_the_allow_list()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await AddDeviceAsync(server, "meter-1", "power", "telemetry");
        using var device = server.ClientWithToken(token);

        using var response = await device.PostAsync("/api/v2/write", new StringContent("power watts=5 1\nheater on=true 1\ntelemetry temp=20 1"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, body.GetProperty("written").GetInt32());
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, error.GetProperty("line").GetInt32());
        string reason = error.GetProperty("reason").GetString()!;
        Assert.Contains("device \"meter-1\" may write only the measurements \"power\", \"telemetry\"", reason);
        Assert.Contains("not \"heater\"", reason);
        Assert.Empty(await server.RowsAsync("SELECT * FROM duckdb_views() WHERE view_name = 'heater'"));
        Assert.Equal("meter-1", (await server.RowsAsync("SELECT device FROM power"))[0][0].GetString());
    }

    [Fact]
    public async Task Device_without_an_allow_list_writes_any_measurement_but_the_reserved_ones()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = server.ClientWithToken(token);

        using var response = await device.PostAsync("/api/v2/write", new StringContent("anything v=1 1\nelse v=1 1"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Null(server.Server.Devices.Get("d1")!.Measurements);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Mqtt_message_to_a_measurement_outside_the_allow_list_is_refused_and_kept_as_a_dead_letter(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await AddDeviceAsync(server, "d1", "telemetry", "power");
        using var device = await ConnectAsync(server, "d1", token, version);

        var allowed = await PublishAsync(device, "devices/d1/telemetry", """{"temp": 20}""");
        var otherTopic = await PublishAsync(device, "devices/d1/telemetry/heater", """{"on": 1}""");
        var lineProtocol = await PublishAsync(device, "devices/d1/lp", "power watts=5\nheater on=1");
        var location = await PublishAsync(device, "devices/d1/location", """{"lat": 1, "lon": 2}""");

        Assert.True(allowed.IsSuccess);
        Assert.True(device.IsConnected);
        if (version == MqttProtocolVersion.V500)
        {
            Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, otherTopic.ReasonCode);
            Assert.Contains("may write only the measurements \"telemetry\", \"power\"", otherTopic.ReasonString, StringComparison.Ordinal);
            Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, lineProtocol.ReasonCode);
            Assert.Contains("line 2: device \"d1\"", lineProtocol.ReasonString, StringComparison.Ordinal);
            Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, location.ReasonCode);
            Assert.Contains("not \"positions\"", location.ReasonString, StringComparison.Ordinal);
        }

        var dead = await server.RowsAsync("SELECT topic, reason FROM main.dead_letters ORDER BY time");
        Assert.Equal(["devices/d1/telemetry/heater", "devices/d1/lp", "devices/d1/location"], dead.Select(r => r[0].GetString()));
        Assert.All(dead, r => Assert.Contains("its allow-list in the device registry", r[1].GetString(), StringComparison.Ordinal));
        Assert.Single(await server.RowsAsync("SELECT * FROM telemetry"));
        Assert.Empty(await server.RowsAsync("SELECT * FROM duckdb_views() WHERE view_name IN ('heater', 'power', 'positions')"));
    }

    [Fact]
    public async Task Mosquitto_pub_to_a_topic_outside_the_allow_list_leaves_a_dead_letter()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await AddDeviceAsync(server, "d1", "telemetry");
        var endpoint = server.MqttEndpoint!;

        var start = new System.Diagnostics.ProcessStartInfo("mosquitto_pub",
            ["-h", endpoint.Address.ToString(), "-p", endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-V", "mqttv5", "-q", "1",
             "-i", "d1", "-u", "d1", "-P", token, "-t", "devices/d1/telemetry/heater", "-m", """{"on": 1}"""])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        // mosquitto_pub prints the PUBACK's reason code and reason string, and exits 0 all the same.
        Assert.Contains("Publish 1 failed: Payload format invalid", errors, StringComparison.Ordinal);
        Assert.Contains("may write only the measurements \"telemetry\"", errors, StringComparison.Ordinal);
        var dead = Assert.Single(await server.RowsAsync("SELECT topic, reason FROM main.dead_letters"));
        Assert.Equal("devices/d1/telemetry/heater", dead[0].GetString());
        Assert.Contains("not \"heater\"", dead[1].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Allow_list_is_changed_and_removed_over_http_and_applies_at_once()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = await AddDeviceAsync(server, "d1", "telemetry");
        using var device = await ConnectAsync(server, "d1", token);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, (await PublishAsync(device, "devices/d1/telemetry/power", """{"w": 1}""")).ReasonCode);

        using var widen = await server.Client.PatchAsJsonAsync("/api/v1/devices/d1", new { measurements = new[] { "telemetry", "power" } });
        Assert.Equal(HttpStatusCode.OK, widen.StatusCode);
        Assert.True((await PublishAsync(device, "devices/d1/telemetry/power", """{"w": 2}""")).IsSuccess);

        using var clear = await server.Client.PatchAsync("/api/v1/devices/d1", new StringContent("""{"measurements": null}""", Encoding.UTF8, "application/json"));
        var cleared = JsonDocument.Parse(await clear.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(JsonValueKind.Null, cleared.GetProperty("measurements").ValueKind);
        Assert.True((await PublishAsync(device, "devices/d1/telemetry/heater", """{"on": 1}""")).IsSuccess);
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM power UNION ALL SELECT count(*) FROM heater")).Sum(r => r[0].GetInt64()));
    }

    [Theory]
    [InlineData("""{"id": "d1", "measurements": []}""", "at least one measurement")]
    [InlineData("""{"id": "d1", "measurements": ["devices"]}""", "\"devices\" is reserved")]
    [InlineData("""{"id": "d1", "measurements": "telemetry"}""", "array of strings")]
    [InlineData("""{"id": "d1", "measurements": [1]}""", "array of strings")]
    public async Task Bad_allow_list_is_a_400_naming_the_field(string body, string expected)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsync("/api/v1/devices", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("measurements", error.GetProperty("field").GetString());
        Assert.Contains(expected, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, server.Server.Devices.Count);
    }

    [Fact]
    public async Task Allow_list_comes_from_a_csv_import_shows_in_main_devices_and_survives_a_restart()
    {
        using var data = new TempDirectory("plexus-allow-list");
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            using var import = await server.Client.PostAsync("/api/v1/devices/bulk",
                new StringContent("id,measurements\nd1,telemetry;power\nd2,\n", Encoding.UTF8, "text/csv"));
            Assert.Equal(2, JsonDocument.Parse(await import.Content.ReadAsStringAsync()).RootElement.GetProperty("created").GetInt32());
        }

        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            Assert.Equal(["telemetry", "power"], server.Server.Devices.Get("d1")!.Measurements);
            Assert.Null(server.Server.Devices.Get("d2")!.Measurements);
            var rows = await server.RowsAsync("SELECT id, measurements FROM main.devices ORDER BY id");
            Assert.Equal(["telemetry", "power"], rows[0][1].EnumerateArray().Select(m => m.GetString()));
            Assert.Equal(JsonValueKind.Null, rows[1][1].ValueKind);
            Assert.True(server.Server.Devices.AllowLists.TryGet("d1", out var list));
            Assert.False(list.Allows("heater"));
        }
    }

    [Fact]
    public async Task Registry_made_before_allow_lists_gets_the_column_and_its_devices_write_anything()
    {
        using var data = new TempDirectory("plexus-allow-list-upgrade");
        string token;
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            token = server.Server.Devices.Add(new NewDevice("old")).Token;
            using var connection = server.Server.Store.OpenMetadataConnection();
            connection.Execute("DROP VIEW main.devices; ALTER TABLE _plexus.devices DROP COLUMN measurements");
        }

        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            Assert.Null(server.Server.Devices.Get("old")!.Measurements);
            using var device = server.ClientWithToken(token);
            using var response = await device.PostAsync("/api/v2/write", new StringContent("anything v=1 1"));
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            server.Server.Devices.Update("old", new DeviceChanges { MeasurementsSet = true, Measurements = ["telemetry"] });
            Assert.Equal(["telemetry"], server.Server.Devices.Get("old")!.Measurements);
        }
    }

    [Fact]
    public async Task Mqtt_message_over_a_per_write_limit_is_refused_with_the_option_and_kept_as_a_dead_letter()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { SchemaLimits = new SchemaLimits { MaxNewMeasurementsPerWrite = 3 } });
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token);

        var result = await PublishAsync(device, "devices/d1/lp", "a v=1\nb v=1\nc v=1\nd v=1");

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, result.ReasonCode);
        Assert.Contains("--max-new-measurements-per-write", result.ReasonString, StringComparison.Ordinal);
        Assert.True(device.IsConnected);
        var dead = Assert.Single(await server.RowsAsync("SELECT topic, reason FROM main.dead_letters"));
        Assert.Equal("devices/d1/lp", dead[0].GetString());
        Assert.Contains("--max-new-measurements-per-write", dead[1].GetString(), StringComparison.Ordinal);
        Assert.Empty(await server.RowsAsync("SELECT * FROM duckdb_views() WHERE view_name IN ('a', 'b', 'c', 'd')"));
    }

    [Fact]
    public async Task Messages_sharing_a_write_are_held_to_the_per_write_limits_one_by_one()
    {
        // Three messages of two new measurements each fit the limit of three alone, not together; the fourth does not fit alone.
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { SchemaLimits = new SchemaLimits { MaxNewMeasurementsPerWrite = 3 } });
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token);
        string[] payloads = ["a1 v=1\na2 v=1", "b1 v=1\nb2 v=1", "c1 v=1\nc2 v=1", "d1 v=1\nd2 v=1\nd3 v=1\nd4 v=1"];

        var results = await Task.WhenAll(payloads.Select(payload => device.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic("devices/d1/lp").WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build())));

        Assert.All(results.Take(3), r => Assert.True(r.IsSuccess, $"{r.ReasonCode} {r.ReasonString}"));
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, results[3].ReasonCode);
        Assert.True(device.IsConnected);
        var stored = await server.RowsAsync("SELECT view_name FROM duckdb_views() WHERE schema_name = 'main' AND length(view_name) = 2 ORDER BY 1");
        Assert.Equal(["a1", "a2", "b1", "b2", "c1", "c2"], stored.Select(r => r[0].GetString()));
    }
}
