using System.Net;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using Plexus.TestKit;
using static Plexus.TestKit.DeviceTestClients;

namespace Plexus.Devices.Tests;

/// <summary>Location, reported state, dead letters and the live state, end to end with real MQTT clients.</summary>
public sealed class DeviceDataTests
{
    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Location_is_stored_in_positions_once_acknowledged(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("truck-7")).Token;
        using var device = await ConnectAsync(server, "truck-7", token, version);

        var one = await PublishAsync(device, "devices/truck-7/location", """{"lat": 52.52, "lon": 13.405, "alt": 34.5, "speed": 12.5, "heading": 270, "accuracy": 5, "ts": "2026-01-02T03:04:05Z"}""");
        var many = await PublishAsync(device, "devices/truck-7/location", """[{"lat": -33.86, "lon": 151.2, "ts": 1767323046000}, {"lat": 0, "lon": -180, "ts": 1767323047000}]""");

        Assert.True(one.IsSuccess, one.ReasonString);
        Assert.True(many.IsSuccess, many.ReasonString);

        // Queried at once: the PUBACK came after the commit.
        var rows = await server.RowsAsync("SELECT strftime(time, '%Y-%m-%dT%H:%M:%S'), device, lat, lon, alt, speed, heading, accuracy FROM main.positions ORDER BY time");
        Assert.Equal(3, rows.Count);
        Assert.Equal(["2026-01-02T03:04:05", "truck-7"], rows[0].Take(2).Select(v => v.GetString()));
        Assert.Equal([52.52, 13.405, 34.5, 12.5, 270, 5], rows[0].Skip(2).Select(v => v.GetDouble()));
        Assert.Equal(-33.86, rows[1][2].GetDouble());
        Assert.Equal(JsonValueKind.Null, rows[1][4].ValueKind);
        Assert.Equal(-180, rows[2][3].GetDouble());

        var types = await server.RowsAsync("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'positions' ORDER BY column_name");
        var numeric = types.Where(t => t[0].GetString() is "lat" or "lon" or "alt" or "speed" or "heading" or "accuracy").ToList();
        Assert.Equal(6, numeric.Count);
        Assert.All(numeric, t => Assert.Equal("DOUBLE", t[1].GetString()));

        // The newest by position time.
        var live = server.Server.DeviceState.Get("truck-7")!;
        Assert.Equal((0, -180), (live.Position!.Lat, live.Position.Lon));
    }

    [Theory]
    [InlineData("""{"lat": 95, "lon": 13}""", "$.lat: 95 is outside [-90, 90]")]
    [InlineData("""{"lat": 52, "lon": -181}""", "$.lon: -181 is outside [-180, 180]")]
    [InlineData("""{"lat": "52", "lon": 13}""", "$.lat: must be a number, not a string")]
    [InlineData("""{"lat": 52}""", "lon is required")]
    [InlineData("""{"lat": 52, "lon": 13, "speed": true}""", "$.speed: must be a number, not a boolean")]
    [InlineData("""[{"lat": 1, "lon": 2}, {"lat": 1, "lon": 2, "colour": 3}]""", "$[1]: unknown field \"colour\"")]
    [InlineData("""{"lat": 1, "lon": 2, "ts": "2026-01-02T03:04:05"}""", "$.ts: an ISO 8601 time needs Z or an offset")]
    [InlineData("""{"lat": 1, "lon":""", "invalid JSON")]
    public async Task Bad_location_is_a_dead_letter_and_stores_no_position(string payload, string reason)
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token);

        var result = await PublishAsync(device, "devices/d1/location", payload);

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, result.ReasonCode);
        Assert.Contains(reason, result.ReasonString, StringComparison.Ordinal);
        Assert.True(device.IsConnected);
        var dead = Assert.Single(await server.RowsAsync("SELECT device, topic, reason, payload, content_type FROM main.dead_letters"));
        Assert.Equal(["d1", "devices/d1/location"], dead.Take(2).Select(v => v.GetString()));
        Assert.Contains(reason, dead[2].GetString(), StringComparison.Ordinal);
        Assert.Equal(payload, dead[3].GetString());
        Assert.Equal(string.Empty, dead[4].GetString());
        Assert.Empty(await server.RowsAsync("SELECT * FROM information_schema.tables WHERE table_name = 'positions'"));
    }

    [Fact]
    public async Task Dead_letters_count_per_device_and_keep_a_truncated_payload_for_every_bad_device_message()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string t1 = server.Server.Devices.Add(new NewDevice("d1")).Token;
        string t2 = server.Server.Devices.Add(new NewDevice("d2")).Token;
        using var d1 = await ConnectAsync(server, "d1", t1);
        using var d2 = await ConnectAsync(server, "d2", t2, MqttProtocolVersion.V311);

        string big = "{\"temp\": [" + new string('1', 3000) + "]}";
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, (await PublishAsync(d1, "devices/d1/telemetry", big)).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, (await PublishAsync(d1, "devices/d1/state", "[1, 2]")).ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, (await PublishAsync(d1, "devices/d1/senml", "not senml", "application/senml+json")).ReasonCode);

        // MQTT 3.1.1 has no reason codes: acknowledged, not stored, but kept as a dead letter.
        await PublishAsync(d2, "devices/d2/lp", "cpu usage=");
        Assert.True((await PublishAsync(d1, "devices/d1/telemetry", """{"temp": 1}""")).IsSuccess);
        Assert.True(d1.IsConnected && d2.IsConnected);

        var rows = await server.RowsAsync("SELECT device, topic, length(payload), content_type FROM dead_letters ORDER BY time");
        Assert.Equal(["d1", "d1", "d1", "d2"], rows.Select(r => r[0].GetString()));
        Assert.Equal(DeviceLiveState.MaxDeadLetterPayloadBytes + 1, rows[0][2].GetInt32()); // 1 KiB and the ellipsis
        Assert.Equal("application/senml+json", rows[2][3].GetString());
        Assert.Equal("devices/d2/lp", rows[3][1].GetString());
        Assert.Single(await server.RowsAsync("SELECT * FROM telemetry"));

        using var stats = await server.Client.GetAsync("/api/v1/dead-letters");
        var body = JsonDocument.Parse(await stats.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(4, body.GetProperty("total").GetInt64());
        Assert.Equal("d1", body.GetProperty("devices")[0].GetProperty("device").GetString());
        Assert.Equal(3, body.GetProperty("devices")[0].GetProperty("dead_letters").GetInt64());
        Assert.Equal(1, (await GetDeviceAsync(server, "d2")).GetProperty("dead_letters").GetInt64());
    }

    [Fact]
    public async Task State_history_and_dead_letters_answer_with_their_columns_and_no_rows_before_any_device_sent_one()
    {
        using var data = new TempDirectory();
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            await AssertEmptyAsync(server, "dead_letters", "time", "device", "topic", "reason", "payload", "content_type");
            await AssertEmptyAsync(server, "state_history", "time", "device", "property", "value", "value_num", "reason");

            // The first dead letter makes the measurement, which takes the empty view's place.
            string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
            using var device = await ConnectAsync(server, "d1", token);
            Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, (await PublishAsync(device, "devices/d1/state", "[1, 2]")).ReasonCode);
            Assert.Equal(["d1", "devices/d1/state"], Assert.Single(await server.RowsAsync("SELECT device, topic FROM dead_letters")).Select(v => v.GetString()));
        }

        // A restart keeps the rows and leaves the measurement's view as it is.
        await using var restarted = await PlexusTestServer.StartAsync(data.Path);
        Assert.Single(await restarted.RowsAsync("SELECT device FROM dead_letters"));
        Assert.Equal(1, restarted.Server.DeviceState.DeadLettersTotal);

        static async Task AssertEmptyAsync(PlexusTestServer server, string measurement, params string[] columns)
        {
            var answer = await server.SqlAsync($"SELECT * FROM {measurement}");
            Assert.Equal(columns, answer.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
            Assert.Empty(answer.GetProperty("rows").EnumerateArray());
        }
    }

    [Fact]
    public async Task State_keeps_only_changes_in_history_and_merges_into_the_live_state()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var device = await ConnectAsync(server, "d1", token);

        Assert.True((await PublishAsync(device, "devices/d1/state", """{"firmware": "1.0.0", "battery": 80, "charging": false, "net": {"rssi": -70, "type": "lte"}}""")).IsSuccess);
        Assert.True((await PublishAsync(device, "devices/d1/state", """{"firmware": "1.0.0", "battery": 80.0, "charging": true}""")).IsSuccess);
        Assert.True((await PublishAsync(device, "devices/d1/state", """{"battery": 75, "mode": "eco"}""")).IsSuccess);

        var rows = await server.RowsAsync("SELECT property, value, value_num FROM state_history WHERE device = 'd1' AND property <> 'online' ORDER BY time, property");
        Assert.Equal(
            ["battery=80", "charging=false", "firmware=1.0.0", "net_rssi=-70", "net_type=lte", "charging=true", "battery=75", "mode=eco"],
            rows.Select(r => $"{r[0].GetString()}={r[1].GetString()}"));
        Assert.Equal(80, rows[0][2].GetDouble());
        Assert.Equal(0, rows[1][2].GetDouble());
        Assert.Equal(JsonValueKind.Null, rows[2][2].ValueKind);

        var properties = (await GetDeviceAsync(server, "d1")).GetProperty("properties");
        Assert.Equal(75, properties.GetProperty("battery").GetProperty("value").GetDouble());
        Assert.True(properties.GetProperty("charging").GetProperty("value").GetBoolean());
        Assert.Equal("lte", properties.GetProperty("net_type").GetProperty("value").GetString());
        Assert.False(properties.TryGetProperty("online", out _));
    }

    [Theory]
    [InlineData("""{"online": true}""", "\"online\" is set by the broker")]
    [InlineData("""{}""", "reports no properties")]
    [InlineData("""{"a": 1, "ts": "yesterday"}""", "$.ts:")]
    public async Task Bad_state_is_a_dead_letter(string payload, string reason)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken);

        var result = await PublishAsync(app, "devices/d9/state", payload);

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, result.ReasonCode);
        Assert.Contains(reason, result.ReasonString, StringComparison.Ordinal);
        Assert.Single(await server.RowsAsync("SELECT * FROM dead_letters WHERE device = 'd9'"));
    }

    [Fact]
    public async Task Clean_disconnect_is_recorded_and_applications_are_not()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using (var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken))
        {
            await app.DisconnectAsync();
        }

        using var device = await ConnectAsync(server, "d1", token);
        await Eventually.TrueAsync(() => server.Server.DeviceState.Get("d1")?.Online == true);
        Assert.Equal([("true", "connect")], await OnlineRowsAsync(server, "d1"));
        var json = await GetDeviceAsync(server, "d1");
        Assert.True(json.GetProperty("online").GetBoolean());
        Assert.NotEqual(JsonValueKind.Null, json.GetProperty("last_seen").ValueKind);

        await device.DisconnectAsync();

        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "d1")).Count == 2);
        Assert.Equal([("true", "connect"), ("false", "disconnect")], await OnlineRowsAsync(server, "d1"));
        Assert.False(server.Server.DeviceState.Get("d1")!.Online);
        Assert.Empty(await server.RowsAsync("SELECT * FROM state_history WHERE device <> 'd1'"));
    }

    [Fact]
    public async Task Keepalive_timeout_is_recorded()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;

        // Keep-alive 1 s and then silence: the broker gives up after 1.5 s.
        using var socket = await RawConnectAsync(server, "quiet-1", "d1", token, keepAliveSeconds: 1);

        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "d1")).Count == 2, TimeSpan.FromSeconds(20), "the keep-alive timeout was recorded");
        Assert.Equal([("true", "connect"), ("false", "keepalive-timeout")], await OnlineRowsAsync(server, "d1"));
    }

    [Fact]
    public async Task Dropped_connection_with_a_will_is_recorded_as_will_and_without_as_error()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string t1 = server.Server.Devices.Add(new NewDevice("d1")).Token;
        string t2 = server.Server.Devices.Add(new NewDevice("d2")).Token;
        using var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken);
        var wills = new List<string>();
        app.ApplicationMessageReceivedAsync += e =>
        {
            lock (wills)
            {
                wills.Add(e.ApplicationMessage.Topic);
            }

            return Task.CompletedTask;
        };
        await app.SubscribeAsync("devices/+/status");

        using (var withWill = await RawConnectAsync(server, "will-1", "d1", t1, keepAliveSeconds: 60, will: ("devices/d1/status", "gone")))
        using (var without = await RawConnectAsync(server, "plain-1", "d2", t2, keepAliveSeconds: 60))
        {
            await Eventually.TrueAsync(() => server.Server.DeviceState.Get("d1")?.Online == true && server.Server.DeviceState.Get("d2")?.Online == true);
            withWill.Close();
            without.Close();
        }

        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "d1")).Count == 2 && (await OnlineRowsAsync(server, "d2")).Count == 2);
        Assert.Equal(("false", "will"), (await OnlineRowsAsync(server, "d1"))[1]);
        Assert.Equal(("false", "error"), (await OnlineRowsAsync(server, "d2"))[1]);
        await Eventually.TrueAsync(() =>
        {
            lock (wills)
            {
                return wills.Contains("devices/d1/status");
            }
        });
    }

    [Fact]
    public async Task Takeover_is_recorded_and_the_device_stays_online()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        using var first = await ConnectAsync(server, "d1", token, clientId: "d1-main");
        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "d1")).Count == 1);

        using var second = await ConnectAsync(server, "d1", token, clientId: "d1-main");

        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "d1")).Count == 3);
        var rows = await OnlineRowsAsync(server, "d1");
        Assert.Contains(("true", "connect"), rows.Skip(1));
        Assert.Contains(rows.Skip(1), r => r.Reason == "takeover");
        Assert.Equal("true", rows[^1].Value);
        Assert.True(server.Server.DeviceState.Get("d1")!.Online);
        Assert.True(second.IsConnected);
    }

    [Fact]
    public async Task Server_stop_and_restart_mark_devices_offline()
    {
        using var data = new TempDirectory();
        string token;
        var first = await PlexusTestServer.StartAsync(data.Path);
        token = first.Server.Devices.Add(new NewDevice("d1")).Token;
        using (var device = await ConnectAsync(first, "d1", token))
        {
            Assert.True((await PublishAsync(device, "devices/d1/state", """{"firmware": "2.0"}""")).IsSuccess);
            await Eventually.TrueAsync(async () => (await OnlineRowsAsync(first, "d1")).Count == 1);

            // Stopped while the device is still connected.
            await first.DisposeAsync();
        }

        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            var rows = await OnlineRowsAsync(server, "d1");
            Assert.Equal(("true", "connect"), rows[0]);
            Assert.Equal("false", rows[^1].Value);
            Assert.Equal("server-stop", rows[^1].Reason);
            var live = server.Server.DeviceState.Get("d1")!;
            Assert.False(live.Online);
            Assert.Equal("2.0", live.Properties["firmware"].Value);
        }
    }

    [Fact]
    public async Task Restart_after_a_run_that_left_a_device_online_records_server_restart()
    {
        using var data = new TempDirectory();

        // The history a run leaves when it ends without recording the disconnect, as a crash would.
        long t0 = 1_767_323_000_000_000_000;
        var history = new PointBuilder()
            .Point("state_history", t0, [("device", "d1"), ("property", "online")], ("value", "true"), ("value_num", 1.0), ("reason", "connect"))
            .Point("state_history", t0 + 1, [("device", "d1"), ("property", "mode")], ("value", "eco"));
        var store = Plexus.Storage.PlexusStore.Open(new Plexus.Storage.StorageOptions { DataDirectory = data.Path });
        Assert.Equal(2, (await store.Writer.WriteAsync("main", history.Batch)).PointsWritten);
        await store.DisposeAsync();

        await using var server = await PlexusTestServer.StartAsync(data.Path);
        Assert.Equal([("true", "connect"), ("false", "server-restart")], await OnlineRowsAsync(server, "d1"));
        var live = server.Server.DeviceState.Get("d1")!;
        Assert.False(live.Online);
        Assert.Equal("server-restart", live.LastConnectivityReason);
        Assert.Equal("eco", live.Properties["mode"].Value);
    }

    [Fact]
    public async Task Device_page_shows_the_last_value_of_every_field_by_time_also_for_late_data_and_after_restart()
    {
        using var data = new TempDirectory();
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            string token = server.Server.Devices.Add(new NewDevice("truck-7", Name: "Truck 7")).Token;
            using var device = await ConnectAsync(server, "truck-7", token);
            Assert.True((await PublishAsync(device, "devices/truck-7/telemetry", """{"temp": 2.5, "ts": 1767323000000}""")).IsSuccess);

            // Late: older than what is there; temp stays 2.5, hum appears with its own time.
            Assert.True((await PublishAsync(device, "devices/truck-7/telemetry", """{"temp": 1.5, "hum": 40, "ts": 1767322000000}""")).IsSuccess);
            Assert.True((await PublishAsync(device, "devices/truck-7/telemetry/engine", """{"rpm": 1800, "ok": true, "ts": 1767323000000}""")).IsSuccess);

            // Last reported days before the device's newest point: beyond the recent rows read first.
            Assert.True((await PublishAsync(device, "devices/truck-7/telemetry", """{"pressure": 3.25, "ts": 1767000000000}""")).IsSuccess);
            Assert.True((await PublishAsync(device, "devices/truck-7/location", """{"lat": 48.1, "lon": 11.6, "ts": 1767323000000}""")).IsSuccess);
            Assert.True((await PublishAsync(device, "devices/truck-7/location", """{"lat": 40.0, "lon": 10.0, "ts": 1767000000000}""")).IsSuccess);
            Assert.True((await PublishAsync(device, "devices/truck-7/state", """{"firmware": "3.1"}""")).IsSuccess);
            Assert.Equal(HttpStatusCode.NoContent, (await server.WriteAsync("telemetry,device=other temp=99 1767324000000000000")).StatusCode);

            AssertPage(await GetDeviceAsync(server, "truck-7"), online: true);
        }

        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            AssertPage(await GetDeviceAsync(server, "truck-7"), online: false);
        }

        static void AssertPage(JsonElement page, bool online)
        {
            Assert.Equal("Truck 7", page.GetProperty("name").GetString());
            Assert.Equal(online, page.GetProperty("online").GetBoolean());
            var telemetry = page.GetProperty("last_values").GetProperty("telemetry");
            Assert.Equal(2.5, telemetry.GetProperty("temp").GetProperty("value").GetDouble());
            Assert.Equal("2026-01-02T03:03:20Z", telemetry.GetProperty("temp").GetProperty("time").GetString());
            Assert.Equal(40, telemetry.GetProperty("hum").GetProperty("value").GetDouble());
            Assert.Equal("2026-01-02T02:46:40Z", telemetry.GetProperty("hum").GetProperty("time").GetString());
            Assert.Equal(3.25, telemetry.GetProperty("pressure").GetProperty("value").GetDouble());
            Assert.Equal("2025-12-29T09:20:00Z", telemetry.GetProperty("pressure").GetProperty("time").GetString());
            var engine = page.GetProperty("last_values").GetProperty("engine");
            Assert.Equal(1800, engine.GetProperty("rpm").GetProperty("value").GetDouble());
            Assert.True(engine.GetProperty("ok").GetProperty("value").GetBoolean());
            Assert.Equal(48.1, page.GetProperty("position").GetProperty("lat").GetDouble());
            Assert.Equal("2026-01-02T03:03:20Z", page.GetProperty("position").GetProperty("time").GetString());
            Assert.Equal(48.1, page.GetProperty("last_values").GetProperty("positions").GetProperty("lat").GetProperty("value").GetDouble());
            Assert.Equal("3.1", page.GetProperty("properties").GetProperty("firmware").GetProperty("value").GetString());
            Assert.NotEqual(JsonValueKind.Null, page.GetProperty("last_seen").ValueKind);
            Assert.False(page.GetProperty("last_values").TryGetProperty("state_history", out _));
        }
    }

    [Fact]
    public async Task Device_state_view_has_a_row_per_registered_or_seen_device()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("d1")).Token;
        server.Server.Devices.Add(new NewDevice("never-seen"));
        using var device = await ConnectAsync(server, "d1", token);
        using var app = await ConnectAsync(server, "app", PlexusTestServer.AdminToken);
        Assert.True((await PublishAsync(device, "devices/d1/state", """{"firmware": "1.2", "battery": 90}""")).IsSuccess);
        Assert.True((await PublishAsync(device, "devices/d1/location", """{"lat": 1.5, "lon": 2.5}""")).IsSuccess);
        Assert.True((await PublishAsync(app, "devices/unregistered/telemetry", """{"v": 1}""")).IsSuccess);

        server.Server.DeviceState.Flush();

        var rows = await server.RowsAsync("SELECT device, online, last_seen IS NOT NULL, properties['firmware'], properties['battery'], lat, lon, position_time IS NOT NULL FROM device_state ORDER BY device");
        Assert.Equal(["d1", "never-seen", "unregistered"], rows.Select(r => r[0].GetString()));
        Assert.True(rows[0][1].GetBoolean());
        Assert.True(rows[0][2].GetBoolean());
        Assert.Equal("1.2", rows[0][3].GetString());
        Assert.Equal("90", rows[0][4].GetString());
        Assert.Equal(1.5, rows[0][5].GetDouble());
        Assert.True(rows[0][7].GetBoolean());
        Assert.False(rows[1][1].GetBoolean());
        Assert.False(rows[1][2].GetBoolean());
        Assert.False(rows[2][1].GetBoolean());
        Assert.True(rows[2][2].GetBoolean());
    }

    [Fact]
    public async Task Reserved_device_data_names_are_refused_for_http_writes_but_positions_are_open()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.WriteAsync("state_history,device=d1,property=online value=\"true\"\ndead_letters,device=d1 reason=\"x\"\nDevice_State,device=d1 x=1\npositions,device=d1 lat=1.5,lon=2.5");

        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var reasons = body.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("reason").GetString()).ToList();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(1, body.GetProperty("written").GetInt32());
        Assert.Contains(reasons, r => r!.StartsWith("measurement \"state_history\" in namespace \"main\" is reserved", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r!.StartsWith("measurement \"dead_letters\" in namespace \"main\" is reserved", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r!.StartsWith("measurement \"device_state\" in namespace \"main\" is reserved", StringComparison.Ordinal));
        Assert.Single(await server.RowsAsync("SELECT * FROM positions"));
        Assert.Empty(await server.RowsAsync("SELECT device FROM state_history"));
        Assert.Empty(await server.RowsAsync("SELECT device FROM dead_letters"));
    }

    [Fact]
    public async Task Mosquitto_pub_sends_location_and_state_with_a_device_token()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string token = server.Server.Devices.Add(new NewDevice("sensor-1")).Token;

        var location = await MosquittoPubAsync(server, "sensor-1", token, "devices/sensor-1/location", """{"lat": 47.37, "lon": 8.54}""");
        var state = await MosquittoPubAsync(server, "sensor-1", token, "devices/sensor-1/state", """{"firmware": "0.9", "power": {"battery": 55}}""");

        Assert.True(location.ExitCode == 0, location.Error);
        Assert.True(state.ExitCode == 0, state.Error);
        Assert.Equal(47.37, (await server.RowsAsync("SELECT lat FROM positions WHERE device = 'sensor-1'"))[0][0].GetDouble());
        var battery = await server.RowsAsync("SELECT property, value_num FROM state_history WHERE device = 'sensor-1' AND property = 'power_battery'");
        Assert.Equal(55, Assert.Single(battery)[1].GetDouble());

        // mosquitto_pub connected and disconnected cleanly, as a device.
        await Eventually.TrueAsync(async () => (await OnlineRowsAsync(server, "sensor-1")).Count == 4);
        // The first run's disconnect may be handled after the second run's connect: compare reasons, not order.
        var rows = await OnlineRowsAsync(server, "sensor-1");
        Assert.Equal(["connect", "connect", "disconnect", "disconnect"], rows.Select(r => r.Reason).Order());
        Assert.Equal(("false", "disconnect"), rows[^1]);
    }
}
