using Plexus.Query;
using static Plexus.Geo.Tests.GeoStoreFixture;

namespace Plexus.Geo.Tests;

/// <summary>The SQL geo functions, checked point by point against <see cref="Reference"/> (no SQL, other formulas).</summary>
public sealed class GeoSqlTests(GeoStoreFixture db) : IClassFixture<GeoStoreFixture>
{
    // A concave outline (a notch in the top edge) with a rectangular hole, near Rotterdam.
    private static readonly double[][][] Notched =
    [
        [[4.0, 52.0], [4.5, 52.0], [4.5, 52.5], [4.25, 52.2], [4.0, 52.5], [4.0, 52.0]],
        [[4.1, 52.05], [4.2, 52.05], [4.2, 52.15], [4.1, 52.15], [4.1, 52.05]],
    ];

    [Fact]
    public async Task Distance_matches_an_independent_formula_on_random_pairs_including_poles_and_the_antimeridian()
    {
        var random = new Random(20261127);
        var pairs = new List<(double Lat1, double Lon1, double Lat2, double Lon2)>();
        for (int i = 0; i < 3000; i++)
        {
            pairs.Add((Lat(random), Lon(random), Lat(random), Lon(random)));
        }

        for (int i = 0; i < 500; i++)
        {
            // Short hops (the fleet case), near the poles, and across the antimeridian.
            double lat = Lat(random), lon = Lon(random);
            pairs.Add((lat, lon, Math.Clamp(lat + ((random.NextDouble() - 0.5) * 0.01), -90, 90), lon + ((random.NextDouble() - 0.5) * 0.01)));
            pairs.Add((89.999 + (random.NextDouble() * 0.001), Lon(random), 89.99 + (random.NextDouble() * 0.01), Lon(random)));
            pairs.Add((-89.9999, Lon(random), -90, 0));
            pairs.Add(((random.NextDouble() - 0.5) * 10, 179.9 + (random.NextDouble() * 0.1), (random.NextDouble() - 0.5) * 10, -179.9 - (random.NextDouble() * 0.1)));
        }

        pairs.Add((0, 0, 0, 180));
        pairs.Add((10, 20, -10, -160));

        var first = db.PointsTable([.. pairs.Select(p => (p.Lat1, p.Lon1))]);
        var second = db.PointsTable([.. pairs.Select(p => (p.Lat2, p.Lon2))]);
        var rows = await db.RowsAsync($"SELECT a.id, geo_distance_m(a.lat, a.lon, b.lat, b.lon) FROM {first} a JOIN {second} b USING (id) ORDER BY a.id");

        Assert.Equal(pairs.Count, rows.Count);
        foreach (var row in rows)
        {
            var (lat1, lon1, lat2, lon2) = pairs[(int)row[0]!];
            double expected = Reference.DistanceM(lat1, lon1, lat2, lon2);
            double actual = (double)row[1]!;
            Assert.True(Math.Abs(actual - expected) <= 1e-3 + (expected * 1e-9), $"({lat1}, {lon1}) → ({lat2}, {lon2}): SQL {actual} m, reference {expected} m");
            Assert.Equal(expected, GeoMath.DistanceM(lat1, lon1, lat2, lon2), 1e-3 + (expected * 1e-9));
        }
    }

    [Fact]
    public async Task Distance_is_in_metres_on_the_mean_earth_radius()
    {
        var rows = await db.RowsAsync("SELECT geo_distance_m(0, 0, 1, 0), geo_distance_m(0, 0, 0, 180), geo_distance_m(52.1, 4.3, 52.1, 4.3), geo_distance_m(NULL, 0, 1, 0)");

        Assert.Equal(6_371_008.8 * Math.PI / 180, (double)rows[0][0]!, 1e-6); // 111,195.08 m per degree of latitude
        Assert.Equal(6_371_008.8 * Math.PI, (double)rows[0][1]!, 1e-6);
        Assert.Equal(0.0, (double)rows[0][2]!);
        Assert.Null(rows[0][3]);
    }

    [Fact]
    public async Task Within_agrees_with_the_reference_just_inside_and_just_outside_the_radius()
    {
        var random = new Random(7);
        var centre = (Lat: 52.1, Lon: 4.3);
        var points = new List<(double Lat, double Lon)>();
        for (int i = 0; i < 2000; i++)
        {
            points.Add((centre.Lat + ((random.NextDouble() - 0.5) * 0.02), centre.Lon + ((random.NextDouble() - 0.5) * 0.03)));
        }

        var table = db.PointsTable(points);
        var rows = await db.RowsAsync($"SELECT id, geo_within_m(lat, lon, 52.1, 4.3, 500) FROM {table} ORDER BY id");

        int inside = 0;
        foreach (var row in rows)
        {
            var (lat, lon) = points[(int)row[0]!];
            double distance = Reference.DistanceM(lat, lon, centre.Lat, centre.Lon);
            if (Math.Abs(distance - 500) < 1e-6)
            {
                continue;
            }

            Assert.Equal(distance <= 500, (bool)row[1]!);
            inside += distance <= 500 ? 1 : 0;
        }

        Assert.InRange(inside, 100, 1900);
    }

    [Fact]
    public async Task Bbox_includes_edges_handles_the_antimeridian_and_the_poles()
    {
        var rows = await db.RowsAsync("""
            SELECT geo_in_bbox(52.1, 4.3, 52, 4, 53, 5), geo_in_bbox(52, 4, 52, 4, 53, 5), geo_in_bbox(51.99, 4.3, 52, 4, 53, 5),
                   geo_in_bbox(0, 179.5, -1, 170, 1, -170), geo_in_bbox(0, -179.5, -1, 170, 1, -170), geo_in_bbox(0, 0, -1, 170, 1, -170),
                   geo_in_bbox(90, 123, 89, -180, 90, 180), geo_in_bbox(88.9, 123, 89, -180, 90, 180)
            """);

        Assert.Equal(new object?[] { true, true, false, true, true, false, true, false }, rows[0]);
        Assert.True(GeoMath.InBbox(0, -179.5, -1, 170, 1, -170));
        Assert.False(GeoMath.InBbox(0, 0, -1, 170, 1, -170));
    }

    [Fact]
    public async Task Polygon_with_a_hole_agrees_with_winding_numbers_on_random_and_near_edge_points()
    {
        var random = new Random(42);
        var points = new List<(double Lat, double Lon)>();
        for (int i = 0; i < 4000; i++)
        {
            points.Add((51.95 + (random.NextDouble() * 0.6), 3.95 + (random.NextDouble() * 0.6)));
        }

        // 100 nm (about 1 cm) either side of the middle of every edge, and near every vertex.
        foreach (var ring in Notched)
        {
            for (int i = 0; i + 1 < ring.Length; i++)
            {
                double dx = ring[i + 1][0] - ring[i][0], dy = ring[i + 1][1] - ring[i][1];
                double length = Math.Sqrt((dx * dx) + (dy * dy));
                foreach (double t in new[] { 0.001, 0.5, 0.999 })
                {
                    foreach (double side in new[] { 1e-7, -1e-7 })
                    {
                        points.Add((ring[i][1] + (t * dy) + (side * dx / length), ring[i][0] + (t * dx) - (side * dy / length)));
                    }
                }
            }
        }

        var table = db.PointsTable(points);
        string text = PolygonJson(Notched);
        var rows = await db.RowsAsync($"SELECT id, geo_in_polygon(lat, lon, {Literal(text)}) FROM {table} ORDER BY id");

        int inside = 0, inHole = 0, checkedPoints = 0;
        foreach (var row in rows)
        {
            var (lat, lon) = points[(int)row[0]!];
            if (Reference.EdgeDistanceDeg(Notched, lat, lon) < 1e-9)
            {
                continue;
            }

            bool expected = Reference.InPolygon(Notched, lat, lon);
            Assert.True(expected == (bool)row[1]!, $"({lat}, {lon}): SQL says {row[1]}, winding number says {expected}");
            checkedPoints++;
            inside += expected ? 1 : 0;
            inHole += Reference.Winding(Notched[1], lat, lon) != 0 ? 1 : 0;
        }

        Assert.True(checkedPoints > 4000);
        Assert.InRange(inside, 500, 3500);
        Assert.True(inHole > 50, "some points must fall in the hole");
    }

    [Fact]
    public async Task MultiPolygon_split_at_the_antimeridian_contains_points_on_both_sides()
    {
        double[][][] east = [[[170, -10], [180, -10], [180, 10], [170, 10], [170, -10]]];
        double[][][] west = [[[-180, -10], [-170, -10], [-170, 10], [-180, 10], [-180, -10]]];
        string text = PolygonJson(east, west);
        var random = new Random(3);
        var points = new List<(double Lat, double Lon)>();
        for (int i = 0; i < 2000; i++)
        {
            points.Add(((random.NextDouble() - 0.5) * 24, (random.NextDouble() - 0.5) * 360));
        }

        points.Add((0, 179.9999));
        points.Add((0, -179.9999));
        var table = db.PointsTable(points);
        var rows = await db.RowsAsync($"SELECT id, geo_in_polygon(lat, lon, {Literal(text)}) FROM {table} ORDER BY id");

        foreach (var row in rows)
        {
            var (lat, lon) = points[(int)row[0]!];
            if (Reference.EdgeDistanceDeg([east[0], west[0]], lat, lon) < 1e-9)
            {
                continue;
            }

            Assert.Equal(Reference.InPolygon(east, lat, lon) || Reference.InPolygon(west, lat, lon), (bool)row[1]!);
        }

        Assert.True((bool)rows[^1][1]!);
        Assert.True((bool)rows[^2][1]!);
    }

    [Fact]
    public async Task Polygon_near_the_pole_agrees_with_the_reference()
    {
        double[][][] polar = [[[-60, 85], [60, 85], [120, 89.5], [0, 89.9], [-120, 89.5], [-60, 85]]];
        var random = new Random(11);
        var points = Enumerable.Range(0, 2000).Select(_ => (Lat: 84 + (random.NextDouble() * 6), Lon: (random.NextDouble() - 0.5) * 360)).ToList();
        var table = db.PointsTable(points);
        var rows = await db.RowsAsync($"SELECT id, geo_in_polygon(lat, lon, {Literal(PolygonJson(polar))}) FROM {table} ORDER BY id");

        foreach (var row in rows)
        {
            var (lat, lon) = points[(int)row[0]!];
            Assert.Equal(Reference.InPolygon(polar, lat, lon), (bool)row[1]!);
        }
    }

    [Fact]
    public async Task A_polygon_around_the_pole_is_refused_with_a_hint_to_split_it()
    {
        var error = await Assert.ThrowsAsync<QueryFailedException>(() => db.RowsAsync("SELECT geo_in_polygon(89, 0, '{\"type\":\"Polygon\",\"coordinates\":[[[0,85],[120,85],[-120,85],[0,85]]]}')"));
        Assert.Contains("crosses the antimeridian", error.Message);
    }

    [Fact]
    public async Task Functions_resolve_with_and_without_a_default_namespace()
    {
        foreach (string? ns in new[] { null, "main", "fleet" })
        {
            var rows = await db.RowsAsync("SELECT round(geo_distance_m(52.1, 4.3, 52.2, 4.3)), geo_within_m(52.1, 4.3, 52.1, 4.3, 1), geo_in_bbox(1, 1, 0, 0, 2, 2), geo_in_polygon(0.5, 0.5, '{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}')", ns);
            Assert.Equal(new object?[] { 11120.0, true, true, true }, rows[0]);
        }
    }

    [Fact]
    public async Task Invalid_polygon_text_is_a_clear_query_error()
    {
        var error = await Assert.ThrowsAsync<QueryFailedException>(() => db.RowsAsync("SELECT geo_in_polygon(1, 2, '{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1],[0,1]]]}')"));
        Assert.Contains("geo_in_polygon", error.Message);
        Assert.Contains("not closed", error.Message);
        Assert.Contains("$.coordinates[0]", error.Message);
    }

    [Fact]
    public async Task Inside_geofence_uses_named_polygons_and_circles_and_is_null_for_unknown_names()
    {
        db.Geofences.Put("sql-notched", Feature(GeoJson.ParsePolygonText(PolygonJson(Notched)), "sql-notched"));
        db.Geofences.Put("sql-circle", Feature(new GeoCircle(52.1, 4.3, 250), "sql-circle"));
        var random = new Random(5);
        var points = Enumerable.Range(0, 1500).Select(_ => (Lat: 51.95 + (random.NextDouble() * 0.6), Lon: 3.95 + (random.NextDouble() * 0.6))).ToList();
        points.AddRange(Enumerable.Range(0, 500).Select(_ => (Lat: 52.1 + ((random.NextDouble() - 0.5) * 0.01), Lon: 4.3 + ((random.NextDouble() - 0.5) * 0.015))));
        var table = db.PointsTable(points);

        var rows = await db.RowsAsync($"SELECT id, inside_geofence(lat, lon, 'sql-notched'), inside_geofence(lat, lon, 'sql-circle'), inside_geofence(lat, lon, 'nope') FROM {table} ORDER BY id");

        int inCircle = 0;
        foreach (var row in rows)
        {
            var (lat, lon) = points[(int)row[0]!];
            if (Reference.EdgeDistanceDeg(Notched, lat, lon) > 1e-9)
            {
                Assert.Equal(Reference.InPolygon(Notched, lat, lon), (bool)row[1]!);
            }

            bool expectedCircle = Reference.DistanceM(lat, lon, 52.1, 4.3) <= 250;
            Assert.Equal(expectedCircle, (bool)row[2]!);
            Assert.Null(row[3]);
            inCircle += expectedCircle ? 1 : 0;
        }

        Assert.True(inCircle > 50);

        // The same through a join with the geofences view: one row per (point, fence containing it).
        var joined = await db.RowsAsync($"SELECT g.name, count(*) FROM {table} p JOIN geofences g ON inside_geofence(p.lat, p.lon, g.name) WHERE g.name LIKE 'sql-%' GROUP BY g.name ORDER BY g.name");
        Assert.Equal("sql-circle", joined[0][0]);
        Assert.Equal((long)inCircle, Convert.ToInt64(joined[0][1]));
        Assert.Equal((long)rows.Count(r => (bool)r[1]!), Convert.ToInt64(joined[1][1]));
    }

    [Fact]
    public async Task Polygon_text_that_differs_row_by_row_is_read_for_each_row()
    {
        double[][][] left = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]];
        double[][][] right = [[[2, 0], [3, 0], [3, 1], [2, 1], [2, 0]]];
        db.Execute($"CREATE TABLE main.shapes AS SELECT * FROM (VALUES ('left', {Literal(PolygonJson(left))}), ('right', {Literal(PolygonJson(right))})) v(name, geojson)");
        var random = new Random(12);
        var points = Enumerable.Range(0, 3000).Select(_ => (Lat: random.NextDouble() * 1.2, Lon: random.NextDouble() * 3.2)).ToList();
        var table = db.PointsTable(points);

        // Rows alternate between the two texts within every vector DuckDB passes to the function.
        var rows = await db.RowsAsync($"SELECT p.id, s.name, geo_in_polygon(p.lat, p.lon, s.geojson) FROM {table} p CROSS JOIN main.shapes s ORDER BY p.id, s.name");

        Assert.Equal(points.Count * 2, rows.Count);
        foreach (var row in rows)
        {
            var (lat, lon) = points[(int)row[0]!];
            Assert.Equal(Reference.InPolygon((string)row[1]! == "left" ? left : right, lat, lon), (bool)row[2]!);
        }
    }

    [Fact]
    public async Task Inside_geofence_sees_changes_at_once_and_works_in_a_left_join()
    {
        var table = db.PointsTable([(52.1, 4.3), (10, 10)]);
        db.Geofences.Put("sql-moving", Feature(new GeoCircle(52.1, 4.3, 100), "sql-moving"));
        Assert.Equal(true, (await db.RowsAsync($"SELECT inside_geofence(lat, lon, 'sql-moving') FROM {table} WHERE id = 0"))[0][0]);

        db.Geofences.Put("sql-moving", Feature(new GeoCircle(10, 10, 100), "sql-moving"));
        var moved = await db.RowsAsync($"SELECT id, inside_geofence(lat, lon, 'sql-moving') FROM {table} ORDER BY id");
        Assert.Equal([false, true], moved.Select(r => (bool)r[1]!));

        var left = await db.RowsAsync($"SELECT p.id, g.name FROM {table} p LEFT JOIN geofences g ON inside_geofence(p.lat, p.lon, g.name) AND g.name = 'sql-moving' ORDER BY p.id");
        Assert.Equal([null, "sql-moving"], left.Select(r => r[1]));

        Assert.True(db.Geofences.Remove("sql-moving"));
        Assert.Null((await db.RowsAsync($"SELECT inside_geofence(lat, lon, 'sql-moving') FROM {table} WHERE id = 1"))[0][0]);
    }

    private static GeofenceFeature Feature(GeoShape shape, string name) => new(shape, name, "{}");

    private static double Lat(Random random) => (random.NextDouble() * 180) - 90;

    private static double Lon(Random random) => (random.NextDouble() * 360) - 180;
}
