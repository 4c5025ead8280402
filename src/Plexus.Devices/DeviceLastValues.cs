using System.Text;
using DuckDB.NET.Data;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Devices;

/// <summary>The newest non-null value of one field of one measurement for a device, and its time.</summary>
public sealed record LastValue(string Measurement, string Field, object Value, DateTimeOffset Time);

/// <summary>
/// The last value of every field of every measurement in <c>main</c> with a <c>device</c> tag, for one device,
/// computed with SQL when asked: the newest by time, not by arrival, so late data and restarts change nothing.
/// </summary>
/// <remarks>
/// Cost: per measurement that carries a device tag, one aggregate query over the device's last day of rows (before
/// its newest point), and a second over its whole history only for fields that day lacks. Fine for a device page;
/// not meant for every device at once — use SQL for that.
/// </remarks>
public static class DeviceLastValues
{
    private static readonly HashSet<string> Excluded = new(StringComparer.OrdinalIgnoreCase)
    {
        DeviceDataNames.StateHistory, DeviceDataNames.DeadLetters,
    };

    /// <summary>Plexus's own records of a device (its state history, its refused messages): not its data.</summary>
    public static bool IsInternal(string measurement) => Excluded.Contains(measurement);

    /// <summary>
    /// The field columns of every measurement in <c>main</c> with a <c>device</c> tag, Plexus's own records left out, by
    /// measurement name then column order: the order the device page shows them in.
    /// </summary>
    internal static List<(int MeasurementId, string Measurement, string Column, string DataType)> DeviceFieldColumns(DuckDBConnection connection)
    {
        var columns = new List<(int, string, string, string)>();
        using var command = connection.CreateCommand();
        command.CommandText = $"""
            SELECT m.id, m.name, c.column_name, c.data_type
            FROM {SqlNames.InternalSchema}.measurements m
            JOIN duckdb_columns() c ON c.schema_name = '{SqlNames.InternalSchema}' AND c.table_name = 'd' || m.id
            WHERE m.namespace = $1 AND c.column_name NOT IN ('{SqlNames.SeriesIdColumn}', '{SqlNames.TimeColumn}')
              AND EXISTS (SELECT 1 FROM duckdb_columns() t
                          WHERE t.schema_name = '{SqlNames.InternalSchema}' AND t.table_name = 's' || m.id AND t.column_name = 'device')
            ORDER BY m.name, c.column_index
            """;
        command.Parameters.Add(new DuckDBParameter(DeviceDataNames.Namespace));
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            string measurement = reader.GetString(1);
            if (!IsInternal(measurement))
            {
                columns.Add((reader.GetInt32(0), measurement, reader.GetString(2), reader.GetString(3)));
            }
        }

        return columns;
    }

    public static IReadOnlyList<LastValue> Query(PlexusStore store, DeviceFieldCatalog catalog, string device)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(device);
        using var connection = store.OpenReadConnection();
        var fields = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var column in catalog.Columns(connection))
        {
            if (!fields.TryGetValue(column.Measurement, out var list))
            {
                fields[column.Measurement] = list = [];
            }

            list.Add(column.Column);
        }

        var values = new List<LastValue>();
        foreach (var (measurement, columns) in fields)
        {
            // The newest values are nearly always in the device's newest rows: read the last day before its newest
            // point first, and the whole history only for the fields that day did not have.
            var missing = new List<string>();
            AddLastValues(connection, measurement, columns, device, RecentSpan, values, missing);
            if (missing.Count > 0)
            {
                AddLastValues(connection, measurement, missing, device, null, values, null);
            }
        }

        return values;
    }

    /// <summary>How far before a device's newest point the first pass looks for each field's last value.</summary>
    private static readonly TimeSpan RecentSpan = TimeSpan.FromDays(1);

    private static void AddLastValues(DuckDBConnection connection, string measurement, List<string> columns, string device, TimeSpan? recent,
        List<LastValue> values, List<string>? missing)
    {
        string source = $"{SqlNames.Quote(DeviceDataNames.Namespace)}.{SqlNames.Quote(measurement)}";
        var sql = new StringBuilder("SELECT ");
        for (int i = 0; i < columns.Count; i++)
        {
            string column = SqlNames.Quote(columns[i]);
            sql.Append(i == 0 ? string.Empty : ", ")
                .Append($"arg_max({column}, time) FILTER (WHERE {column} IS NOT NULL), epoch_ns(max(time) FILTER (WHERE {column} IS NOT NULL))");
        }

        sql.Append($" FROM {source} WHERE device = $1");
        if (recent is { } span)
        {
            sql.Append($" AND time >= (SELECT max(time) FROM {source} WHERE device = $1) - INTERVAL {(long)span.TotalSeconds} SECOND");
        }

        using var command = connection.CreateCommand();
        command.CommandText = sql.ToString();
        command.Parameters.Add(new DuckDBParameter(device));
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            missing?.AddRange(columns);
            return;
        }

        for (int i = 0; i < columns.Count; i++)
        {
            if (reader.IsDBNull(2 * i) || reader.IsDBNull((2 * i) + 1))
            {
                missing?.Add(columns[i]);
                continue;
            }

            values.Add(new LastValue(measurement, columns[i], reader.GetValue(2 * i), DateTimeOffset.UnixEpoch.AddTicks(reader.GetInt64((2 * i) + 1) / 100)));
        }
    }
}
