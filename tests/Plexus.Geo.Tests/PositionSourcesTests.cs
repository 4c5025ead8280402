using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Geo.Tests;

/// <summary>Measurements declared as position sources feed main.device_positions, tracks and stops (docs/geo.md#position-sources).</summary>
public sealed class PositionSourcesTests
{
    private const string Fleet = """{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude", "alt": "elevation"}""";

    [Fact]
    public async Task Declared_source_feeds_device_positions_tracks_and_stops_even_out_of_order_and_removing_it_removes_its_rows()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { DeviceTag = "device,fleet=name" });

        // Declared before the measurement exists: accepted, waiting, the view still answers.
        var declared = await SendAsync(server, HttpMethod.Post, "/api/v1/position-sources", Fleet, HttpStatusCode.Created);
        Assert.Equal("fleet.readings", declared.GetProperty("source").GetString());
        Assert.Equal("name", declared.GetProperty("device").GetString());
        Assert.True(declared.GetProperty("device_default").GetBoolean());
        Assert.False(declared.GetProperty("available").GetBoolean());
        Assert.Contains("does not exist yet", declared.GetProperty("reason").GetString());
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM device_positions"))[0][0].GetInt64());

        // truck_0 reports through fleet.readings (shuffled, with rows that carry no position); truck-1 through main.positions.
        var truck0 = Positions.Journey("truck_0", 48.85, 2.35, seed: 5);
        var truck1 = Positions.Journey("truck-1", 52.1, 4.3, seed: 1);
        var random = new Random(7);
        var early = truck0.Where(p => p.TimeNs < Positions.T0 + (1800 * Positions.Second)).OrderBy(_ => random.Next()).ToList();
        var late = truck0.Except(early).OrderBy(_ => random.Next()).ToList();
        await WriteOkAsync(server, Readings(early) + $"readings,name=truck_0 fuel=12.5 {Positions.T0 + 5}\n", "?bucket=fleet");
        await WriteOkAsync(server, Positions.LineProtocol(truck1));

        var listed = await GetJsonAsync(server, "/api/v1/position-sources");
        Assert.Equal("main.device_positions", listed.GetProperty("view").GetString());
        Assert.True(listed.GetProperty("sources")[0].GetProperty("available").GetBoolean());

        // Rows written after the view exists, late and out of order, are in it at once: it is a view, not a copy.
        await WriteOkAsync(server, Readings(late), "?bucket=fleet");
        var all = truck0.Concat(truck1).ToList();
        var counts = await server.RowsAsync("SELECT device, source, count(*), count(alt) FROM device_positions GROUP BY ALL ORDER BY device");
        Assert.Equal(["truck-1|main.positions|360|0", "truck_0|fleet.readings|360|360"], counts.Select(r => $"{r[0].GetString()}|{r[1].GetString()}|{r[2].GetInt64()}|{r[3].GetInt64()}"));
        var alt = await server.RowsAsync($"SELECT alt FROM device_positions WHERE device = 'truck_0' AND time = make_timestamp_ns({truck0[3].TimeNs})");
        Assert.Equal(Elevation(truck0[3].TimeNs), alt[0][0].GetDouble());

        // The track of a fleet truck, in time order, equal to what was written.
        var track = await GetJsonAsync(server, $"/api/v1/devices/truck_0/track?from={Positions.Rfc3339(Positions.T0)}&to={Positions.Rfc3339(Positions.T0 + (3600 * Positions.Second))}");
        var coordinates = track.GetProperty("geometry").GetProperty("coordinates").EnumerateArray().ToList();
        Assert.Equal(truck0.Count, coordinates.Count);
        for (int i = 0; i < truck0.Count; i++)
        {
            Assert.Equal(truck0[i].Lon, coordinates[i][0].GetDouble());
            Assert.Equal(truck0[i].Lat, coordinates[i][1].GetDouble());
        }

        Assert.Equal(Reference.TravelledM(truck0.Select(p => (p.TimeNs, p.Lat, p.Lon))), track.GetProperty("properties").GetProperty("distance_m").GetDouble(), 0.01);

        // Stops and distance with the default source cover both devices.
        var expected = Reference.Stops(all, 30, 5 * 60 * Positions.Second);
        var stops = await server.RowsAsync("SELECT device, epoch_ns(start_time), epoch_ns(end_time), positions FROM geo_stops(30, INTERVAL '5 minutes')");
        Assert.Equal(expected.Select(s => $"{s.Device} {s.StartNs} {s.EndNs} {s.Positions}"), stops.Select(r => $"{r[0].GetString()} {r[1].GetInt64()} {r[2].GetInt64()} {r[3].GetInt32()}"));
        Assert.Contains(stops, r => r[0].GetString() == "truck_0");
        var travelled = await server.RowsAsync("SELECT device, distance_m FROM geo_distance_travelled() WHERE device = 'truck_0'");
        Assert.Equal(Reference.TravelledM(truck0.Select(p => (p.TimeNs, p.Lat, p.Lon))), travelled[0][1].GetDouble(), 1e-6);

        // Removed: its rows leave the view, main.positions stays.
        using (var removed = await server.Client.DeleteAsync("/api/v1/position-sources/fleet.readings"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        var after = await server.RowsAsync("SELECT device, count(*) FROM device_positions GROUP BY ALL ORDER BY device");
        Assert.Equal(["truck-1|360"], after.Select(r => $"{r[0].GetString()}|{r[1].GetInt64()}"));
        using var gone = await server.Client.GetAsync($"/api/v1/devices/truck_0/track?from={Positions.Rfc3339(Positions.T0)}&to={Positions.Rfc3339(Positions.T0 + (3600 * Positions.Second))}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var again = await server.Client.DeleteAsync("/api/v1/position-sources/fleet.readings");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Sources_survive_a_restart_and_an_explicit_device_column_is_used()
    {
        using var directory = new TempDirectory("plexus-possrc");
        await using (var server = await PlexusTestServer.StartAsync(directory.Path))
        {
            await WriteOkAsync(server, "readings,truck=t9,name=ignored latitude=10.5,longitude=20.25 1000\n", "?bucket=fleet");
            var declared = await SendAsync(server, HttpMethod.Post, "/api/v1/position-sources", """{"namespace": "Fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude", "device": "truck"}""", HttpStatusCode.Created);
            Assert.True(declared.GetProperty("available").GetBoolean());
            Assert.False(declared.GetProperty("device_default").GetBoolean());
        }

        await using (var server = await PlexusTestServer.StartAsync(directory.Path))
        {
            var rows = await server.RowsAsync("SELECT device, lat, lon, epoch_ns(time), source FROM device_positions");
            Assert.Equal("t9|10.5|20.25|1000|fleet.readings", string.Join("|", rows[0].Select(v => v.ToString())));
            var one = await GetJsonAsync(server, "/api/v1/position-sources/fleet.readings");
            Assert.Equal("truck", one.GetProperty("device").GetString());
        }
    }

    [Fact]
    public async Task A_source_waiting_for_a_column_joins_the_view_with_the_write_that_brings_it()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { DeviceTag = "device,fleet=name" });
        await WriteOkAsync(server, "readings,name=a fuel=1 1000\n", "?bucket=fleet");
        var declared = await SendAsync(server, HttpMethod.Post, "/api/v1/position-sources", """{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude"}""", HttpStatusCode.Created);
        Assert.Equal("fleet.readings has no column \"latitude\", \"longitude\" yet", declared.GetProperty("reason").GetString());

        await WriteOkAsync(server, "readings,name=a fuel=2 2000\n", "?bucket=fleet");
        await WriteOkAsync(server, "readings,name=a latitude=1.5 3000\n", "?bucket=fleet");
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM device_positions"))[0][0].GetInt64());

        // No listing in between: the write itself regenerates the view before it is acknowledged.
        await WriteOkAsync(server, "readings,name=a longitude=2.5 4000\nreadings,name=b latitude=3.5,longitude=4.5 5000\n", "?bucket=fleet");
        var rows = await server.RowsAsync("SELECT device, lat, lon, epoch_ns(time) FROM device_positions ORDER BY time");
        Assert.Equal(["b|3.5|4.5|5000"], rows.Select(r => string.Join("|", r.Select(v => v.ToString()))));

        // main.positions without alt joins at once too, and alt when it first comes.
        await WriteOkAsync(server, "positions,device=c lat=1,lon=2 6000\n");
        await WriteOkAsync(server, "positions,device=c lat=1,lon=2,alt=30 7000\n");
        var c = await server.RowsAsync("SELECT epoch_ns(time), alt, source FROM device_positions WHERE device = 'c' ORDER BY time");
        Assert.Equal(["6000||main.positions", "7000|30|main.positions"], c.Select(r => string.Join("|", r.Select(v => v.ToString()))));
    }

    [Theory]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lon": "longitude"}""", "lat", "missing")]
    [InlineData("""{"namespace": "fleet/x", "measurement": "readings", "lat": "a", "lon": "b"}""", "namespace", "not a namespace")]
    [InlineData("""{"namespace": "fle et", "measurement": "readings", "lat": "a", "lon": "b"}""", "namespace", "letters, digits")]
    [InlineData("""{"measurement": "readings", "lat": "a", "lon": "b"}""", "namespace", "missing")]
    [InlineData("""{"namespace": "fleet", "measurement": "", "lat": "a", "lon": "b"}""", "measurement", "1–128 characters")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": 5, "lon": "b"}""", "lat", "must be a string")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": "a", "lon": "b", "latt": "c"}""", "latt", "unknown field")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": "a", "lon": "time"}""", "lon", "timestamp")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": "a", "lon": "b", "heading": "x\u0001"}""", "heading", "control character")]
    [InlineData("""{"namespace": "main", "measurement": "positions", "lat": "lat", "lon": "lon"}""", "measurement", "always part")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": "label", "lon": "longitude"}""", "lat", "VARCHAR")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude", "speed": "moving"}""", "speed", "BOOLEAN")]
    [InlineData("""{"namespace": "fleet", "measurement": "readings", "lat": "latitude", "lon": "longitude", "device": "latitude"}""", "device", "DOUBLE")]
    public async Task Bad_declarations_are_refused_naming_the_field(string body, string field, string reason)
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteOkAsync(server, "readings,name=a latitude=1.5,longitude=2.5,label=\"north\",moving=true 1000\n", "?bucket=fleet");
        var error = await SendAsync(server, HttpMethod.Post, "/api/v1/position-sources", body, HttpStatusCode.BadRequest);
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(reason, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Empty((await GetJsonAsync(server, "/api/v1/position-sources")).GetProperty("sources").EnumerateArray());
    }

    [Fact]
    public async Task Listing_needs_a_token_and_changing_needs_admin()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var refused = await anonymous.GetAsync("/api/v1/position-sources");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        string reader = server.Server.ApiTokens.Create("viewer", Api.Auth.ApiScope.Read).Token;
        using var client = new HttpClient { BaseAddress = server.Address };
        client.DefaultRequestHeaders.Authorization = new("Token", reader);
        using (var list = await client.GetAsync("/api/v1/position-sources"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        using var add = await client.PostAsync("/api/v1/position-sources", new StringContent(Fleet, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Forbidden, add.StatusCode);
    }

    [Fact]
    public async Task Device_positions_is_a_reserved_name_in_main()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var response = await server.WriteAsync("device_positions,device=x lat=1,lon=2 1\n");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("reserved", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static double Elevation(long timeNs) => 100 + ((timeNs / Positions.Second) % 50);

    private static string Readings(IEnumerable<(string Device, long TimeNs, double Lat, double Lon)> points)
    {
        var text = new StringBuilder();
        foreach (var (device, time, lat, lon) in points)
        {
            text.Append(CultureInfo.InvariantCulture, $"readings,name={device},fleet=East latitude={lat:R},longitude={lon:R},elevation={Elevation(time):R} {time}\n");
        }

        return text.ToString();
    }

    private static async Task WriteOkAsync(PlexusTestServer server, string lines, string query = "")
    {
        using var response = await server.WriteAsync(lines, query);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<JsonElement> SendAsync(PlexusTestServer server, HttpMethod method, string path, string body, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await server.Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static async Task<JsonElement> GetJsonAsync(PlexusTestServer server, string path)
    {
        using var response = await server.Client.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
