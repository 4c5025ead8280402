using Plexus.Storage.Writing;
using Plexus.TestKit;
using static Plexus.Storage.Tests.LogFolders;

namespace Plexus.Storage.Tests;

/// <summary>
/// The write log: acknowledged writes that only reached the log are visible to readers, survive a crash
/// (replayed at open), are applied once, and a torn or corrupt last record is ignored.
/// </summary>
/// <remarks>
/// A "crash" is a copy of the data folder (<see cref="LogFolders.CopyOf"/>). The end-to-end kill of a real
/// server is in Plexus.Server.Tests (CrashTests, MqttCrashTests); the file format in WriteLogFormatTests, failing
/// disks in WriteLogFailureTests.
/// </remarks>
public sealed class WriteLogTests : IDisposable
{
    private readonly LogFolders _folders = new();

    public void Dispose() => _folders.Dispose();

    [Fact]
    public async Task A_new_read_connection_sees_every_acknowledged_write()
    {
        await using var store = Open(_folders.Path);
        await WriteSeriesAsync(store, 1, 1);
        long commitsBefore = store.Writer.Commits;
        await WriteSeriesAsync(store, 2, 9);

        Assert.Equal(0, store.Writer.LogApplies);
        Assert.True(new FileInfo(LogPath(_folders.Path)).Length > WriteLog.HeaderSize, "the acknowledged writes are in the log");
        Assert.Equal(10, Scalar(store, "SELECT count(*) FROM env"));
        Assert.Equal(1, store.Writer.LogApplies);
        Assert.Equal(9, store.Writer.Commits - commitsBefore);
        Assert.Equal(WriteLog.HeaderSize, new FileInfo(LogPath(_folders.Path)).Length);
    }

    [Fact]
    public async Task Created_namespace_is_committed_after_the_logged_writes_and_survives_a_restart()
    {
        await using (var store = Open(_folders.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 4);
            Assert.Equal(0, store.Writer.LogApplies);

            await store.Writer.CreateNamespaceAsync("empty");
            await store.Writer.CreateNamespaceAsync("empty");

            // The namespace's commit is a direct one: what the log held went to DuckDB first, once.
            Assert.Equal(1, store.Writer.LogApplies);
            Assert.Equal(1, Scalar(store, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'empty'"));
        }

        await using var reopened = Open(_folders.Path);
        Assert.Equal(1, Scalar(reopened, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'empty'"));
        Assert.Equal(5, Scalar(reopened, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task Writes_only_in_the_log_when_the_process_dies_are_replayed_at_open()
    {
        string crashed;
        await using (var store = Open(_folders.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 9);
            crashed = _folders.CopyOf(_folders.Path);
        }

        await using var reopened = Open(crashed);

        Assert.Equal(9, reopened.Writer.PointsReplayed);
        Assert.Equal(10, Scalar(reopened, "SELECT count(*) FROM env"));
        Assert.Equal(45 + 10, Scalar(reopened, "SELECT CAST(sum(seq) AS BIGINT) FROM env"));
        Assert.Equal(WriteLog.HeaderSize, new FileInfo(LogPath(crashed)).Length);

        // The store goes on: new writes are logged after the replayed ones and survive a clean restart.
        await WriteSeriesAsync(reopened, 11, 5);
        Assert.Equal(15, Scalar(reopened, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task Records_already_applied_are_not_applied_again_when_the_log_was_not_yet_truncated()
    {
        string crashed;
        await using (var store = Open(_folders.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 9);
            byte[] log = File.ReadAllBytes(LogPath(_folders.Path));
            Assert.Equal(10, Scalar(store, "SELECT count(*) FROM env"));

            // Killed after the applying transaction committed, before the log was emptied.
            crashed = _folders.CopyOf(_folders.Path, log);
        }

        await using var reopened = Open(crashed);

        Assert.Equal(0, reopened.Writer.PointsReplayed);
        Assert.Equal(0, reopened.Writer.PointsMerged);
        Assert.Equal(10, Scalar(reopened, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task A_torn_or_corrupt_last_record_is_ignored_and_the_records_before_it_are_replayed()
    {
        string torn;
        string corrupt;
        await using (var store = Open(_folders.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 3);
            int wholeRecords = (int)new FileInfo(LogPath(_folders.Path)).Length;
            await WriteSeriesAsync(store, 5, 1);
            byte[] log = File.ReadAllBytes(LogPath(_folders.Path));
            Assert.True(log.Length > wholeRecords);

            // A write the process died in the middle of: never acknowledged.
            torn = _folders.CopyOf(_folders.Path, log[..(wholeRecords + ((log.Length - wholeRecords) / 2))]);
            byte[] flipped = (byte[])log.Clone();
            flipped[^3] ^= 0xFF;
            corrupt = _folders.CopyOf(_folders.Path, flipped);
        }

        foreach (string crashed in new[] { torn, corrupt })
        {
            await using var reopened = Open(crashed);
            Assert.Equal(3, reopened.Writer.PointsReplayed);
            Assert.Equal(4, Scalar(reopened, "SELECT count(*) FROM env"));
            Assert.Equal(0, Scalar(reopened, "SELECT count(*) FROM env WHERE seq = 5"));

            // The torn bytes are gone: a new write is logged, replayed and read like any other.
            await WriteSeriesAsync(reopened, 6, 2);
            Assert.Equal(6, Scalar(reopened, "SELECT count(*) FROM env"));
        }
    }

    [Fact]
    public async Task Later_writes_win_per_field_across_logged_groups_applied_in_one_transaction()
    {
        await using var store = Open(_folders.Path);
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 100, [("site", "a")], ("temp", 1.0), ("seq", 1L)).Batch);
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 100, [("site", "a")], ("temp", 2.0)).Batch);
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 100, [("site", "a")], ("seq", 3L)).Batch);
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 100, [("site", "a")], ("temp", 4.0)).Batch);

        Assert.Equal(1, Scalar(store, "SELECT count(*) FROM env"));
        Assert.Equal(4, Scalar(store, "SELECT CAST(temp AS BIGINT) FROM env"));
        Assert.Equal(3, Scalar(store, "SELECT seq FROM env"));
    }

    [Fact]
    public async Task A_write_that_changes_the_schema_meets_the_logged_writes_before_it_in_order()
    {
        await using var store = Open(_folders.Path);
        await WriteSeriesAsync(store, 1, 3);

        // A new field: committed directly, after the log is applied, so its row merges with the logged one.
        var result = await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 3, [("site", "a")], ("humidity", 40L)).Batch);
        Assert.Equal(1, result.PointsWritten);
        Assert.Equal(1, store.Writer.LogApplies);

        var rejected = await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 4, [("site", "a")], ("temp", "warm")).Batch);
        Assert.Equal(0, rejected.PointsWritten);
        Assert.Contains("field type conflict", Assert.Single(rejected.Rejected).Reason, StringComparison.Ordinal);

        Assert.Equal(3, Scalar(store, "SELECT count(*) FROM env"));
        Assert.Equal(40, Scalar(store, "SELECT humidity FROM env WHERE seq = 3"));
    }
}
