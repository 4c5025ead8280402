namespace Plexus.Geo;

/// <summary>A geofence shape: polygons (with holes) or a circle. Coordinates are degrees.</summary>
public abstract class GeoShape
{
    public abstract double MinLat { get; }

    public abstract double MinLon { get; }

    public abstract double MaxLat { get; }

    public abstract double MaxLon { get; }

    /// <summary>True when the point is inside (for polygons: inside an outer ring and outside its holes).</summary>
    public abstract bool Contains(double lat, double lon);
}

/// <summary>A closed ring of positions; the last position repeats the first, as GeoJSON requires.</summary>
public sealed class GeoRing
{
    public GeoRing(double[] lons, double[] lats)
    {
        ArgumentNullException.ThrowIfNull(lons);
        ArgumentNullException.ThrowIfNull(lats);
        Lons = lons;
        Lats = lats;
    }

    public double[] Lons { get; }

    public double[] Lats { get; }

    public int Count => Lons.Length;
}

/// <summary>
/// One or more polygons (a GeoJSON Polygon or MultiPolygon). Edges are straight lines in longitude/latitude
/// (as GeoJSON's RFC 7946 §3.1.1 says to interpret them), not great circles.
/// </summary>
public sealed class GeoPolygons : GeoShape
{
    private readonly double _minLat;
    private readonly double _minLon;
    private readonly double _maxLat;
    private readonly double _maxLon;

    public GeoPolygons(IReadOnlyList<IReadOnlyList<GeoRing>> polygons, bool isMulti)
    {
        ArgumentNullException.ThrowIfNull(polygons);
        Polygons = polygons;
        IsMulti = isMulti;
        _minLat = _minLon = double.MaxValue;
        _maxLat = _maxLon = double.MinValue;
        foreach (var polygon in polygons)
        {
            var outer = polygon[0];
            for (int i = 0; i < outer.Count; i++)
            {
                _minLat = Math.Min(_minLat, outer.Lats[i]);
                _maxLat = Math.Max(_maxLat, outer.Lats[i]);
                _minLon = Math.Min(_minLon, outer.Lons[i]);
                _maxLon = Math.Max(_maxLon, outer.Lons[i]);
            }
        }
    }

    /// <summary>Each polygon: its outer ring first, then its holes.</summary>
    public IReadOnlyList<IReadOnlyList<GeoRing>> Polygons { get; }

    public bool IsMulti { get; }

    public override double MinLat => _minLat;

    public override double MinLon => _minLon;

    public override double MaxLat => _maxLat;

    public override double MaxLon => _maxLon;

    public override bool Contains(double lat, double lon)
    {
        if (lat < _minLat || lat > _maxLat || lon < _minLon || lon > _maxLon)
        {
            return false;
        }

        foreach (var polygon in Polygons)
        {
            // Even-odd over the outer ring and its holes together: a point in a hole crosses both.
            bool inside = false;
            foreach (var ring in polygon)
            {
                if (Crosses(ring, lat, lon))
                {
                    inside = !inside;
                }
            }

            if (inside)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Ray casting towards +longitude: true when the ray crosses the ring an odd number of times.</summary>
    private static bool Crosses(GeoRing ring, double lat, double lon)
    {
        var lons = ring.Lons;
        var lats = ring.Lats;
        bool odd = false;
        for (int i = 1; i < lons.Length; i++)
        {
            double latA = lats[i - 1];
            double latB = lats[i];
            if ((latA > lat) != (latB > lat))
            {
                double crossingLon = lons[i - 1] + ((lat - latA) * (lons[i] - lons[i - 1]) / (latB - latA));
                if (lon < crossingLon)
                {
                    odd = !odd;
                }
            }
        }

        return odd;
    }
}

/// <summary>A circle: every point within <see cref="RadiusM"/> metres (great-circle) of the centre.</summary>
public sealed class GeoCircle : GeoShape
{
    public GeoCircle(double lat, double lon, double radiusM)
    {
        Lat = lat;
        Lon = lon;
        RadiusM = radiusM;
    }

    public double Lat { get; }

    public double Lon { get; }

    public double RadiusM { get; }

    private double LatSpan => RadiusM / GeoMath.EarthRadiusM * (180.0 / Math.PI);

    public override double MinLat => Math.Max(-90, Lat - LatSpan);

    public override double MaxLat => Math.Min(90, Lat + LatSpan);

    // Near the poles (or across the antimeridian) the longitude box is the whole circle of longitudes.
    public override double MinLon => LonSpan is { } span ? Lon - span : -180;

    public override double MaxLon => LonSpan is { } span ? Lon + span : 180;

    private double? LonSpan
    {
        get
        {
            double cos = Math.Cos(Math.Max(Math.Abs(MinLat), Math.Abs(MaxLat)) * Math.PI / 180.0);
            if (cos < 1e-9)
            {
                return null;
            }

            double span = LatSpan / cos;
            return Lon - span < -180 || Lon + span > 180 ? null : span;
        }
    }

    public override bool Contains(double lat, double lon)
    {
        // The great-circle distance between valid latitudes is never less than their difference along a meridian, so a
        // point farther than the radius in latitude alone is outside without the trigonometry (a rule engine asks this
        // for every point and geofence rule); the margin keeps every answer the haversine's despite rounding.
        double apartM = Math.Abs(lat - Lat) * (Math.PI / 180.0) * GeoMath.EarthRadiusM;
        if (apartM > (RadiusM * (1 + 1e-9)) + 1e-6 && Math.Abs(lat) <= 90 && Math.Abs(Lat) <= 90)
        {
            return false;
        }

        return GeoMath.DistanceM(lat, lon, Lat, Lon) <= RadiusM;
    }
}
