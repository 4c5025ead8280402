using System.Net;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Geo.Tests;

/// <summary>Tracks, distance travelled and stops through the real server, with positions written late and out of order.</summary>
public sealed class TrackAndStopsTests
{
    [Fact]
    public async Task Track_is_in_time_order_with_exact_times_even_when_positions_arrive_out_of_order()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var journey = Positions.Journey("truck-1", 52.1, 4.3, seed: 1);
        await WriteShuffledAsync(server, journey, seed: 2);

        using var response = await server.Client.GetAsync($"/api/v1/devices/truck-1/track?from={Positions.Rfc3339(Positions.T0)}&to={Positions.Rfc3339(Positions.T0 + (3600 * Positions.Second))}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/geo+json", response.Content.Headers.ContentType!.MediaType);
        var feature = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal("Feature", feature.GetProperty("type").GetString());
        Assert.Equal("LineString", feature.GetProperty("geometry").GetProperty("type").GetString());
        var coordinates = feature.GetProperty("geometry").GetProperty("coordinates").EnumerateArray().ToList();
        var times = feature.GetProperty("properties").GetProperty("times").EnumerateArray().Select(t => t.GetString()).ToList();
        Assert.Equal(journey.Count, coordinates.Count);
        Assert.Equal(journey.Count, times.Count);
        for (int i = 0; i < journey.Count; i++)
        {
            Assert.Equal(journey[i].Lon, coordinates[i][0].GetDouble());
            Assert.Equal(journey[i].Lat, coordinates[i][1].GetDouble());
        }

        Assert.Equal("2026-01-05T06:00:00.000000000Z", times[0]);
        Assert.Equal("2026-01-05T06:59:50.000000000Z", times[^1]);
        Assert.False(feature.GetProperty("properties").GetProperty("truncated").GetBoolean());
        double expected = Reference.TravelledM(journey.Select(p => (p.TimeNs, p.Lat, p.Lon)));
        Assert.Equal(expected, feature.GetProperty("properties").GetProperty("distance_m").GetDouble(), 0.01);
    }

    [Fact]
    public async Task Track_limits_ranges_and_errors()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var journey = Positions.Journey("truck-1", 52.1, 4.3, seed: 1);
        await WriteShuffledAsync(server, journey, seed: 3);
        string from = Positions.Rfc3339(Positions.T0 + (60 * Positions.Second));
        string to = Positions.Rfc3339(Positions.T0 + (120 * Positions.Second));

        // [from, to): six fixes, 06:01:00 to 06:01:50; limit 4 keeps the oldest four.
        var limited = await GetJsonAsync(server, $"/api/v1/devices/truck-1/track?from={from}&to={to}&limit=4");
        Assert.Equal(4, limited.GetProperty("properties").GetProperty("count").GetInt32());
        Assert.True(limited.GetProperty("properties").GetProperty("truncated").GetBoolean());
        Assert.Equal("2026-01-05T06:01:00.000000000Z", limited.GetProperty("properties").GetProperty("times")[0].GetString());
        var all = await GetJsonAsync(server, $"/api/v1/devices/truck-1/track?from={from}&to={to}");
        Assert.Equal(6, all.GetProperty("properties").GetProperty("count").GetInt32());

        var single = await GetJsonAsync(server, $"/api/v1/devices/truck-1/track?from={from}&to={Positions.Rfc3339(Positions.T0 + (61 * Positions.Second))}");
        Assert.Equal("Point", single.GetProperty("geometry").GetProperty("type").GetString());

        using var unknown = await server.Client.GetAsync($"/api/v1/devices/nobody/track?from={from}&to={to}");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("no positions of device \\\"nobody\\\"", await unknown.Content.ReadAsStringAsync());

        using var badTime = await server.Client.GetAsync("/api/v1/devices/truck-1/track?from=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, badTime.StatusCode);
        Assert.Contains("from", await badTime.Content.ReadAsStringAsync());

        using var badLimit = await server.Client.GetAsync($"/api/v1/devices/truck-1/track?from={from}&to={to}&limit=1000001");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);

        using var reversed = await server.Client.GetAsync($"/api/v1/devices/truck-1/track?from={to}&to={from}");
        Assert.Equal(HttpStatusCode.BadRequest, reversed.StatusCode);

        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var refused = await anonymous.GetAsync($"/api/v1/devices/truck-1/track?from={from}&to={to}");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task Track_with_max_points_is_thinned_over_the_whole_range_keeping_the_first_and_last_position()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var journey = Positions.Journey("truck-1", 52.1, 4.3, seed: 1);
        await WriteShuffledAsync(server, journey, seed: 4);
        string from = Positions.Rfc3339(Positions.T0);
        string to = Positions.Rfc3339(Positions.T0 + (3600 * Positions.Second));

        var thinned = await GetJsonAsync(server, $"/api/v1/devices/truck-1/track?from={from}&to={to}&max_points=50");
        var properties = thinned.GetProperty("properties");
        var times = properties.GetProperty("times").EnumerateArray().Select(t => t.GetString()!).ToList();
        Assert.InRange(times.Count, 40, 50);
        Assert.Equal(times.Count, thinned.GetProperty("geometry").GetProperty("coordinates").GetArrayLength());
        Assert.True(properties.GetProperty("thinned").GetBoolean());
        Assert.False(properties.GetProperty("truncated").GetBoolean());
        Assert.Equal("2026-01-05T06:00:00.000000000Z", times[0]);
        Assert.Equal("2026-01-05T06:59:50.000000000Z", times[^1]);
        Assert.Equal(times.Order(StringComparer.Ordinal), times);

        // A range that fits is returned whole, and not called thinned.
        var whole = await GetJsonAsync(server, $"/api/v1/devices/truck-1/track?from={from}&to={to}&max_points={journey.Count}");
        Assert.Equal(journey.Count, whole.GetProperty("properties").GetProperty("count").GetInt32());
        Assert.False(whole.GetProperty("properties").GetProperty("thinned").GetBoolean());

        using var one = await server.Client.GetAsync($"/api/v1/devices/truck-1/track?from={from}&to={to}&max_points=1");
        Assert.Equal(HttpStatusCode.BadRequest, one.StatusCode);
        Assert.Contains("max_points", await one.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Track_of_a_server_without_positions_is_not_found()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var response = await server.Client.GetAsync("/api/v1/devices/truck-1/track");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Stops_and_distance_travelled_match_the_reference_when_positions_arrive_late()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var positions = Positions.Journey("truck-1", 52.1, 4.3, seed: 1);
        positions.AddRange(Positions.Journey("truck-2", -33.9, 151.2, seed: 9));

        // First the early half of each journey, then (late) the rest shuffled, with a few repeated.
        var random = new Random(4);
        var early = positions.Where(p => p.TimeNs < Positions.T0 + (1800 * Positions.Second)).ToList();
        var late = positions.Except(early).OrderBy(_ => random.Next()).ToList();
        Assert.True((await server.WriteAsync(Positions.LineProtocol(early))).IsSuccessStatusCode);
        var before = await server.RowsAsync("SELECT device, count(*) FROM geo_stops(30, INTERVAL '5 minutes') GROUP BY device ORDER BY device");
        Assert.Equal(2, before.Count);
        Assert.True((await server.WriteAsync(Positions.LineProtocol(late))).IsSuccessStatusCode);
        Assert.True((await server.WriteAsync(Positions.LineProtocol(late.Take(20)))).IsSuccessStatusCode);

        var expected = Reference.Stops(positions, 30, 5 * 60 * Positions.Second);
        Assert.Equal(4, expected.Count); // A and C for each truck; B (3 min) is too short
        var rows = await server.RowsAsync("SELECT device, epoch_ns(start_time), epoch_ns(end_time), positions, epoch(duration), spread_m FROM geo_stops(30, INTERVAL '5 minutes')");
        Assert.Equal(expected.Count, rows.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Device, rows[i][0].GetString());
            Assert.Equal(expected[i].StartNs, rows[i][1].GetInt64());
            Assert.Equal(expected[i].EndNs, rows[i][2].GetInt64());
            Assert.Equal(expected[i].Positions, rows[i][3].GetInt32());
            Assert.Equal((expected[i].EndNs - expected[i].StartNs) / 1e9, rows[i][4].GetDouble(), 1e-6);
            Assert.InRange(rows[i][5].GetDouble(), 0, 5);
        }

        // A shorter minimum also finds B; a radius below the driving step still separates the stops.
        var shorter = await server.RowsAsync("SELECT count(*) FROM geo_stops(30, INTERVAL '2 minutes')");
        Assert.Equal(Reference.Stops(positions, 30, 2 * 60 * Positions.Second).Count, shorter[0][0].GetInt32());
        Assert.Equal(6, shorter[0][0].GetInt32());

        var travelled = await server.RowsAsync("SELECT device, positions, distance_m FROM geo_distance_travelled()");
        Assert.Equal(positions.Select(p => p.Device).Distinct().Count(), travelled.Count);
        foreach (var row in travelled)
        {
            var own = positions.Where(p => p.Device == row[0].GetString()).Select(p => (p.TimeNs, p.Lat, p.Lon)).ToList();
            Assert.Equal(own.Count, row[1].GetInt32());
            Assert.Equal(Reference.TravelledM(own), row[2].GetDouble(), 1e-6);
        }

        // A time range: only the first 10 minutes, when both trucks were parked (jitter only).
        string to = Positions.Rfc3339(Positions.T0 + (600 * Positions.Second)).Replace("T", " ", StringComparison.Ordinal).TrimEnd('Z');
        var parked = await server.RowsAsync($"SELECT device, positions, distance_m FROM geo_distance_travelled(to_time := TIMESTAMP '{to}') WHERE device = 'truck-1'");
        var first = positions.Where(p => p.Device == "truck-1" && p.TimeNs < Positions.T0 + (600 * Positions.Second)).Select(p => (p.TimeNs, p.Lat, p.Lon)).ToList();
        Assert.Equal(60, parked[0][1].GetInt32());
        Assert.Equal(Reference.TravelledM(first), parked[0][2].GetDouble(), 1e-6);

        // The table macros also work with a default namespace (a request with "db").
        Assert.True((await server.WriteAsync("other,device=x v=1 1", "?bucket=fleet")).IsSuccessStatusCode);
        var inFleet = await server.RowsAsync("SELECT count(*) FROM geo_stops(30, INTERVAL '5 minutes', source := 'main.positions')", db: "fleet");
        Assert.Equal(4, inFleet[0][0].GetInt32());
    }

    private static async Task WriteShuffledAsync(PlexusTestServer server, List<(string Device, long TimeNs, double Lat, double Lon)> points, int seed)
    {
        var random = new Random(seed);
        var shuffled = points.OrderBy(_ => random.Next()).ToList();
        for (int start = 0; start < shuffled.Count; start += 50)
        {
            using var response = await server.WriteAsync(Positions.LineProtocol(shuffled.Skip(start).Take(50)));
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }
    }

    private static async Task<JsonElement> GetJsonAsync(PlexusTestServer server, string path)
    {
        using var response = await server.Client.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
