namespace Plexus.Geo.Tests;

/// <summary>A circle answers without trigonometry for points far from it in latitude: every answer must still be the haversine's.</summary>
public sealed class GeoCircleTests
{
    [Theory]
    [InlineData(52.1, 4.3, 250)]
    [InlineData(-10, -10, 2000)]
    [InlineData(89.99, 0, 5000)]
    [InlineData(0, 179.999, 100)]
    [InlineData(45, 45, 10_000_000)]
    [InlineData(0, 0, 0)]
    public void Contains_agrees_with_the_great_circle_distance_near_and_far_from_the_edge(double lat, double lon, double radiusM)
    {
        var circle = new GeoCircle(lat, lon, radiusM);
        var random = new Random(7);
        double span = (radiusM / GeoMath.EarthRadiusM * (180.0 / Math.PI)) + 1e-12;
        for (int i = 0; i < 20_000; i++)
        {
            // Half near the circle's latitude edge (within a hair of it), half anywhere on the globe.
            double pointLat = i % 2 == 0
                ? Math.Clamp(lat + (span * (random.Next(2) == 0 ? -1 : 1) * (1 + ((random.NextDouble() - 0.5) * 1e-8))), -90, 90)
                : (random.NextDouble() * 180) - 90;
            double pointLon = i % 2 == 0 ? lon + ((random.NextDouble() - 0.5) * 1e-6) : (random.NextDouble() * 360) - 180;
            Assert.Equal(GeoMath.DistanceM(pointLat, pointLon, lat, lon) <= radiusM, circle.Contains(pointLat, pointLon));
        }
    }
}
