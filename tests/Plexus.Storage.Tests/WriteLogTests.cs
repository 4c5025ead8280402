using Plexus.TestKit;

namespace Plexus.Storage.Tests;

/// <summary>
/// The write log: acknowledged writes that only reached the log are visible to readers, survive a crash
/// (replayed at open), are applied once, and a torn or corrupt last record is ignored.
/// </summary>
/// <remarks>
/// A "crash" is a copy of the data folder taken while the store runs with logged, unapplied writes: the
/// files are then exactly what a killed process leaves (the log synced, DuckDB without those points).
/// The end-to-end kill of a real server is in Plexus.Server.Tests (CrashTests, MqttCrashTests).
/// </remarks>
public sealed class WriteLogTests : IDisposable
{
    private readonly TempDirectory _dir = new("plexus-wal");
    private readonly List<TempDirectory> _copies = [];

    public void Dispose()
    {
        foreach (var copy in _copies)
        {
            copy.Dispose();
        }

        _dir.Dispose();
    }

    // Applies only when a reader asks, so the tests decide what is in DuckDB and what only in the log.
    private static PlexusStore Open(string directory) => PlexusStore.Open(new StorageOptions
    {
        DataDirectory = directory,
        Threads = 1,
        LogApplyInterval = TimeSpan.FromHours(1),
    });

    private static string LogPath(string directory) => Path.Combine(directory, "plexus.log");

    private string CopyOf(string directory, byte[]? logBytes = null)
    {
        var copy = new TempDirectory("plexus-wal-copy");
        _copies.Add(copy);
        foreach (string file in Directory.GetFiles(directory))
        {
            File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        }

        if (logBytes is not null)
        {
            File.WriteAllBytes(LogPath(copy.Path), logBytes);
        }

        return copy.Path;
    }

    private static long Scalar(PlexusStore store, string sql)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    // The first write creates the measurement (committed to DuckDB directly); the next ones only reach the log.
    private static async Task WriteSeriesAsync(PlexusStore store, int firstTime, int writes)
    {
        for (int t = firstTime; t < firstTime + writes; t++)
        {
            var result = await store.Writer.WriteAsync("main", new PointBuilder()
                .Point("env", t, [("site", "a")], ("temp", (double)t), ("seq", (long)t))
                .Batch);
            Assert.Equal(1, result.PointsWritten);
        }
    }

    [Fact]
    public async Task A_new_read_connection_sees_every_acknowledged_write()
    {
        await using var store = Open(_dir.Path);
        await WriteSeriesAsync(store, 1, 1);
        long commitsBefore = store.Writer.Commits;
        await WriteSeriesAsync(store, 2, 9);

        Assert.Equal(0, store.Writer.LogApplies);
        Assert.True(new FileInfo(LogPath(_dir.Path)).Length > 0, "the acknowledged writes are in the log");
        Assert.Equal(10, Scalar(store, "SELECT count(*) FROM env"));
        Assert.Equal(1, store.Writer.LogApplies);
        Assert.Equal(9, store.Writer.Commits - commitsBefore);
        Assert.Equal(0, new FileInfo(LogPath(_dir.Path)).Length);
    }

    [Fact]
    public async Task Writes_only_in_the_log_when_the_process_dies_are_replayed_at_open()
    {
        string crashed;
        await using (var store = Open(_dir.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 9);
            crashed = CopyOf(_dir.Path);
        }

        await using var reopened = Open(crashed);

        Assert.Equal(9, reopened.Writer.PointsReplayed);
        Assert.Equal(10, Scalar(reopened, "SELECT count(*) FROM env"));
        Assert.Equal(45 + 10, Scalar(reopened, "SELECT CAST(sum(seq) AS BIGINT) FROM env"));
        Assert.Equal(0, new FileInfo(LogPath(crashed)).Length);

        // The store goes on: new writes are logged after the replayed ones and survive a clean restart.
        await WriteSeriesAsync(reopened, 11, 5);
        Assert.Equal(15, Scalar(reopened, "SELECT count(*) FROM env"));
    }

    [Fact]
    public async Task Records_already_applied_are_not_applied_again_when_the_log_was_not_yet_truncated()
    {
        string crashed;
        await using (var store = Open(_dir.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 9);
            byte[] log = File.ReadAllBytes(LogPath(_dir.Path));
            Assert.Equal(10, Scalar(store, "SELECT count(*) FROM env"));

            // Killed after the applying transaction committed, before the log was emptied.
            crashed = CopyOf(_dir.Path, log);
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
        await using (var store = Open(_dir.Path))
        {
            await WriteSeriesAsync(store, 1, 1);
            await WriteSeriesAsync(store, 2, 3);
            int wholeRecords = (int)new FileInfo(LogPath(_dir.Path)).Length;
            await WriteSeriesAsync(store, 5, 1);
            byte[] log = File.ReadAllBytes(LogPath(_dir.Path));
            Assert.True(log.Length > wholeRecords);

            // A write the process died in the middle of: never acknowledged.
            torn = CopyOf(_dir.Path, log[..(wholeRecords + ((log.Length - wholeRecords) / 2))]);
            byte[] flipped = (byte[])log.Clone();
            flipped[^3] ^= 0xFF;
            corrupt = CopyOf(_dir.Path, flipped);
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
        await using var store = Open(_dir.Path);
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
        await using var store = Open(_dir.Path);
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
