using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Geo.Tests;

/// <summary>The geofences API and its SQL view through the real server.</summary>
public sealed class GeofencesApiTests
{
    private const string Depot = """
        {"type": "Feature", "properties": {"name": "depot-7", "colour": "red"},
         "geometry": {"type": "Polygon", "coordinates": [
            [[4.28, 52.08], [4.32, 52.08], [4.32, 52.12], [4.28, 52.12], [4.28, 52.08]],
            [[4.295, 52.095], [4.305, 52.095], [4.305, 52.105], [4.295, 52.105], [4.295, 52.095]]]}}
        """;

    private const string Yard = """{"type": "Feature", "properties": {"radius_m": 400}, "geometry": {"type": "Point", "coordinates": [4.35, 52.1]}}""";

    [Fact]
    public async Task Geofences_are_added_read_listed_replaced_and_removed_as_GeoJSON()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var created = await PostAsync(server, "/api/v1/geofences", Depot);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/api/v1/geofences/depot-7", created.Headers.Location!.OriginalString);
        var feature = await JsonAsync(created);
        Assert.Equal("depot-7", feature.GetProperty("id").GetString());
        Assert.Equal("polygon", feature.GetProperty("properties").GetProperty("kind").GetString());
        Assert.Equal("red", feature.GetProperty("properties").GetProperty("colour").GetString());
        Assert.Equal([4.28, 52.08, 4.32, 52.12], feature.GetProperty("bbox").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(2, feature.GetProperty("geometry").GetProperty("coordinates").GetArrayLength());

        using var duplicate = await PostAsync(server, "/api/v1/geofences", Depot);
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);

        using var yard = await PutAsync(server, "/api/v1/geofences/yard", Yard);
        Assert.Equal(HttpStatusCode.Created, yard.StatusCode);
        var circle = await JsonAsync(yard);
        Assert.Equal("Point", circle.GetProperty("geometry").GetProperty("type").GetString());
        Assert.Equal(400, circle.GetProperty("properties").GetProperty("radius_m").GetDouble());
        Assert.Equal("circle", circle.GetProperty("properties").GetProperty("kind").GetString());

        var list = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/geofences");
        Assert.Equal("FeatureCollection", list.GetProperty("type").GetString());
        Assert.Equal(["depot-7", "yard"], list.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("id").GetString()));

        using var replaced = await PutAsync(server, "/api/v1/geofences/yard", Yard.Replace("400", "900", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        var shown = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/geofences/yard");
        Assert.Equal(900, shown.GetProperty("properties").GetProperty("radius_m").GetDouble());
        Assert.Equal(circle.GetProperty("properties").GetProperty("created_at").GetString(), shown.GetProperty("properties").GetProperty("created_at").GetString());

        var rows = await server.RowsAsync("SELECT name, kind, radius_m, properties->>'colour' FROM geofences ORDER BY name");
        Assert.Equal("depot-7", rows[0][0].GetString());
        Assert.Equal("polygon", rows[0][1].GetString());
        Assert.Equal("red", rows[0][3].GetString());
        Assert.Equal(900, rows[1][2].GetDouble());

        using var removed = await server.Client.DeleteAsync("/api/v1/geofences/yard");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        using var gone = await server.Client.GetAsync("/api/v1/geofences/yard");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        using var goneAgain = await server.Client.DeleteAsync("/api/v1/geofences/yard");
        Assert.Equal(HttpStatusCode.NotFound, goneAgain.StatusCode);
        Assert.Single(await server.RowsAsync("SELECT name FROM geofences"));
    }

    [Theory]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[4.3, 52.1], [4.4, 52.1], [4.4, 52.2]]]}}""", "$.geometry.coordinates[0]", "at least 4 positions")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[4.3, 52.1], [4.4, 52.1], [4.4, 52.2], [4.3, 52.2]]]}}""", "$.geometry.coordinates[0]", "not closed")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[52.1, 4.3], [52.1, 4.4], [192.2, 4.4], [52.1, 4.3]]]}}""", "$.geometry.coordinates[0][2][0]", "outside -180..180")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon", "coordinates": [[[4.3, 52.1], [4.4, 92.1], [4.4, 52.2], [4.3, 52.1]]]}}""", "$.geometry.coordinates[0][1][1]", "[longitude, latitude]")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [4.3, 52.1]}}""", "$.properties.radius_m", "radius")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {"radius_m": 10}, "geometry": {"type": "Point", "coordinates": [4.3, 52.1]}}""", "name", "needs a name")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", "properties": {"name": "no spaces"}, "geometry": {"type": "Point", "coordinates": [4.3, 52.1]}}""", "$.properties.radius_m", "radius")]
    [InlineData("/api/v1/geofences/bad name", """{"type": "Feature", "properties": {"radius_m": 10}, "geometry": {"type": "Point", "coordinates": [4.3, 52.1]}}""", "name", "letters, digits")]
    [InlineData("/api/v1/geofences/a", """{"type": "Feature", "properties": {"name": "b", "radius_m": 10}, "geometry": {"type": "Point", "coordinates": [4.3, 52.1]}}""", "name", "make them agree")]
    [InlineData("/api/v1/geofences", """{"type": "Feature", """, null, "GeoJSON Feature like")]
    public async Task Bad_geofences_get_400_naming_the_field_and_the_reason(string path, string body, string? field, string reason)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var response = path.EndsWith("/geofences", StringComparison.Ordinal) ? await PostAsync(server, path, body) : await PutAsync(server, path, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = await JsonAsync(response);
        Assert.Contains(reason, error.GetProperty("message").GetString());
        if (field is not null)
        {
            Assert.Equal(field, error.GetProperty("field").GetString());
        }

        Assert.Empty(await server.RowsAsync("SELECT * FROM geofences"));
    }

    [Fact]
    public async Task Geofences_need_a_token()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var list = await anonymous.GetAsync("/api/v1/geofences");
        using var add = await anonymous.PostAsync("/api/v1/geofences", new StringContent(Yard, Encoding.UTF8, "application/geo+json"));
        Assert.Equal(HttpStatusCode.Unauthorized, list.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, add.StatusCode);
    }

    [Fact]
    public async Task Positions_joined_with_geofences_match_the_reference_and_survive_a_restart()
    {
        using var data = new TempDirectory("plexus-geo-restart");
        var random = new Random(8);
        var positions = Enumerable.Range(0, 600)
            .Select(i => (Device: $"truck-{i % 7}", TimeNs: Positions.T0 + (i * Positions.Second), Lat: 52.07 + (random.NextDouble() * 0.06), Lon: 4.27 + (random.NextDouble() * 0.1)))
            .ToList();
        double[][][] depot =
        [
            [[4.28, 52.08], [4.32, 52.08], [4.32, 52.12], [4.28, 52.12], [4.28, 52.08]],
            [[4.295, 52.095], [4.305, 52.095], [4.305, 52.105], [4.295, 52.105], [4.295, 52.095]],
        ];
        int inDepot = positions.Count(p => Reference.InPolygon(depot, p.Lat, p.Lon));
        int inYard = positions.Count(p => Reference.DistanceM(p.Lat, p.Lon, 52.1, 4.35) <= 400);
        Assert.InRange(inDepot, 50, 550);
        Assert.InRange(inYard, 5, 550);

        const string Join = """
            SELECT g.name, count(*) AS positions, count(DISTINCT p.device) AS devices
            FROM positions p JOIN geofences g ON inside_geofence(p.lat, p.lon, g.name)
            GROUP BY g.name ORDER BY g.name
            """;
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            Assert.True((await server.WriteAsync(Positions.LineProtocol(positions))).IsSuccessStatusCode);
            (await PostAsync(server, "/api/v1/geofences", Depot)).Dispose();
            (await PutAsync(server, "/api/v1/geofences/yard", Yard)).Dispose();
            var rows = await server.RowsAsync(Join);
            Assert.Equal(("depot-7", inDepot), (rows[0][0].GetString(), rows[0][1].GetInt32()));
            Assert.Equal(("yard", inYard), (rows[1][0].GetString(), rows[1][1].GetInt32()));

            var counted = await server.RowsAsync("SELECT count(*) FILTER (WHERE inside_geofence(lat, lon, 'depot-7')) FROM positions", db: "main");
            Assert.Equal(inDepot, counted[0][0].GetInt32());
        }

        // After a restart: the geofences load again and the C# function is registered again.
        await using (var server = await PlexusTestServer.StartAsync(data.Path))
        {
            var rows = await server.RowsAsync(Join);
            Assert.Equal(inDepot, rows[0][1].GetInt32());
            Assert.Equal(inYard, rows[1][1].GetInt32());
            var shown = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/geofences/depot-7");
            Assert.Equal("red", shown.GetProperty("properties").GetProperty("colour").GetString());
        }
    }

    private static Task<HttpResponseMessage> PostAsync(PlexusTestServer server, string path, string body) =>
        server.Client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/geo+json"));

    private static Task<HttpResponseMessage> PutAsync(PlexusTestServer server, string path, string body) =>
        server.Client.PutAsync(path, new StringContent(body, Encoding.UTF8, "application/geo+json"));

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
}
