using System.Globalization;
using System.Text;

namespace Plexus.Geo.Tests;

/// <summary>Generated device positions with known stops, and their line protocol (`positions,device=… lat=…,lon=… ns`).</summary>
internal static class Positions
{
    public static readonly long T0 = DateTimeOffset.Parse("2026-01-05T06:00:00Z", CultureInfo.InvariantCulture).ToUnixTimeMilliseconds() * 1_000_000;

    public const long Second = 1_000_000_000;

    /// <summary>
    /// One fix every 10 s for an hour: parked at A for 10 min, driving, parked at B for 3 min, driving, parked at C
    /// for 15 min, driving. Parked fixes jitter by up to ~4 m, driving fixes are ~150 m apart.
    /// </summary>
    public static List<(string Device, long TimeNs, double Lat, double Lon)> Journey(string device, double lat, double lon, int seed)
    {
        var random = new Random(seed);
        var points = new List<(string, long, double, double)>();
        double metresPerDegree = Reference.R * Math.PI / 180;
        for (int i = 0; i < 360; i++)
        {
            int minute = i / 6;
            bool parked = minute < 10 || (minute >= 20 && minute < 23) || (minute >= 30 && minute < 45);
            if (!parked)
            {
                lat += 150 / metresPerDegree;
            }

            double jitterLat = (random.NextDouble() - 0.5) * 4 / metresPerDegree;
            double jitterLon = (random.NextDouble() - 0.5) * 4 / metresPerDegree / Math.Cos(lat * Math.PI / 180);
            points.Add((device, T0 + (i * 10 * Second), lat + jitterLat, lon + jitterLon));
        }

        return points;
    }

    public static string LineProtocol(IEnumerable<(string Device, long TimeNs, double Lat, double Lon)> points)
    {
        var text = new StringBuilder();
        foreach (var (device, time, lat, lon) in points)
        {
            text.Append(CultureInfo.InvariantCulture, $"positions,device={device} lat={lat:R},lon={lon:R} {time}\n");
        }

        return text.ToString();
    }

    public static string Rfc3339(long unixNs) => DateTimeOffset.FromUnixTimeMilliseconds(unixNs / 1_000_000).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
