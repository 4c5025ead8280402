using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

public sealed class StoreWriterTests : IDisposable
{
    private readonly TempDirectory _dir = new("plexus-storage");

    public void Dispose() => _dir.Dispose();

    private PlexusStore Open() => PlexusStore.Open(new StorageOptions { DataDirectory = _dir.Path, Threads = 2 });

    private static List<object?[]> Rows(PlexusStore store, string sql) => StoreRows.Read(store, sql);

    [Fact]
    public async Task Points_become_rows_of_a_view_named_after_the_measurement()
    {
        await using var store = Open();
        var points = new PointBuilder()
            .Point("cpu", 1_000, [("host", "a")], ("usage", 1.5), ("count", 3L), ("ok", true), ("note", "fine"), ("big", ulong.MaxValue))
            .Point("cpu", 2_000, [("host", "b")], ("usage", 2.5));

        var result = await store.Writer.WriteAsync("main", points.Batch);

        Assert.Equal(2, result.PointsWritten);
        Assert.Empty(result.Rejected);
        var rows = Rows(store, "SELECT epoch_ns(time), host, usage, count, ok, note, big FROM cpu ORDER BY time");
        Assert.Equal(2, rows.Count);
        Assert.Equal(new object?[] { 1_000L, "a", 1.5, 3L, true, "fine", ulong.MaxValue }, rows[0]);
        Assert.Equal(new object?[] { 2_000L, "b", 2.5, null, null, null, null }, rows[1]);
    }

    [Fact]
    public async Task Timestamps_keep_nanosecond_precision()
    {
        await using var store = Open();
        var points = new PointBuilder()
            .Point("m", 1_700_000_000_123_456_789, null, ("v", 1.0))
            .Point("m", 1_700_000_000_123_456_790, null, ("v", 2.0));

        await store.Writer.WriteAsync("main", points.Batch);

        var rows = Rows(store, "SELECT epoch_ns(time) FROM m ORDER BY time");
        Assert.Equal([1_700_000_000_123_456_789L, 1_700_000_000_123_456_790L], rows.Select(r => (long)r[0]!));
    }

    [Fact]
    public async Task New_tags_and_fields_grow_the_schema()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 1, [("site", "x")], ("temp", 20.0)).Batch);
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 2, [("site", "x"), ("room", "r1")], ("humidity", 40L)).Batch);

        var rows = Rows(store, "SELECT site, room, temp, humidity FROM env ORDER BY time");

        Assert.Equal(new object?[] { "x", null, 20.0, null }, rows[0]);
        Assert.Equal(new object?[] { "x", "r1", null, 40L }, rows[1]);
    }

    [Fact]
    public async Task Field_type_conflict_rejects_only_that_point_and_names_both_types()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder().Point("m", 1, null, ("v", 1.0)).Batch);

        var result = await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 2, null, ("v", 2L))
            .Point("m", 3, null, ("v", 3.0)).Batch);

        Assert.Equal(1, result.PointsWritten);
        var error = Assert.Single(result.Rejected);
        Assert.Equal(1, error.Line);
        Assert.Contains("\"m\"", error.Reason);
        Assert.Contains("\"v\"", error.Reason);
        Assert.Contains("float", error.Reason);
        Assert.Contains("integer", error.Reason);
        Assert.Equal(2, Rows(store, "SELECT count(*) FROM m")[0][0] is long n ? n : -1);
    }

    [Fact]
    public async Task A_point_shaped_almost_like_the_one_before_it_is_resolved_on_its_own()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 1, [("host", "a")], ("v", 1.0), ("w", 1.0))
            .Point("n", 1, [("host", "a")], ("v", 1.0), ("w", 1.0)).Batch);

        // Every point of this write after the first has the measurement and keys of the one before it but one thing.
        var result = await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 2, [("host", "a")], ("v", 2.0), ("w", 20.0))
            .Point("m", 3, [("host", "b")], ("v", 3L), ("w", 30.0))
            .Point("m", 4, [("host", "c")], ("w", 40.0), ("v", 4.0))
            .Point("m", 5, [("site", "x")], ("w", 50.0), ("v", 5.0))
            .Point("n", 6, [("site", "x")], ("w", 60.0), ("v", 6.0))
            .Point("n", 7, [("site", "x")], ("w", 70.0), ("v", 7.0), ("u", 7.5)).Batch);

        Assert.Equal(5, result.PointsWritten);
        var refused = Assert.Single(result.Rejected);
        Assert.Equal(2, refused.Line);
        Assert.Contains("field type conflict", refused.Reason);
        Assert.Equal(
            [[2L, "a", null, 2.0, 20.0], [4L, "c", null, 4.0, 40.0], [5L, null, "x", 5.0, 50.0]],
            Rows(store, "SELECT epoch_ns(time), host, site, v, w FROM m WHERE time > make_timestamp_ns(1) ORDER BY time"));
        Assert.Equal(
            [[6L, null, "x", 6.0, 60.0, null], [7L, null, "x", 7.0, 70.0, 7.5]],
            Rows(store, "SELECT epoch_ns(time), host, site, v, w, u FROM n WHERE time > make_timestamp_ns(1) ORDER BY time"));
    }

    [Fact]
    public async Task Names_that_differ_only_in_case_are_refused_with_a_reason()
    {
        await using var store = Open();
        var result = await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 1, [("Host", "a")], ("v", 1.0))
            .Point("m", 2, [("host", "a")], ("v", 1.0))
            .Point("M", 3, null, ("v", 1.0))
            .Point("m", 4, [("v", "tag")], ("w", 1.0)).Batch);

        Assert.Equal(1, result.PointsWritten);
        Assert.Equal([2, 3, 4], result.Rejected.Select(e => e.Line));
        Assert.Contains("letter case", result.Rejected[1].Reason);
    }

    [Fact]
    public async Task Later_write_of_same_series_and_time_wins_for_the_fields_it_carries()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 10, [("id", "1")], ("a", 1.0), ("b", 1.0))
            .Point("m", 20, [("id", "1")], ("a", 2.0)).Batch);

        // A rewrite of an older point, a duplicate inside one batch, and a late point that is new.
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 10, [("id", "1")], ("b", 9.0))
            .Point("m", 30, [("id", "1")], ("a", 3.0))
            .Point("m", 30, [("id", "1")], ("a", 4.0), ("b", 4.0))
            .Point("m", 5, [("id", "1")], ("a", 0.5))
            .Point("m", 10, [("id", "1")], ("a", 7.0)).Batch);

        var rows = Rows(store, "SELECT epoch_ns(time), a, b FROM m ORDER BY time");

        Assert.Equal(
            [
                [5L, 0.5, null],
                [10L, 7.0, 9.0],
                [20L, 2.0, null],
                [30L, 4.0, 4.0],
            ],
            rows);
    }

    [Fact]
    public async Task Interleaved_batches_append_new_times_and_merge_only_true_duplicates()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 10, [("id", "1")], ("a", 1.0))
            .Point("m", 30, [("id", "1")], ("a", 3.0))
            .Point("m", 50, [("id", "1")], ("a", 5.0)).Batch);

        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 20, [("id", "1")], ("a", 2.0))
            .Point("m", 30, [("id", "1")], ("b", 33.0))
            .Point("m", 40, [("id", "1")], ("a", 4.0)).Batch);

        var rows = Rows(store, "SELECT epoch_ns(time), a, b FROM m ORDER BY time");
        Assert.Equal(
            [
                [10L, 1.0, null],
                [20L, 2.0, null],
                [30L, 3.0, 33.0],
                [40L, 4.0, null],
                [50L, 5.0, null],
            ],
            rows);
    }

    [Fact]
    public async Task Same_time_in_different_series_is_not_a_duplicate()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 10, [("id", "1")], ("a", 1.0))
            .Point("m", 10, [("id", "2")], ("a", 2.0))
            .Point("m", 10, null, ("a", 3.0)).Batch);

        Assert.Equal(3L, Rows(store, "SELECT count(*) FROM m")[0][0]);
    }

    [Fact]
    public async Task Data_and_schema_survive_a_restart_and_duplicates_are_still_detected()
    {
        await using (var store = Open())
        {
            await store.Writer.WriteAsync("fleet", new PointBuilder()
                .Point("t", 10, [("truck", "a"), ("fleet", "x")], ("speed", 1.0))
                .Point("t", 20, [("fleet", "x"), ("truck", "a")], ("speed", 2.0)).Batch);
        }

        await using (var store = Open())
        {
            var result = await store.Writer.WriteAsync("fleet", new PointBuilder()
                .Point("t", 20, [("truck", "a"), ("fleet", "x")], ("speed", 5.0))
                .Point("t", 30, [("truck", "a"), ("fleet", "x")], ("speed", 6.0)).Batch);
            Assert.Equal(2, result.PointsWritten);

            var rows = Rows(store, "SELECT epoch_ns(time), truck, fleet, speed FROM fleet.t ORDER BY time");
            Assert.Equal(
                [
                    [10L, "a", "x", 1.0],
                    [20L, "a", "x", 5.0],
                    [30L, "a", "x", 6.0],
                ],
                rows);
            Assert.Equal(1L, Rows(store, "SELECT count(*) FROM _plexus.s1")[0][0]);
        }
    }

    [Fact]
    public async Task Concurrent_writers_share_commits_and_lose_nothing()
    {
        await using var store = Open();
        const int writers = 8;
        const int batchesPerWriter = 20;
        const int pointsPerBatch = 500;
        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (int b = 0; b < batchesPerWriter; b++)
            {
                var builder = new PointBuilder();
                for (int p = 0; p < pointsPerBatch; p++)
                {
                    builder.Point("load", (b * pointsPerBatch) + p, [("writer", w.ToString())], ("v", (double)p));
                }

                var result = await store.Writer.WriteAsync("main", builder.Batch);
                Assert.Equal(pointsPerBatch, result.PointsWritten);
            }
        })).ToArray();

        await Task.WhenAll(tasks);

        Assert.Equal((long)writers * batchesPerWriter * pointsPerBatch, Rows(store, "SELECT count(*) FROM load")[0][0]);
        Assert.True(store.Writer.Commits < writers * batchesPerWriter, $"expected shared commits, saw {store.Writer.Commits}");
    }

    [Fact]
    public async Task Namespaces_are_separate_schemas()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("main", new PointBuilder().Point("m", 1, null, ("v", 1.0)).Batch);
        await store.Writer.WriteAsync("other", new PointBuilder().Point("m", 1, null, ("v", 2L)).Batch);

        Assert.Equal(1.0, Rows(store, "SELECT v FROM main.m")[0][0]);
        Assert.Equal(2L, Rows(store, "SELECT v FROM other.m")[0][0]);
    }

    [Fact]
    public async Task Reserved_column_names_are_refused()
    {
        await using var store = Open();
        var result = await store.Writer.WriteAsync("main", new PointBuilder()
            .Point("m", 1, [("_series_id", "x")], ("v", 1.0))
            .Point("m", 2, null, ("Time", 1.0)).Batch);

        Assert.Equal(0, result.PointsWritten);
        Assert.All(result.Rejected, e => Assert.Contains("reserved", e.Reason));
    }

    [Fact]
    public async Task Many_rows_span_several_chunks_and_strings_keep_their_bytes()
    {
        await using var store = Open();
        var builder = new PointBuilder();
        for (int i = 0; i < 5_000; i++)
        {
            builder.Point("s", i, [("k", "ü-" + (i % 7))], ("text", "värde " + i), ("n", (long)i));
        }

        await store.Writer.WriteAsync("main", builder.Batch);

        var rows = Rows(store, "SELECT count(*), sum(n), count(DISTINCT k), max(text) FILTER (WHERE n = 4999) FROM s");
        Assert.Equal(new object?[] { 5_000L, (decimal)(4999L * 5000 / 2), 7L, "värde 4999" }, rows[0].Select(v => v is System.Numerics.BigInteger b ? (decimal)b : v).ToArray());
    }

    [Fact]
    public async Task A_write_of_thousands_of_points_grows_the_schema_adds_series_and_merges_duplicates_within_it()
    {
        // One direct commit: columns that appear after thousands of rows were staged, series first seen late in the
        // write, and a key repeated thousands of points later (the later value wins for the fields it carries).
        int step = 1_000;
        await using var store = Open();
        var builder = new PointBuilder();
        for (int i = 0; i < step * 3; i++)
        {
            if (i < step + 10)
            {
                builder.Point("big", i, [("dev", "d" + (i % 3))], ("v", (double)i));
            }
            else
            {
                builder.Point("big", i, [("dev", "d" + (i % 5)), ("site", "s1")], ("v", (double)i), ("extra", (long)i));
            }
        }

        builder.Point("big", 7, [("dev", "d1")], ("v", -7.0));
        builder.Point("big", step + 20, [("dev", "d" + ((step + 20) % 5)), ("site", "s1")], ("extra", -1L));

        var result = await store.Writer.WriteAsync("main", builder.Batch);

        Assert.Equal((step * 3) + 2, result.PointsWritten);
        Assert.Empty(result.Rejected);
        var rows = Rows(store, "SELECT count(*), count(DISTINCT dev), count(site), count(extra), sum(v) FROM big");
        double expectedSum = (step * 3.0 * ((step * 3) - 1) / 2) - 7 - 7;
        Assert.Equal(new object?[] { (long)step * 3, 5L, (long)((step * 3) - step - 10), (long)((step * 3) - step - 10), expectedSum }, rows[0]);
        Assert.Equal(new object?[] { -7.0, null }, Rows(store, "SELECT v, extra FROM big WHERE epoch_ns(time) = 7")[0]);
        Assert.Equal(new object?[] { (double)(step + 20), -1L }, Rows(store, $"SELECT v, extra FROM big WHERE epoch_ns(time) = {step + 20}")[0]);
    }
}
