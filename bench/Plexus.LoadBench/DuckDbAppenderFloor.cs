using System.Diagnostics;
using DuckDB.NET.Data;

namespace Plexus.LoadBench;

/// <summary>
/// The DuckDB baseline: the same rows, already typed (no text, no parsing, no HTTP), appended with
/// DuckDB.NET's appender in one transaction into tables shaped like Plexus's own (a series table with the
/// tags, a data table of series id, time and fields per measurement), then committed and checkpointed.
/// </summary>
/// <remarks>
/// This is a reference point, not a strict lower bound: DuckDB.NET's row appender converts value by value,
/// while Plexus fills DuckDB data chunks in place (NativeChunkAppender), so Plexus's storage step can be
/// cheaper per row than this. What it does fix is the bytes: the same layout and the same values give the
/// size DuckDB makes of them with nothing of Plexus in the way, and one commit is the cheapest durability.
/// </remarks>
internal static class DuckDbAppenderFloor
{
    public static async Task<DuckDbFloorResult> RunAsync(TsbsIotDataSet data, string directory)
    {
        var readings = data.Readings ?? throw new InvalidOperationException("the data set was generated without typed rows");
        var diagnostics = data.Diagnostics ?? throw new InvalidOperationException("the data set was generated without typed rows");
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "floor.duckdb");
        string tagColumns = string.Join(", ", TruckTags.Keys.Select(k => $"{k} VARCHAR"));

        ResourceUsage usage;
        TimeSpan wall;
        TimeSpan checkpoint;
        long usedBytes;
        using (var connection = new DuckDBConnection($"Data Source={path}"))
        {
            connection.Open();
            Execute(connection, $"CREATE TABLE readings_series (series_id INTEGER NOT NULL, {tagColumns})");
            Execute(connection, $"CREATE TABLE diagnostics_series (series_id INTEGER NOT NULL, {tagColumns})");
            Execute(connection, "CREATE TABLE readings (series_id INTEGER NOT NULL, time TIMESTAMP_NS NOT NULL, latitude DOUBLE, longitude DOUBLE, elevation DOUBLE, velocity DOUBLE, heading DOUBLE, grade DOUBLE, fuel_consumption DOUBLE)");
            Execute(connection, "CREATE TABLE diagnostics (series_id INTEGER NOT NULL, time TIMESTAMP_NS NOT NULL, fuel_state DOUBLE, current_load DOUBLE, status BIGINT)");

            await JitQuiet.WaitAsync(TimeProvider.System);
            await using var sampler = ResourceSampler.Start();
            long started = Stopwatch.GetTimestamp();
            using (var transaction = connection.BeginTransaction())
            {
                AppendSeries(connection, "readings_series", data.Trucks);
                AppendSeries(connection, "diagnostics_series", data.Trucks);
                using (var appender = connection.CreateAppender("readings"))
                {
                    foreach (ref readonly var row in readings.AsSpan())
                    {
                        appender.CreateRow()
                            .AppendValue(row.Series)
                            .AppendValue(ToDateTime(row.Time))
                            .AppendValue(row.Latitude)
                            .AppendValue(row.Longitude)
                            .AppendValue(row.Elevation)
                            .AppendValue(row.Velocity)
                            .AppendValue(row.Heading)
                            .AppendValue(row.Grade)
                            .AppendValue(row.FuelConsumption)
                            .EndRow();
                    }
                }

                using (var appender = connection.CreateAppender("diagnostics"))
                {
                    foreach (ref readonly var row in diagnostics.AsSpan())
                    {
                        appender.CreateRow()
                            .AppendValue(row.Series)
                            .AppendValue(ToDateTime(row.Time))
                            .AppendValue(row.FuelState)
                            .AppendValue(row.CurrentLoad)
                            .AppendValue(row.Status)
                            .EndRow();
                    }
                }

                transaction.Commit();
            }

            wall = Stopwatch.GetElapsedTime(started);
            usage = await sampler.StopAsync();

            long count = Count(connection, "SELECT (SELECT count(*) FROM readings) + (SELECT count(*) FROM diagnostics)");
            if (count != data.Rows)
            {
                throw new InvalidOperationException($"the DuckDB baseline holds {count} rows, not {data.Rows}");
            }

            long checkpointStarted = Stopwatch.GetTimestamp();
            Execute(connection, "CHECKPOINT");
            checkpoint = Stopwatch.GetElapsedTime(checkpointStarted);
            usedBytes = DiskUsage.UsedBlockBytesOf(connection);
        }

        // The only connection to this file is closed, so the database is closed and the file is final.
        var bytes = DiskUsage.Measure(directory, "floor.duckdb") with { UsedBlockBytes = usedBytes };
        return new DuckDbFloorResult(wall, usage, checkpoint, bytes);
    }

    private static void AppendSeries(DuckDBConnection connection, string table, IReadOnlyList<TruckTags> trucks)
    {
        using var appender = connection.CreateAppender(table);
        for (int i = 0; i < trucks.Count; i++)
        {
            var row = appender.CreateRow().AppendValue(i);
            foreach (string value in trucks[i].Values)
            {
                row.AppendValue(value);
            }

            row.EndRow();
        }
    }

    private static DateTime ToDateTime(long unixNanoseconds) => DateTime.UnixEpoch.AddTicks(unixNanoseconds / 100);

    private static void Execute(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static long Count(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }
}

internal sealed record DuckDbFloorResult(TimeSpan Wall, ResourceUsage Usage, TimeSpan Checkpoint, DiskUsage Bytes);
