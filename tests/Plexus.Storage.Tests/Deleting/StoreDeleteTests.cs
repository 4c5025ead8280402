using Plexus.Storage.Deleting;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Deleting;

public sealed class StoreDeleteTests : IDisposable
{
    private readonly TempDirectory _dir = new("plexus-delete");

    public void Dispose() => _dir.Dispose();

    private PlexusStore Open() => PlexusStore.Open(new StorageOptions { DataDirectory = _dir.Path, Threads = 2 });

    private static long Count(PlexusStore store, string sql) => (long)StoreRows.Read(store, sql)[0][0]!;

    private static TagPredicate Where(string text)
    {
        Assert.True(TagPredicate.TryParse(text, out var predicate, out string? error), error);
        return predicate!;
    }

    private static async Task SeedAsync(PlexusStore store)
    {
        var points = new PointBuilder();
        for (int t = 1; t <= 10; t++)
        {
            points.Point("readings", t * 1_000, [("device", "a"), ("site", "x")], ("temp", (double)t));
            points.Point("readings", t * 1_000, [("device", "b"), ("site", "y")], ("temp", (double)t));
            points.Point("other", t * 1_000, [("device", "a")], ("v", (double)t));
        }

        await store.Writer.WriteAsync("main", points.Batch);
    }

    [Fact]
    public async Task Delete_with_time_range_and_tags_removes_only_matching_rows_and_counts_them()
    {
        await using var store = Open();
        await SeedAsync(store);

        var result = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", FromNs: 3_000, ToNs: 6_000, Where: Where("device = 'a'")));

        Assert.Equal(3, result.RowsDeleted);
        Assert.Empty(result.MeasurementsDropped);
        Assert.Equal(7, Count(store, "SELECT count(*) FROM readings WHERE device = 'a'"));
        Assert.Equal(0, Count(store, "SELECT count(*) FROM readings WHERE device = 'a' AND epoch_ns(time) BETWEEN 3000 AND 5999"));
        Assert.Equal(10, Count(store, "SELECT count(*) FROM readings WHERE device = 'b'"));
        Assert.Equal(10, Count(store, "SELECT count(*) FROM other"));
    }

    [Fact]
    public async Task Delete_without_filter_drops_the_measurement_and_a_later_write_creates_it_anew()
    {
        await using var store = Open();
        await SeedAsync(store);

        var result = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings"));

        Assert.Equal(20, result.RowsDeleted);
        Assert.Equal(["readings"], result.MeasurementsDropped);
        Assert.Equal(0, Count(store, "SELECT count(*) FROM duckdb_views() WHERE view_name = 'readings'"));
        await store.Writer.WriteAsync("main", new PointBuilder().Point("readings", 1, [("room", "r")], ("humidity", 5L)).Batch);
        Assert.Equal([["r", 5L]], StoreRows.Read(store, "SELECT * EXCLUDE (time) FROM readings"));
    }

    [Fact]
    public async Task Dropping_a_namespace_removes_its_measurements_and_schema()
    {
        await using var store = Open();
        await store.Writer.WriteAsync("fleet", new PointBuilder().Point("a", 1, null, ("v", 1.0)).Point("b", 1, null, ("v", 1.0)).Batch);
        await SeedAsync(store);

        var result = await store.Writer.DeleteAsync(new DeleteSelection("fleet", null));

        Assert.True(result.NamespaceDropped);
        Assert.Equal(2, result.RowsDeleted);
        Assert.Equal(0, Count(store, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'fleet'"));
        Assert.Equal(20, Count(store, "SELECT count(*) FROM main.readings"));
        await Assert.ThrowsAsync<DeleteTargetNotFoundException>(() => store.Writer.DeleteAsync(new DeleteSelection("fleet", null)));
    }

    [Fact]
    public async Task Delete_by_time_without_measurement_covers_every_measurement_of_the_namespace()
    {
        await using var store = Open();
        await SeedAsync(store);

        var result = await store.Writer.DeleteAsync(new DeleteSelection("main", null, ToNs: 5_000));

        Assert.Equal(12, result.RowsDeleted);
        Assert.Equal(12, Count(store, "SELECT count(*) FROM readings"));
        Assert.Equal(6, Count(store, "SELECT count(*) FROM other"));
    }

    [Fact]
    public async Task Unknown_measurement_and_unknown_tag_are_refused_and_delete_nothing()
    {
        await using var store = Open();
        await SeedAsync(store);

        var missing = await Assert.ThrowsAsync<DeleteTargetNotFoundException>(() => store.Writer.DeleteAsync(new DeleteSelection("main", "Readings")));
        Assert.Contains("did you mean \"readings\"", missing.Message, StringComparison.Ordinal);
        var tag = await Assert.ThrowsAsync<DeletePredicateException>(() => store.Writer.DeleteAsync(new DeleteSelection("main", "readings", Where: Where("truck = 'a'"))));
        Assert.Contains("unknown tag \"truck\"", tag.Message, StringComparison.Ordinal);
        Assert.Equal(20, Count(store, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task Hostile_tag_values_are_bound_not_executed()
    {
        await using var store = Open();
        await SeedAsync(store);

        var result = await store.Writer.DeleteAsync(new DeleteSelection("main", "readings", Where: Where("device = 'a'') OR true OR (''x'")));

        Assert.Equal(0, result.RowsDeleted);
        Assert.Equal(20, Count(store, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task Writes_queued_before_a_delete_are_deleted_and_those_after_it_kept()
    {
        await using var store = Open();
        await SeedAsync(store);

        // All three are queued before the writer takes any: the delete sits between the two writes.
        var before = store.Writer.WriteAsync("main", new PointBuilder().Point("readings", 20_000, [("device", "a"), ("site", "x")], ("temp", 1.0)).Batch);
        var delete = store.Writer.DeleteAsync(new DeleteSelection("main", "readings", Where: Where("device = 'a'")));
        var after = store.Writer.WriteAsync("main", new PointBuilder().Point("readings", 30_000, [("device", "a"), ("site", "x")], ("temp", 2.0)).Batch);
        await Task.WhenAll(before, delete, after);

        Assert.Equal(11, (await delete).RowsDeleted);
        Assert.Equal([[30_000L]], StoreRows.Read(store, "SELECT epoch_ns(time) FROM readings WHERE device = 'a'"));
    }

    [Fact]
    public async Task Delete_is_not_undone_by_replaying_the_write_log_after_a_crash()
    {
        using var folders = new LogFolders();
        string crashed;
        await using (var store = LogFolders.Open(folders.Path))
        {
            await LogFolders.WriteSeriesAsync(store, 1, 1);

            // Acknowledged from the write log only, then deleted: the delete applies the log first.
            await LogFolders.WriteSeriesAsync(store, 2, 4);
            byte[] beforeDelete = File.ReadAllBytes(LogFolders.LogPath(folders.Path));
            Assert.Equal(0, store.Writer.LogApplies);
            var result = await store.Writer.DeleteAsync(new DeleteSelection("main", "env", FromNs: 2, ToNs: 6));
            Assert.Equal(4, result.RowsDeleted);

            // Written after the delete: only in the log when the process dies.
            await LogFolders.WriteSeriesAsync(store, 10, 2);
            byte[] afterDelete = File.ReadAllBytes(LogFolders.LogPath(folders.Path));

            // The worst case: the log was never cut after the apply, so it still holds the deleted points' records.
            crashed = folders.CopyOf(folders.Path, [.. beforeDelete, .. afterDelete.AsSpan(Writing.WriteLog.HeaderSize)]);
        }

        await using var reopened = LogFolders.Open(crashed);
        Assert.Equal(2, reopened.Writer.PointsReplayed);
        Assert.Equal([[1L], [10L], [11L]], StoreRows.Read(reopened, "SELECT epoch_ns(time) FROM env ORDER BY time"));
    }
}
