using DuckDB.NET.Data;
using Plexus.Storage;

namespace Plexus.Geo;

/// <summary>One position of a track: time in nanoseconds since the Unix epoch, degrees.</summary>
public readonly record struct TrackPoint(long TimeNs, double Lat, double Lon);

/// <summary>
/// A device's positions in time order; <see cref="Truncated"/> when the limit cut it short, <see cref="Thinned"/> when
/// every n-th position of the range was kept so that the whole range fits (<see cref="TrackReader.ReadThinned"/>).
/// </summary>
public sealed record Track(string Device, IReadOnlyList<TrackPoint> Points, bool Truncated, bool Thinned = false)
{
    /// <summary>Sum of the great-circle distances between consecutive positions, in metres.</summary>
    public double DistanceM
    {
        get
        {
            double total = 0;
            for (int i = 1; i < Points.Count; i++)
            {
                total += GeoMath.DistanceM(Points[i - 1].Lat, Points[i - 1].Lon, Points[i].Lat, Points[i].Lon);
            }

            return total;
        }
    }
}

/// <summary>
/// Reads device tracks from <c>main.device_positions</c> (<c>main.positions</c> and the declared position sources) with
/// parameters, not SQL text.
/// </summary>
public sealed class TrackReader(PlexusStore store)
{
    public const string PositionsView = PositionSourceRegistry.View;
    public const int DefaultLimit = 10_000;
    public const int MaxLimit = 100_000;

    /// <summary>Positions with <paramref name="fromNs"/> ≤ time &lt; <paramref name="toNs"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public Track Read(string device, long fromNs, long toNs, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);

        // Late or out-of-order writes land anywhere in the table; ORDER BY time is what makes the line a track.
        return Query(device, fromNs, toNs, $"""
            SELECT epoch_ns(time), lat, lon, 0 FROM {PositionsView}
            WHERE device = $1 AND time >= make_timestamp_ns($2) AND time < make_timestamp_ns($3)
              AND lat IS NOT NULL AND lon IS NOT NULL
            ORDER BY time
            LIMIT $4
            """, (long)limit + 1, limit, cancellationToken);
    }

    /// <summary>
    /// Positions with <paramref name="fromNs"/> ≤ time &lt; <paramref name="toNs"/>, oldest first, at most
    /// <paramref name="maxPoints"/> spread over the whole range: every n-th position with the first and the last, so a
    /// map shows where the device went all along instead of only the start of a long track.
    /// </summary>
    public Track ReadThinned(string device, long fromNs, long toNs, int maxPoints, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPoints, 2);

        // A stride of ceil(n / (max - 1)) keeps at most max - 1 positions at multiples of it, and the last one makes max.
        return Query(device, fromNs, toNs, $"""
            WITH numbered AS (
              SELECT epoch_ns(time) AS t, lat, lon, row_number() OVER (ORDER BY time) - 1 AS i, count(*) OVER () AS n
              FROM {PositionsView}
              WHERE device = $1 AND time >= make_timestamp_ns($2) AND time < make_timestamp_ns($3)
                AND lat IS NOT NULL AND lon IS NOT NULL)
            SELECT t, lat, lon, n FROM numbered
            WHERE n <= $4 OR i % CAST(ceil(n / ($4 - 1)) AS BIGINT) = 0 OR i = n - 1
            ORDER BY t
            """, maxPoints, int.MaxValue, cancellationToken);
    }

    /// <summary>
    /// Runs a track query with parameters device, from, to and <paramref name="fourth"/>, whose rows are (time, lat,
    /// lon, positions in the range); more than <paramref name="limit"/> rows is truncated, fewer rows than the range
    /// holds is thinned.
    /// </summary>
    private Track Query(string device, long fromNs, long toNs, string sql, long fourth, int limit, CancellationToken cancellationToken)
    {
        using var connection = store.OpenReadConnection();
        if (!PositionsExist(connection))
        {
            return new Track(device, [], false);
        }

        using var interrupt = cancellationToken.Register(() => connection.NativeConnection.Interrupt());
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.Add(new DuckDBParameter(device));
        command.Parameters.Add(new DuckDBParameter(fromNs));
        command.Parameters.Add(new DuckDBParameter(toNs));
        command.Parameters.Add(new DuckDBParameter(fourth));
        var points = new List<TrackPoint>();
        bool truncated = false;
        long total = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (points.Count == limit)
            {
                truncated = true;
                break;
            }

            points.Add(new TrackPoint(reader.GetInt64(0), Convert.ToDouble(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture), Convert.ToDouble(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture)));
            total = Convert.ToInt64(reader.GetValue(3), System.Globalization.CultureInfo.InvariantCulture);
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new Track(device, points, truncated, Thinned: total > points.Count);
    }

    private static bool PositionsExist(DuckDBConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = """
            SELECT count(*) FROM duckdb_columns()
            WHERE schema_name = 'main' AND table_name = 'device_positions' AND column_name IN ('time', 'device', 'lat', 'lon')
            """;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 4;
    }
}
