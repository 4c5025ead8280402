namespace Plexus.Geo.Tests;

/// <summary>
/// Answers computed without the SQL engine and without the code under test: distances by the chord of unit
/// vectors (not haversine), containment by winding number (not ray casting), stops by a plain loop.
/// </summary>
internal static class Reference
{
    public const double R = 6_371_008.8;

    public static double DistanceM(double lat1, double lon1, double lat2, double lon2)
    {
        var (x1, y1, z1) = Unit(lat1, lon1);
        var (x2, y2, z2) = Unit(lat2, lon2);
        double chord = Math.Sqrt(((x1 - x2) * (x1 - x2)) + ((y1 - y2) * (y1 - y2)) + ((z1 - z2) * (z1 - z2)));
        return 2 * R * Math.Asin(Math.Min(1, chord / 2));
    }

    /// <summary>Winding number of a closed ring ([lon, lat] pairs, last = first) around the point; non-zero = inside.</summary>
    public static int Winding(double[][] ring, double lat, double lon)
    {
        int winding = 0;
        for (int i = 0; i + 1 < ring.Length; i++)
        {
            double x1 = ring[i][0], y1 = ring[i][1], x2 = ring[i + 1][0], y2 = ring[i + 1][1];
            double cross = ((x2 - x1) * (lat - y1)) - ((lon - x1) * (y2 - y1));
            if (y1 <= lat)
            {
                if (y2 > lat && cross > 0)
                {
                    winding++;
                }
            }
            else if (y2 <= lat && cross < 0)
            {
                winding--;
            }
        }

        return winding;
    }

    /// <summary>A polygon (outer ring, then holes) contains the point: inside the outer ring, in no hole.</summary>
    public static bool InPolygon(double[][][] polygon, double lat, double lon) =>
        Winding(polygon[0], lat, lon) != 0 && polygon.Skip(1).All(hole => Winding(hole, lat, lon) == 0);

    /// <summary>Smallest distance in degrees from the point to any edge of the rings: to skip points too close to call.</summary>
    public static double EdgeDistanceDeg(IEnumerable<double[][]> rings, double lat, double lon)
    {
        double best = double.MaxValue;
        foreach (var ring in rings)
        {
            for (int i = 0; i + 1 < ring.Length; i++)
            {
                double ax = ring[i][0], ay = ring[i][1], bx = ring[i + 1][0], by = ring[i + 1][1];
                double dx = bx - ax, dy = by - ay;
                double t = Math.Clamp((((lon - ax) * dx) + ((lat - ay) * dy)) / ((dx * dx) + (dy * dy)), 0, 1);
                double px = ax + (t * dx) - lon, py = ay + (t * dy) - lat;
                best = Math.Min(best, Math.Sqrt((px * px) + (py * py)));
            }
        }

        return best;
    }

    public sealed record Stop(string Device, long StartNs, long EndNs, int Positions);

    /// <summary>
    /// docs/geo.md's stop rule by a loop over time-sorted positions: a run continues while each step is at most
    /// <paramref name="radiusM"/>; runs lasting at least <paramref name="minDurationNs"/> are stops.
    /// </summary>
    public static List<Stop> Stops(IEnumerable<(string Device, long TimeNs, double Lat, double Lon)> positions, double radiusM, long minDurationNs)
    {
        var stops = new List<Stop>();
        foreach (var group in positions.GroupBy(p => p.Device).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var sorted = group.OrderBy(p => p.TimeNs).ToList();
            int start = 0;
            for (int i = 1; i <= sorted.Count; i++)
            {
                bool breaks = i == sorted.Count || DistanceM(sorted[i - 1].Lat, sorted[i - 1].Lon, sorted[i].Lat, sorted[i].Lon) > radiusM;
                if (!breaks)
                {
                    continue;
                }

                if (sorted[i - 1].TimeNs - sorted[start].TimeNs >= minDurationNs)
                {
                    stops.Add(new Stop(group.Key, sorted[start].TimeNs, sorted[i - 1].TimeNs, i - start));
                }

                start = i;
            }
        }

        return stops;
    }

    public static double TravelledM(IEnumerable<(long TimeNs, double Lat, double Lon)> positions)
    {
        var sorted = positions.OrderBy(p => p.TimeNs).ToList();
        double total = 0;
        for (int i = 1; i < sorted.Count; i++)
        {
            total += DistanceM(sorted[i - 1].Lat, sorted[i - 1].Lon, sorted[i].Lat, sorted[i].Lon);
        }

        return total;
    }

    private static (double X, double Y, double Z) Unit(double lat, double lon)
    {
        double phi = lat * Math.PI / 180, lambda = lon * Math.PI / 180;
        return (Math.Cos(phi) * Math.Cos(lambda), Math.Cos(phi) * Math.Sin(lambda), Math.Sin(phi));
    }
}
