using DuckDB.NET.Data;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Devices;

/// <summary>
/// One numeric field of a device decimated over a time range: per bucket of <see cref="BucketMs"/> milliseconds (aligned
/// on multiples of it since 1970), the bucket's start and the field's minimum and maximum. <see cref="Measurement"/> and
/// <see cref="Field"/> are null when the device has no numeric field at all.
/// </summary>
public sealed record DeviceHistoryAnswer(string? Measurement, string? Field, long BucketMs, long[] BucketStartsMs, double[] Lows, double[] Highs);

/// <summary>
/// A device's history chart in one call (the console's device page): the field is given, or when it is not, chosen
/// from the catalog — the first numeric field, by measurement name then column order, of a measurement in <c>main</c>
/// that has a series of the device — so a client can ask for the chart before it knows the device's fields.
/// </summary>
/// <remarks>
/// That order is the order of <see cref="DeviceLastValues"/>, so the field chosen is the first numeric one of the
/// device's last values whenever the device has written it. Choosing reads the catalog and the series tables, never the
/// points; the decimation is one aggregate over the device's rows in the range.
/// </remarks>
public static class DeviceHistory
{
    /// <summary>More buckets than any screen has pixel columns: past it the answer grows and the chart shows nothing more.</summary>
    public const int MaxBuckets = 10_000;

    private static readonly HashSet<string> NumericTypes = ["DOUBLE", "FLOAT", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT"];

    public static DeviceHistoryAnswer Query(PlexusStore store, DeviceFieldCatalog catalog, string device, string? measurement, string? field, long fromNs, long toNs, int buckets)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(buckets, MaxBuckets);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fromNs, toNs);
        if ((measurement is null) != (field is null))
        {
            throw new ArgumentException("give both the measurement and the field, or neither");
        }

        long bucketMs = Math.Max(1, (long)Math.Ceiling((toNs - fromNs) / 1e6 / buckets));
        using var connection = store.OpenReadConnection();
        if (ChooseField(connection, catalog, device, measurement, field) is not { } chosen)
        {
            if (measurement is not null)
            {
                throw new DeviceHistoryFieldException($"main.{measurement} has no numeric field \"{field}\" with a device tag; a field of the device's last_values that holds numbers can be charted");
            }

            return new DeviceHistoryAnswer(null, null, bucketMs, [], [], []);
        }

        string column = SqlNames.Quote(chosen.Field);

        // Integer division of the nanoseconds: cheaper per row than converting each time to milliseconds first, and the
        // same bucket (floor of a floor). A bucket past the range of nanoseconds holds every time as one.
        long bucketNs = bucketMs > long.MaxValue / 1_000_000 ? long.MaxValue : bucketMs * 1_000_000;
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT epoch_ns(time) // {bucketNs} AS bucket, CAST(min({column}) AS DOUBLE), CAST(max({column}) AS DOUBLE)
            FROM {SqlNames.Quote(DeviceDataNames.Namespace)}.{SqlNames.Quote(chosen.Measurement)}
            WHERE device = $1 AND time >= make_timestamp_ns($2) AND time < make_timestamp_ns($3) AND {column} IS NOT NULL
            GROUP BY bucket ORDER BY bucket
            """;
        command.Parameters.Add(new DuckDBParameter(device));
        command.Parameters.Add(new DuckDBParameter(fromNs));
        command.Parameters.Add(new DuckDBParameter(toNs));
        var starts = new List<long>();
        var lows = new List<double>();
        var highs = new List<double>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                starts.Add(reader.GetInt64(0) * bucketMs);
                lows.Add(reader.GetDouble(1));
                highs.Add(reader.GetDouble(2));
            }
        }

        return new DeviceHistoryAnswer(chosen.Measurement, chosen.Field, bucketMs, [.. starts], [.. lows], [.. highs]);
    }

    /// <summary>The given field if it is numeric and its measurement has a device tag, else the device's first numeric field.</summary>
    private static (string Measurement, string Field)? ChooseField(DuckDBConnection connection, DeviceFieldCatalog catalog, string device, string? measurement, string? field)
    {
        // The types whose values the API writes as JSON numbers: those a chart can draw.
        var candidates = catalog.Columns(connection)
            .Where(c => NumericTypes.Contains(c.DataType) || c.DataType.StartsWith("DECIMAL", StringComparison.Ordinal))
            .Where(c => measurement is null || (c.Measurement == measurement && c.Column == field))
            .Select(c => (Id: c.MeasurementId, c.Measurement, Field: c.Column))
            .ToList();
        if (measurement is not null)
        {
            return candidates.Count == 0 ? null : (candidates[0].Measurement, candidates[0].Field);
        }

        int checkedId = -1;
        bool hasSeries = false;
        foreach (var (id, name, column) in candidates)
        {
            if (id != checkedId)
            {
                checkedId = id;
                hasSeries = HasSeries(connection, id, device);
            }

            if (hasSeries)
            {
                return (name, column);
            }
        }

        return null;
    }

    private static bool HasSeries(DuckDBConnection connection, int measurementId, string device)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT 1 FROM {SqlNames.InternalSchema}.{SqlNames.SeriesTable(measurementId)} WHERE device = $1 LIMIT 1";
        command.Parameters.Add(new DuckDBParameter(device));
        return command.ExecuteScalar() is not null;
    }
}

/// <summary>The field asked for is not one a device history can chart (missing, not numeric, or without a device tag).</summary>
public sealed class DeviceHistoryFieldException(string message) : Exception(message);
