using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>
/// The HTTP device API (docs/devices.md#http-device-api): the MQTT device topics' payloads over HTTP, stored by the same
/// pipeline stage, answered after durability in the API's error shape.
/// </summary>
public sealed class DeviceDataApiTests
{
    [Fact]
    public async Task Every_kind_is_stored_as_over_mqtt_and_answered_204()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("truck-7")).Token);

        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/telemetry", """{"temp": 21.5, "ts": 1767323045000}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/telemetry/engine", """{"rpm": 1800}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/senml", """[{"n": "hum", "v": 40}]""")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/telemetry/climate", """[{"n": "co2", "v": 400}]""", "application/senml+json; charset=utf-8")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/lp", "cargo,device=spoofed,door=rear open=true 1767323045000000000")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/location", """{"lat": 52.52, "lon": 13.405, "ts": 1767323045000}""")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "truck-7/state", """{"firmware": "1.4.2"}""")).StatusCode);

        Assert.Equal(21.5, (await server.RowsAsync("SELECT temp FROM telemetry WHERE device = 'truck-7'"))[0][0].GetDouble());
        Assert.Equal(1800, (await server.RowsAsync("SELECT rpm FROM engine WHERE device = 'truck-7'"))[0][0].GetInt64());
        Assert.Equal(40, (await server.RowsAsync("SELECT hum FROM senml WHERE device = 'truck-7'"))[0][0].GetDouble());
        Assert.Equal(400, (await server.RowsAsync("SELECT co2 FROM climate WHERE device = 'truck-7'"))[0][0].GetDouble());
        var cargo = await server.RowsAsync("SELECT device, door, open FROM cargo");
        Assert.Equal(("truck-7", "rear"), (cargo[0][0].GetString(), cargo[0][1].GetString()));
        Assert.True(cargo[0][2].GetBoolean());

        // The live state follows as it does for MQTT: position and reported properties on the device's page.
        using var page = await server.Client.GetAsync("/api/v1/devices/truck-7");
        var body = JsonDocument.Parse(await page.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(52.52, body.GetProperty("position").GetProperty("lat").GetDouble());
        Assert.Equal("1.4.2", body.GetProperty("properties").GetProperty("firmware").GetProperty("value").GetString());
        Assert.NotEqual(JsonValueKind.Null, body.GetProperty("last_seen").ValueKind);
    }

    [Fact]
    public async Task A_device_token_sends_only_as_its_device_and_read_tokens_or_nobody_may_not_send()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("d1")).Token);
        server.Server.Devices.Add(new NewDevice("d2"));

        using var asOther = await PostAsync(device, "d2/telemetry", """{"temp": 1}""");
        Assert.Equal(HttpStatusCode.Forbidden, asOther.StatusCode);
        Assert.Contains("only as itself", await ErrorAsync(asOther), StringComparison.Ordinal);

        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "dashboard", scope = "read" });
        string readToken = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var reader = server.ClientWithToken(readToken);
        using var asReader = await PostAsync(reader, "d1/telemetry", """{"temp": 1}""");
        Assert.Equal(HttpStatusCode.Forbidden, asReader.StatusCode);

        using var anonymous = new HttpClient { BaseAddress = server.Address };
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostAsync(anonymous, "d1/telemetry", """{"temp": 1}""")).StatusCode);

        // A write token (here the admin token) sends for any device, registered or not, like an application over MQTT.
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(server.Client, "gateway-child-9/telemetry", """{"temp": 2}""")).StatusCode);
        Assert.Equal(0L, (await server.RowsAsync("SELECT count(*) FROM telemetry WHERE device <> 'gateway-child-9'"))[0][0].GetInt64());
    }

    [Fact]
    public async Task A_payload_that_does_not_decode_is_400_naming_why_and_kept_as_a_dead_letter()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("d1")).Token);

        using var response = await PostAsync(device, "d1/telemetry", """{"temp": [1, 2]}""");
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("invalid", body.GetProperty("code").GetString());
        Assert.Contains("temp", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.True(body.GetProperty("dead_letter").GetBoolean());
        var letters = await server.RowsAsync("SELECT device, topic, reason, payload FROM dead_letters");
        Assert.Equal("d1", letters[0][0].GetString());
        Assert.Equal("/api/v1/devices/d1/telemetry", letters[0][1].GetString());
        Assert.Equal(body.GetProperty("error").GetString(), letters[0][2].GetString());
        Assert.Equal("""{"temp": [1, 2]}""", letters[0][3].GetString());

        using var badLocation = await PostAsync(device, "d1/location", """{"lat": 95, "lon": 13}""");
        Assert.Equal(HttpStatusCode.BadRequest, badLocation.StatusCode);
        Assert.Contains("lat", await ErrorAsync(badLocation), StringComparison.Ordinal);
        using var badState = await PostAsync(device, "d1/state", "[1]");
        Assert.Equal(HttpStatusCode.BadRequest, badState.StatusCode);
        Assert.Equal(3L, (await server.RowsAsync("SELECT count(*) FROM dead_letters"))[0][0].GetInt64());
    }

    [Fact]
    public async Task A_measurement_outside_the_devices_allow_list_is_refused_with_the_list_named()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("d1", Measurements: ["telemetry"])).Token);

        using var refused = await PostAsync(device, "d1/telemetry/power", """{"watts": 5}""");

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("power", await ErrorAsync(refused), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "d1/telemetry", """{"temp": 1}""")).StatusCode);
    }

    [Fact]
    public async Task Points_the_store_refuses_make_a_partial_write_with_the_counts()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("d1")).Token);
        Assert.Equal(HttpStatusCode.NoContent, (await PostAsync(device, "d1/lp", "env t=1.5 1")).StatusCode);

        using var partial = await PostAsync(device, "d1/lp", "env t=2.5 2\nenv t=\"warm\" 3");
        var body = JsonDocument.Parse(await partial.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal(HttpStatusCode.BadRequest, partial.StatusCode);
        Assert.StartsWith("partial write", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal((1, 1), (body.GetProperty("written").GetInt32(), body.GetProperty("rejected").GetInt32()));
        Assert.Equal(2L, (await server.RowsAsync("SELECT count(*) FROM env"))[0][0].GetInt64());
    }

    [Fact]
    public async Task A_message_over_the_device_message_limit_is_413_naming_the_option_and_nothing_is_stored()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxMessageSize = 1024 });
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("d1")).Token);
        string big = "{\"note\": \"" + new string('x', 2000) + "\"}";

        using var declared = await PostAsync(device, "d1/telemetry", big);
        using var chunked = await device.PostAsync("/api/v1/devices/d1/telemetry", new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(big))));

        foreach (var response in new[] { declared, chunked })
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("--mqtt-max-message-size", await ErrorAsync(response), StringComparison.Ordinal);
        }

        Assert.Equal(0L, (await server.RowsAsync("SELECT count(*) FROM information_schema.tables WHERE table_name = 'telemetry'"))[0][0].GetInt64());
    }

    [Fact]
    public async Task An_invalid_device_id_or_a_compressed_body_is_refused_clearly()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var badId = await PostAsync(server.Client, "a%20b/telemetry", """{"temp": 1}""");
        Assert.Equal(HttpStatusCode.BadRequest, badId.StatusCode);
        Assert.Equal("id", JsonDocument.Parse(await badId.Content.ReadAsStringAsync()).RootElement.GetProperty("field").GetString());

        using var content = new StringContent("""{"temp": 1}""", Encoding.UTF8, "application/json");
        content.Headers.ContentEncoding.Add("gzip");
        using var compressed = await server.Client.PostAsync("/api/v1/devices/d1/telemetry", content);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, compressed.StatusCode);
    }

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string payload, string contentType = "application/json") =>
        client.PostAsync("/api/v1/devices/" + path, new StringContent(payload, Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType)));

    private static async Task<string> ErrorAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
}
