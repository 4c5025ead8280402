using System.Text;
using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

/// <summary>The writer's schema limits on a real DuckDB file: refused before any DDL, exact at the boundary.</summary>
public sealed class SchemaLimitTests : IDisposable
{
    private readonly TempDirectory _dir = new("plexus-limits");

    public void Dispose() => _dir.Dispose();

    private PlexusStore Open(SchemaLimits? limits = null) =>
        PlexusStore.Open(new StorageOptions { DataDirectory = _dir.Path, Threads = 2, SchemaLimits = limits ?? SchemaLimits.Default });

    private static long Scalar(PlexusStore store, string sql)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static long Measurements(PlexusStore store) => Scalar(store, "SELECT count(*) FROM _plexus.measurements");

    private static long Tables(PlexusStore store) => Scalar(store, "SELECT count(*) FROM duckdb_tables() WHERE schema_name = '_plexus'");

    /// <summary>One point of <paramref name="measurement"/> with fields f0..f(n-1).</summary>
    private static PointBatch Wide(string measurement, int fields, string prefix = "f", long time = 1)
    {
        var batch = new PointBatch();
        batch.BeginPoint(Encoding.UTF8.GetBytes(measurement), 1);
        for (int i = 0; i < fields; i++)
        {
            batch.AddFloat(batch.AppendText(Encoding.UTF8.GetBytes(prefix + i)), i);
        }

        batch.EndPoint(time);
        return batch;
    }

    /// <summary>One point in each of <paramref name="count"/> measurements m0..m(n-1).</summary>
    private static PointBatch Measurements(int count, string prefix = "m")
    {
        var points = new PointBuilder();
        for (int i = 0; i < count; i++)
        {
            points.Point(prefix + i, 1, null, ("v", 1.0));
        }

        return points.Batch;
    }

    [Fact]
    public async Task Line_with_5000_fields_is_refused_naming_the_column_limit_and_nothing_is_created()
    {
        await using var store = Open();
        long tables = Tables(store);

        var result = await store.Writer.WriteAsync("main", Wide("wide", 5_000));

        Assert.Equal(0, result.PointsWritten);
        var error = Assert.Single(result.Rejected);
        Assert.Contains("\"wide\"", error.Reason);
        Assert.Contains("5000 columns", error.Reason);
        Assert.Contains("at most 500", error.Reason);
        Assert.Contains("--max-columns-per-measurement", error.Reason);
        Assert.Equal(0, Measurements(store));
        Assert.Equal(tables, Tables(store));
        Assert.Equal(0, store.Writer.SchemaVersion);
    }

    [Fact]
    public async Task Write_creating_1000_measurements_is_refused_whole_before_any_DDL()
    {
        await using var store = Open();
        long tables = Tables(store);

        var refusal = await Assert.ThrowsAsync<SchemaLimitException>(() => store.Writer.WriteAsync("main", Measurements(1_000)));

        Assert.True(refusal.PerWrite);
        Assert.Equal(SchemaLimits.MaxNewMeasurementsPerWriteOption, refusal.Option);
        Assert.Equal(100, refusal.Limit);
        Assert.Equal(101, refusal.Value);
        Assert.Contains("more than 100 new measurements", refusal.Message);
        Assert.Contains("--max-new-measurements-per-write", refusal.Message);
        Assert.Equal(0, Measurements(store));
        Assert.Equal(tables, Tables(store));
        Assert.Equal(0, store.Writer.SchemaVersion);
    }

    [Fact]
    public async Task Refusal_before_DDL_does_not_stop_a_concurrent_small_writer()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder().Point("small", 1, [("id", "a")], ("v", 1.0)).Batch);
        long acknowledged = 0;
        using var stop = new CancellationTokenSource();
        var small = Task.Run(async () =>
        {
            for (long time = 2; !stop.IsCancellationRequested; time++)
            {
                var result = await store.Writer.WriteAsync("main", new PointBuilder().Point("small", time, [("id", "a")], ("v", 1.0)).Batch);
                Assert.Equal(1, result.PointsWritten);
                Interlocked.Increment(ref acknowledged);
            }
        });
        await Eventually.TrueAsync(() => Interlocked.Read(ref acknowledged) >= 3, because: "the small writer is acknowledged");

        var big = Task.WhenAll(Enumerable.Range(0, 4).Select(i => store.Writer.WriteAsync("main", Measurements(1_000, $"big{i}_"))));
        await Assert.ThrowsAsync<SchemaLimitException>(() => big);
        long afterRefusal = Interlocked.Read(ref acknowledged);
        await Eventually.TrueAsync(() => Interlocked.Read(ref acknowledged) >= afterRefusal + 3, because: "the small writer goes on being acknowledged");
        await stop.CancelAsync();
        await small;

        Assert.Equal(1, Measurements(store));
        Assert.Equal(Interlocked.Read(ref acknowledged) + 1, Scalar(store, "SELECT count(*) FROM small"));
    }

    [Fact]
    public async Task New_measurements_per_write_at_the_limit_are_accepted_and_one_more_refuses_the_write()
    {
        await using var store = Open(new SchemaLimits { MaxNewMeasurementsPerWrite = 3 });

        var atLimit = await store.Writer.WriteAsync("main", Measurements(3, "a"));
        var refusal = await Assert.ThrowsAsync<SchemaLimitException>(() => store.Writer.WriteAsync("main", Measurements(4, "b")));

        Assert.Equal(3, atLimit.PointsWritten);
        Assert.Equal(4, refusal.Value);
        Assert.Equal(3, Measurements(store));

        // Points of measurements that exist do not count, however many there are.
        var existing = await store.Writer.WriteAsync("main", Measurements(3, "a"));
        Assert.Equal(3, existing.PointsWritten);
    }

    [Fact]
    public async Task New_columns_per_write_at_the_limit_are_accepted_and_one_more_refuses_the_write()
    {
        await using var store = Open(new SchemaLimits { MaxNewColumnsPerWrite = 6 });
        await store.Writer.WriteAsync("main", Wide("m", 2));

        // 4 new fields on m and 2 in a new measurement: 6.
        var atLimit = new PointBuilder()
            .Point("m", 2, null, ("f0", 1.0), ("g0", 1.0), ("g1", 1.0), ("g2", 1.0), ("g3", 1.0))
            .Point("n", 2, [("site", "x")], ("v", 1.0));
        var over = new PointBuilder()
            .Point("m", 3, [("t0", "a"), ("t1", "b"), ("t2", "c")], ("v", 1.0), ("w", 1.0))
            .Point("o", 3, [("site", "x")], ("v", 1.0));

        var accepted = await store.Writer.WriteAsync("main", atLimit.Batch);
        var refusal = await Assert.ThrowsAsync<SchemaLimitException>(() => store.Writer.WriteAsync("main", over.Batch));

        Assert.Equal(2, accepted.PointsWritten);
        Assert.Equal(SchemaLimits.MaxNewColumnsPerWriteOption, refusal.Option);
        Assert.Equal(7, refusal.Value);
        Assert.Contains("--max-new-columns-per-write", refusal.Message);
        Assert.Equal(2, Measurements(store));
        Assert.Equal(6, Scalar(store, "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = 'm' AND column_name <> 'time'"));
    }

    [Fact]
    public async Task New_series_per_write_at_the_limit_are_accepted_and_one_more_refuses_the_write()
    {
        await using var store = Open(new SchemaLimits { MaxNewSeriesPerWrite = 5 });
        await store.Writer.WriteAsync("main", new PointBuilder().Point("m", 1, [("id", "0")], ("v", 1.0)).Batch);

        // Six points, five new series (id 0 exists, id 3 repeats): at the limit.
        var atLimit = new PointBuilder();
        foreach (string id in new[] { "0", "1", "2", "3", "3", "4", "5" })
        {
            atLimit.Point("m", 2, [("id", id)], ("v", 1.0));
        }

        var over = new PointBuilder();
        for (int i = 10; i < 16; i++)
        {
            over.Point("m", 2, [("id", i.ToString(System.Globalization.CultureInfo.InvariantCulture))], ("v", 1.0));
        }

        var accepted = await store.Writer.WriteAsync("main", atLimit.Batch);
        var refusal = await Assert.ThrowsAsync<SchemaLimitException>(() => store.Writer.WriteAsync("main", over.Batch));

        Assert.Equal(7, accepted.PointsWritten);
        Assert.Equal(SchemaLimits.MaxNewSeriesPerWriteOption, refusal.Option);
        Assert.Equal(6, refusal.Value);
        Assert.Contains("--max-new-series-per-write", refusal.Message);
        Assert.Equal(6, Scalar(store, "SELECT count(DISTINCT id) FROM m"));
    }

    [Fact]
    public async Task Small_write_over_the_series_limit_is_checked_instead_of_logged()
    {
        // Fewer points than a direct commit needs and every name known: such a write is normally only logged.
        await using var store = Open(new SchemaLimits { MaxNewSeriesPerWrite = 10 });
        await store.Writer.WriteAsync("main", new PointBuilder().Point("m", 1, [("id", "x")], ("v", 1.0)).Batch);
        var over = new PointBuilder();
        for (int i = 0; i < 11; i++)
        {
            over.Point("m", 2, [("id", i.ToString(System.Globalization.CultureInfo.InvariantCulture))], ("v", 1.0));
        }

        await Assert.ThrowsAsync<SchemaLimitException>(() => store.Writer.WriteAsync("main", over.Batch));

        Assert.Equal(1, Scalar(store, "SELECT count(*) FROM m"));
    }

    [Fact]
    public async Task Measurements_per_namespace_refuse_the_line_that_would_pass_the_total()
    {
        await using var store = Open(new SchemaLimits { MaxMeasurementsPerNamespace = 3 });
        await store.Writer.WriteAsync("main", Measurements(2, "a"));

        var result = await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("b0", 1, null, ("v", 1.0))
            .Point("b1", 1, null, ("v", 1.0))
            .Point("a0", 2, null, ("v", 1.0)).Batch);

        Assert.Equal(2, result.PointsWritten);
        var error = Assert.Single(result.Rejected);
        Assert.Equal(2, error.Line);
        Assert.Contains("\"b1\" would be number 4 in namespace \"main\"", error.Reason);
        Assert.Contains("--max-measurements-per-namespace", error.Reason);
        Assert.Equal(3, Measurements(store));

        // Another namespace has its own count.
        var other = await store.Writer.WriteAsync("fleet", Measurements(3, "c"));
        Assert.Equal(3, other.PointsWritten);
    }

    [Fact]
    public async Task Columns_per_measurement_at_the_limit_are_accepted_and_a_line_passing_it_is_refused()
    {
        await using var store = Open(new SchemaLimits { MaxColumnsPerMeasurement = 4 });
        await store.Writer.WriteAsync("main", new PointBuilder().Point("m", 1, [("site", "x")], ("a", 1.0)).Batch);

        var result = await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 2, [("site", "x"), ("room", "r")], ("b", 1.0))
            .Point("m", 3, [("site", "x")], ("c", 1.0))
            .Point("m", 4, [("site", "x")], ("a", 2.0), ("b", 2.0)).Batch);

        Assert.Equal(2, result.PointsWritten);
        var error = Assert.Single(result.Rejected);
        Assert.Equal(2, error.Line);
        Assert.Contains("would have 5 columns", error.Reason);
        Assert.Contains("--max-columns-per-measurement", error.Reason);
        Assert.Equal(4, Scalar(store, "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'main' AND table_name = 'm' AND column_name <> 'time'"));
    }

    [Fact]
    public async Task Namespaces_beyond_the_limit_are_refused_and_main_always_has_its_place()
    {
        await using var store = Open(new SchemaLimits { MaxNamespaces = 2 });

        await store.Writer.WriteAsync("fleet", Measurements(1));
        var refusal = await Assert.ThrowsAsync<SchemaLimitException>(() => store.Writer.WriteAsync("plant", Measurements(1)));
        var main = await store.Writer.WriteAsync("main", Measurements(1));
        var existing = await store.Writer.WriteAsync("fleet", Measurements(2));

        Assert.False(refusal.PerWrite);
        Assert.Equal(SchemaLimits.MaxNamespacesOption, refusal.Option);
        Assert.Equal(3, refusal.Value);
        Assert.Contains("--max-namespaces", refusal.Message);
        Assert.Equal(1, main.PointsWritten);
        Assert.Equal(2, existing.PointsWritten);
        Assert.Equal(0, Scalar(store, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'plant'"));
    }

    [Fact]
    public async Task Plexus_own_device_data_is_exempt_from_the_limits()
    {
        await using var store = Open(new SchemaLimits { MaxMeasurementsPerNamespace = 1, MaxNewMeasurementsPerWrite = 1 });
        await store.Writer.WriteAsync("main", Measurements(1));

        var result = await store.Writer.WithoutSchemaLimits.WriteAsync("main", Measurements(2, "state"));

        Assert.Equal(2, result.PointsWritten);
        Assert.Equal(3, Measurements(store));
    }

    [Fact]
    public async Task Limits_outside_their_range_are_refused_at_open()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Open(new SchemaLimits { MaxNewColumnsPerWrite = 0 }));

        Assert.Contains("max-new-columns-per-write", error.Message);
        await Task.CompletedTask;
    }
}
