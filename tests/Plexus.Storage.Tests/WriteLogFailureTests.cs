using Plexus.Storage.Writing;
using Plexus.TestKit;
using static Plexus.Storage.Tests.LogFolders;

namespace Plexus.Storage.Tests;

/// <summary>
/// The write log on a failing disk, through the file-operation seam: a write that stops part way (a full disk), an
/// fdatasync that fails after the bytes were handed to the kernel, a rollback that does not reach the disk or
/// fails. Whatever fails, no acknowledged write is lost or shadowed after a restart (a copy of the folder reopened),
/// the sequence number of a failed record is never used again, and the store takes writes again by itself.
/// </summary>
public sealed class WriteLogFailureTests : IDisposable
{
    private readonly LogFolders _folders = new();

    public void Dispose() => _folders.Dispose();

    private static async Task<StoreUnavailableException> RefusedAsync(PlexusStore store, int t)
    {
        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => WriteOneAsync(store, t));
        Assert.DoesNotContain("/somewhere", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing of this write was stored", error.Message, StringComparison.Ordinal);
        return error;
    }

    private static long[] Seqs(PlexusStore store)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq FROM env ORDER BY seq";
        using var reader = command.ExecuteReader();
        var seqs = new List<long>();
        while (reader.Read())
        {
            seqs.Add(reader.GetInt64(0));
        }

        return [.. seqs];
    }

    [Fact]
    public async Task A_failed_fsync_refuses_the_write_and_its_sequence_number_is_never_used_again()
    {
        var file = new FaultyLogFile();
        string crashed;
        await using (var store = Open(_folders.Path, file))
        {
            await WriteSeriesAsync(store, 1, 3);
            file.FailSyncs = 1;
            var refused = await RefusedAsync(store, 4);
            Assert.Contains("I/O error", refused.Message, StringComparison.Ordinal);
            Assert.NotNull(store.Writer.Fault);

            await WriteSeriesAsync(store, 5, 2);
            Assert.Null(store.Writer.Fault);

            byte[] log = File.ReadAllBytes(LogPath(_folders.Path));
            Assert.Equal([1L, 2, 4, 5], Records(log).Select(r => r.Lsn));
            crashed = _folders.CopyOf(_folders.Path);
        }

        await using var reopened = Open(crashed);
        Assert.Equal(4, reopened.Writer.PointsReplayed);
        Assert.Equal([1L, 2, 3, 5, 6], Seqs(reopened));
    }

    [Fact]
    public async Task Bytes_of_a_failed_fsync_left_on_disk_by_a_cut_that_never_got_there_cannot_shadow_later_records()
    {
        var file = new FaultyLogFile();
        string crashed;
        await using (var store = Open(_folders.Path, file))
        {
            await WriteSeriesAsync(store, 1, 2);

            // A big record whose fdatasync fails and whose rollback is lost: its bytes stay where the next records go.
            file.FailSyncs = 1;
            file.IgnoreSetLengths = 1;
            var big = new PointBuilder();
            for (int t = 100; t < 150; t++)
            {
                big.Point("env", t, [("site", "a")], ("temp", (double)t), ("seq", (long)t));
            }

            await Assert.ThrowsAsync<StoreUnavailableException>(() => store.Writer.WriteAsync("main", big.Batch));
            await WriteSeriesAsync(store, 3, 2);
            crashed = _folders.CopyOf(_folders.Path);
        }

        await using var reopened = Open(crashed);

        // Records 1, 3, 4 (2 was the failed one); the failed record's tail behind them is not taken for a record.
        Assert.Equal(3, reopened.Writer.PointsReplayed);
        Assert.Equal([1L, 2, 3, 4], Seqs(reopened));
        Assert.Single(Directory.GetFiles(crashed, WriteLog.FileName + ".discarded-*"));
    }

    [Fact]
    public async Task A_write_that_runs_out_of_space_is_rolled_back_and_the_store_takes_writes_again_by_itself()
    {
        var file = new FaultyLogFile();
        await using var store = Open(_folders.Path, file);
        await WriteSeriesAsync(store, 1, 2);
        long lengthBefore = new FileInfo(LogPath(_folders.Path)).Length;

        // The probe that checks the disk once a second fails too, for a while: the fault stays until it passes.
        file.FailWrites = 3;
        var refused = await RefusedAsync(store, 3);

        Assert.Contains("the disk that holds the data folder is full", refused.Message, StringComparison.Ordinal);
        Assert.Equal(lengthBefore, new FileInfo(LogPath(_folders.Path)).Length);
        var fault = Assert.IsType<StoreFault>(store.Writer.Fault);
        Assert.False(fault.RestartRequired);

        // No write needed: the writer's own probe sees the space come back.
        await Eventually.TrueAsync(() => store.Writer.Fault is null, TimeSpan.FromSeconds(10), "the fault cleared by itself");
        Assert.Equal(0, file.FailWrites);
        Assert.Equal(lengthBefore, new FileInfo(LogPath(_folders.Path)).Length);

        await WriteSeriesAsync(store, 4, 1);
        Assert.Equal([1L, 2, 4], Seqs(store));
    }

    [Fact]
    public async Task A_rollback_that_fails_stops_all_writes_until_a_restart_which_replays_every_acknowledged_write()
    {
        var file = new FaultyLogFile();
        string crashed;
        await using (var store = Open(_folders.Path, file))
        {
            await WriteSeriesAsync(store, 1, 3);
            file.FailSyncs = 1;
            file.FailSetLengths = 1;
            await RefusedAsync(store, 4);

            var fault = Assert.IsType<StoreFault>(store.Writer.Fault);
            Assert.True(fault.RestartRequired);

            // The disk works again, but the log is not trusted: logged and direct (schema-changing) writes are refused.
            var refused = await RefusedAsync(store, 5);
            Assert.Contains("until the server is restarted", refused.Message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<StoreUnavailableException>(() => store.Writer.WriteAsync("main", new PointBuilder().Point("env", 6, [("site", "a")], ("humidity", 1L)).Batch));
            crashed = _folders.CopyOf(_folders.Path);

            // Readers still see every acknowledged write: they are applied from memory.
            Assert.Equal([1L, 2, 3], Seqs(store));
        }

        await using var reopened = Open(crashed);

        // The failed record may be whole on disk (its cut failed): replayed or not, it never hides the ones before it.
        var seqs = Seqs(reopened);
        Assert.Equal([1L, 2, 3], seqs.Where(s => s != 4));
        Assert.Null(reopened.Writer.Fault);
        await WriteSeriesAsync(reopened, 7, 1);
        Assert.Contains(7L, Seqs(reopened));
    }
}
