using System.Text.Json;

namespace Plexus.Geo.Tests;

public sealed class GeoJsonTests
{
    [Theory]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1]]]}""", "$.coordinates[0]", "not closed")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}""", "$.coordinates[0]", "at least 4 positions")]
    [InlineData("""{"type":"Polygon","coordinates":[[[52.1,4.3],[52.2,4.3],[52.2,95.0],[52.1,4.3]]]}""", "$.coordinates[0][2][1]", "[longitude, latitude]")]
    [InlineData("""{"type":"Polygon","coordinates":[[[181,0],[1,0],[1,1],[181,0]]]}""", "$.coordinates[0][0][0]", "outside -180..180")]
    [InlineData("""{"type":"Polygon","coordinates":[[[179,0],[-179,0],[-179,1],[179,0]]]}""", "$.coordinates[0][1]", "antimeridian")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],["1",1],[0,0]]]}""", "$.coordinates[0][2][0]", "number")]
    [InlineData("""{"type":"LineString","coordinates":[[0,0],[1,1]]}""", "$.type", "not supported")]
    [InlineData("""{"coordinates":[]}""", "$.type", "missing")]
    [InlineData("""{"type":"MultiPolygon","coordinates":[]}""", "$.coordinates", "at least one polygon")]
    [InlineData("""not json""", "$", "not JSON")]
    public void Bad_polygons_are_refused_naming_the_place_and_the_reason(string text, string path, string reason)
    {
        var error = Assert.Throws<GeoJsonException>(() => GeoJson.ParsePolygonText(text));
        Assert.StartsWith(path + ":", error.Message, StringComparison.Ordinal);
        Assert.Contains(reason, error.Message);
    }

    [Theory]
    [InlineData("""{"type":"Feature","properties":{"name":"c"},"geometry":{"type":"Point","coordinates":[4.3,52.1]}}""", "$.properties.radius_m", "needs a radius")]
    [InlineData("""{"type":"Feature","properties":{"radius_m":-5},"geometry":{"type":"Point","coordinates":[4.3,52.1]}}""", "$.properties.radius_m", "more than 0")]
    [InlineData("""{"type":"Feature","properties":{"radius_m":5},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}""", "$.properties.radius_m", "only a Point")]
    [InlineData("""{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}""", "$.type", "expected \"Feature\"")]
    [InlineData("""{"type":"Feature","properties":{}}""", "$.geometry", "missing")]
    [InlineData("""{"type":"Feature","properties":[],"geometry":null}""", "$.properties", "object")]
    public void Bad_features_are_refused_naming_the_place_and_the_reason(string text, string path, string reason)
    {
        using var document = JsonDocument.Parse(text);
        var error = Assert.Throws<GeoJsonException>(() => GeoJson.ParseFeature(document.RootElement));
        Assert.Equal(path, error.Path);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void A_feature_round_trips_through_the_writer()
    {
        const string text = """{"type":"Feature","id":"z","properties":{"name":"depot-7","colour":"red"},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]],[[0.5,0.1],[0.9,0.1],[0.9,0.4],[0.5,0.1]]],[[[10,10],[11,10],[11,11],[10,10]]]]}}""";
        using var document = JsonDocument.Parse(text);
        var feature = GeoJson.ParseFeature(document.RootElement);

        Assert.Equal("depot-7", feature.Name);
        Assert.Contains("\"colour\":\"red\"", feature.PropertiesJson);
        string geometry = GeoJson.GeometryText(feature.Shape);
        Assert.Equal("""{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]],[[0.5,0.1],[0.9,0.1],[0.9,0.4],[0.5,0.1]]],[[[10,10],[11,10],[11,11],[10,10]]]]}""", geometry);
        Assert.Equal((0, 0, 11, 11), (feature.Shape.MinLon, feature.Shape.MinLat, feature.Shape.MaxLon, feature.Shape.MaxLat));
    }

    [Fact]
    public void A_circle_box_covers_the_circle_and_widens_to_all_longitudes_near_a_pole()
    {
        var circle = new GeoCircle(52.1, 4.3, 1000);
        foreach (double bearing in Enumerable.Range(0, 36).Select(i => i * 10.0))
        {
            // A point on the circle, 999.9 m out, must be in the box.
            double d = 999.9 / Reference.R, b = bearing * Math.PI / 180, phi = 52.1 * Math.PI / 180;
            double lat2 = Math.Asin((Math.Sin(phi) * Math.Cos(d)) + (Math.Cos(phi) * Math.Sin(d) * Math.Cos(b)));
            double lon2 = 4.3 * Math.PI / 180 + Math.Atan2(Math.Sin(b) * Math.Sin(d) * Math.Cos(phi), Math.Cos(d) - (Math.Sin(phi) * Math.Sin(lat2)));
            double lat = lat2 * 180 / Math.PI, lon = lon2 * 180 / Math.PI;
            Assert.True(circle.Contains(lat, lon));
            Assert.True(GeoMath.InBbox(lat, lon, circle.MinLat, circle.MinLon, circle.MaxLat, circle.MaxLon), $"bearing {bearing}");
        }

        var polar = new GeoCircle(89.99, 0, 5000);
        Assert.Equal((-180.0, 180.0, 90.0), (polar.MinLon, polar.MaxLon, polar.MaxLat));
    }
}
