using System.Collections.Concurrent;
using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// Rebuilds the live state at start from what the store holds: the latest value per device and property from
/// <c>state_history</c>, the newest position from <c>positions</c>, dead-letter counts from <c>dead_letters</c>, and
/// last_seen from the previous run's snapshot. Each source is read only if it exists with the columns it needs
/// (a new database has none of them; users may have created <c>positions</c> with other columns).
/// </summary>
internal static class LiveStateLoader
{
    /// <summary>Fills <paramref name="devices"/>; returns the number of dead letters recorded so far.</summary>
    public static long Load(MetadataConnection connection, ConcurrentDictionary<string, LiveDevice> devices)
    {
        var views = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        connection.Query($"SELECT view_name FROM duckdb_views() WHERE schema_name = '{DeviceDataNames.Namespace}' AND NOT internal", r => views.Add(r.GetString(0)));

        if (views.Contains(DeviceDataNames.StateHistory))
        {
            LoadStateHistory(connection, devices);
        }

        if (views.Contains(DeviceDataNames.Positions))
        {
            ReadNewestPositions(connection, (device, lat, lon, timeNs) =>
            {
                var entry = LiveDevice.Of(devices, device);
                entry.HasPosition = true;
                entry.Lat = lat;
                entry.Lon = lon;
                entry.PositionNs = timeNs;
            });
        }

        long deadLetters = 0;
        if (views.Contains(DeviceDataNames.DeadLetters) && HasColumns(connection, DeviceDataNames.DeadLetters, "device"))
        {
            connection.Query($"SELECT device, count(*) FROM {DeviceDataNames.Namespace}.{DeviceDataNames.DeadLetters} WHERE device IS NOT NULL GROUP BY ALL", r =>
            {
                long count = r.GetInt64(1);
                LiveDevice.Of(devices, r.GetString(0)).DeadLetters = count;
                deadLetters += count;
            });
        }

        // last_seen of plain telemetry is not in any history: the previous run's snapshot keeps it.
        connection.Query($"SELECT device, epoch_ns(last_seen) FROM {DeviceDataNames.DeviceStateTable} WHERE last_seen IS NOT NULL", r =>
        {
            var entry = LiveDevice.Of(devices, r.GetString(0));
            entry.LastSeenNs = Math.Max(entry.LastSeenNs, r.GetInt64(1));
        });

        return deadLetters;
    }

    /// <summary>Each device's newest stored position, if <c>main.positions</c> exists with the columns it needs.</summary>
    public static void ReadNewestPositions(MetadataConnection connection, Action<string, double, double, long> position)
    {
        if (!HasColumns(connection, DeviceDataNames.Positions, "device", "lat", "lon"))
        {
            return;
        }

        connection.Query(
            $"SELECT device, arg_max(lat, time), arg_max(lon, time), epoch_ns(max(time)) FROM {DeviceDataNames.Namespace}.{DeviceDataNames.Positions} " +
            "WHERE device IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL GROUP BY ALL",
            r => position(r.GetString(0), r.GetDouble(1), r.GetDouble(2), r.GetInt64(3)));
    }

    private static void LoadStateHistory(MetadataConnection connection, ConcurrentDictionary<string, LiveDevice> devices)
    {
        var columns = ColumnsOf(connection, DeviceDataNames.StateHistory);
        if (!(columns.Contains("device") && columns.Contains("property") && columns.Contains("value")))
        {
            return;
        }

        string number = columns.Contains("value_num") ? "arg_max(value_num, time)" : "NULL::DOUBLE";
        string reason = columns.Contains("reason") ? "arg_max(reason, time)" : "NULL::VARCHAR";
        connection.Query(
            $"SELECT device, property, arg_max(value, time), {number}, {reason}, epoch_ns(max(time)) FROM {DeviceDataNames.Namespace}.{DeviceDataNames.StateHistory} " +
            "WHERE device IS NOT NULL AND property IS NOT NULL AND value IS NOT NULL GROUP BY ALL",
            r =>
            {
                var entry = LiveDevice.Of(devices, r.GetString(0));
                string property = r.GetString(1);
                string value = r.GetString(2);
                double? num = r.IsDBNull(3) ? null : r.GetDouble(3);
                long time = r.GetInt64(5);
                entry.LastHistoryNs = Math.Max(entry.LastHistoryNs, time);
                entry.LastSeenNs = Math.Max(entry.LastSeenNs, time);
                if (string.Equals(property, DeviceDataNames.OnlineProperty, StringComparison.Ordinal))
                {
                    entry.Online = string.Equals(value, "true", StringComparison.Ordinal);
                    entry.LastReason = r.IsDBNull(4) ? null : r.GetString(4);
                    entry.LastReasonNs = time;
                }
                else
                {
                    entry.Properties[property] = new LiveProperty(value, num, KindOf(value, num), time);
                }
            });
    }

    private static bool HasColumns(MetadataConnection connection, string view, params string[] names)
    {
        var columns = ColumnsOf(connection, view);
        return names.All(columns.Contains);
    }

    private static HashSet<string> ColumnsOf(MetadataConnection connection, string view)
    {
        var columns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        connection.Query($"SELECT column_name FROM duckdb_columns() WHERE schema_name = '{DeviceDataNames.Namespace}' AND table_name = '{view}'", r => columns.Add(r.GetString(0)));
        return columns;
    }

    private static ReportedKind KindOf(string value, double? number) => (value, number) switch
    {
        ("true" or "false", not null) => ReportedKind.Boolean,
        (_, not null) => ReportedKind.Number,
        ("null", null) => ReportedKind.Null,
        _ when value.StartsWith('[') => ReportedKind.Json,
        _ => ReportedKind.String,
    };
}
