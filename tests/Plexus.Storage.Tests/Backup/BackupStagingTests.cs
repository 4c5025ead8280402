using Plexus.Storage.Backup;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Backup;

/// <summary>The staged copy of a backup: refused before it starts when the disk cannot hold it, and never left behind.</summary>
public sealed class BackupStagingTests
{
    [Fact]
    public async Task A_backup_on_a_disk_too_full_for_the_copy_is_refused_naming_the_sizes_and_stages_nothing()
    {
        using var dir = new TempDirectory("plexus-backup-space");
        await using var store = PlexusStore.Open(new StorageOptions { DataDirectory = dir.Path, Threads = 2, FreeSpace = _ => 1_000_000 });
        await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 1, [("site", "x")], ("temp", 20.0)).Batch);

        var error = await Assert.ThrowsAsync<BackupSpaceException>(() => store.Writer.SnapshotAsync([]));

        Assert.Equal(1_000_000, error.Free);
        Assert.True(error.Needed > new FileInfo(store.Options.DatabasePath).Length, "the database file's size is part of what is needed");
        Assert.Contains("1,000,000 are free", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, BackupSnapshot.StagingFolderName)));

        // The refusal ends that backup: the next one, with room, is not told one is running.
        Assert.IsType<BackupSpaceException>(await Record.ExceptionAsync(() => store.Writer.SnapshotAsync([])));
    }

    [Fact]
    public async Task A_backup_copy_left_by_a_stopped_server_is_removed_when_the_store_opens_again()
    {
        using var dir = new TempDirectory("plexus-backup-leftover");
        string staging = Path.Combine(dir.Path, BackupSnapshot.StagingFolderName);
        await using (var store = PlexusStore.Open(new StorageOptions { DataDirectory = dir.Path, Threads = 2 }))
        {
            await store.Writer.WriteAsync("main", new PointBuilder().Point("env", 1, [("site", "x")], ("temp", 20.0)).Batch);

            // Staged and never disposed, as when the server stops while the archive is being sent.
            _ = await store.Writer.SnapshotAsync([]);
            Assert.True(File.Exists(Path.Combine(staging, StorageOptions.DatabaseFileName)));
        }

        await using (PlexusStore.Open(new StorageOptions { DataDirectory = dir.Path, Threads = 2 }))
        {
            Assert.False(Directory.Exists(staging));
        }
    }
}
