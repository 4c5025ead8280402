namespace Plexus.Geo;

/// <summary>
/// Geometry on a sphere, in degrees (WGS84 latitude and longitude) in and metres out. The SQL macros of
/// <see cref="GeoSql"/> use the same formulas, so the API and SQL agree.
/// </summary>
public static class GeoMath
{
    /// <summary>
    /// The mean Earth radius (IUGG R1 = (2a + b) / 3 of WGS84), in metres. Haversine on this sphere is within
    /// about 0.5 % of the ellipsoidal distance anywhere, which is plenty for fleets and geofences.
    /// </summary>
    public const double EarthRadiusM = 6_371_008.8;

    private const double DegreesToRadians = Math.PI / 180.0;

    /// <summary>Great-circle distance in metres between two points given in degrees (haversine).</summary>
    public static double DistanceM(double lat1, double lon1, double lat2, double lon2)
    {
        double dLat = (lat2 - lat1) * DegreesToRadians;
        double dLon = (lon2 - lon1) * DegreesToRadians;
        double sinLat = Math.Sin(dLat / 2);
        double sinLon = Math.Sin(dLon / 2);
        double h = (sinLat * sinLat) + (Math.Cos(lat1 * DegreesToRadians) * Math.Cos(lat2 * DegreesToRadians) * sinLon * sinLon);

        // Rounding can push h a hair above 1 for antipodal points; asin would then be NaN.
        return 2 * EarthRadiusM * Math.Asin(Math.Sqrt(Math.Min(1.0, h)));
    }

    /// <summary>
    /// True when the point is inside the box, edges included. A box whose <paramref name="minLon"/> is greater than
    /// its <paramref name="maxLon"/> crosses the antimeridian (RFC 7946 §5.2): 170 to -170 covers 20° of longitude.
    /// </summary>
    public static bool InBbox(double lat, double lon, double minLat, double minLon, double maxLat, double maxLon)
    {
        if (lat < minLat || lat > maxLat)
        {
            return false;
        }

        return minLon <= maxLon ? lon >= minLon && lon <= maxLon : lon >= minLon || lon <= maxLon;
    }
}
