using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Backup;
using Plexus.Storage.Cold;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Writing;

// Online backup: one more job in the writer's queue, so that it is ordered with the writes around it. Every write
// acknowledged before the job was queued is applied and checkpointed into the database file, and the file is copied
// before the writer takes the next request: the copy is the database as of that moment, nothing half-written.
public sealed partial class StoreWriter
{
    // A metadata transaction (a registry change) that is open at the checkpoint makes DuckDB refuse it; such
    // transactions are short, so the checkpoint is tried again a few times before the backup is refused.
    private const int CheckpointAttempts = 20;

    private static readonly TimeSpan CheckpointRetryWait = TimeSpan.FromMilliseconds(50);

    // Room left for the writes that arrive while the copy is made and for the log they go to.
    private const long BackupSpaceMargin = 64L << 20;

    private int _backupRunning;

    /// <summary>
    /// Takes a consistent copy of the data folder into <c>backup-staging</c> inside it (one at a time) (docs/storage.md#backup-and-restore):
    /// on the writer's thread, every acknowledged write is applied, the database is checkpointed and its file copied,
    /// every cold file the manifest names is hard-linked (copied where links are not possible) and
    /// <paramref name="metadataFiles"/> (names in the data folder: tokens, credentials, retained messages) are copied;
    /// writes queued meanwhile wait. Then, with the writer running again, the checksums are computed.
    /// </summary>
    /// <param name="metadataFiles">Files beside the database that other parts of the server keep; a missing one is skipped.</param>
    /// <exception cref="StoreUnavailableException">The store cannot write (or checkpoint) now; nothing was staged.</exception>
    /// <exception cref="BackupInProgressException">Another snapshot is staged and not yet disposed.</exception>
    public async Task<BackupSnapshot> SnapshotAsync(IReadOnlyList<string> metadataFiles, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metadataFiles);
        if (Interlocked.Exchange(ref _backupRunning, 1) != 0)
        {
            throw new BackupInProgressException();
        }

        string folder = Path.Combine(_options.DataDirectory, BackupSnapshot.StagingFolderName);
        try
        {
            // A snapshot left by a server that stopped mid-backup: nobody reads it any more.
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            Directory.CreateDirectory(folder);
            var (paths, held) = await RunOnWriterAsync(() => StageSnapshot(folder, metadataFiles), cancellationToken);
            var files = new List<BackupFile>(paths.Count);
            foreach (string path in paths)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string full = Path.Combine(folder, path);
                files.Add(new BackupFile(path, new FileInfo(full).Length, BackupManifest.HashFile(full)));
            }

            var manifest = new BackupManifest(_time.GetUtcNow(), files);
            _logger.LogInformation("Backup snapshot of {Files} files, {Bytes} bytes staged; writes waited {Held} ms", files.Count, manifest.TotalBytes, (long)held.TotalMilliseconds);
            return new BackupSnapshot(folder, manifest, held, () => Volatile.Write(ref _backupRunning, 0));
        }
        catch
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }

            Volatile.Write(ref _backupRunning, 0);
            throw;
        }
    }

    private (List<string> Paths, TimeSpan Held) StageSnapshot(string folder, IReadOnlyList<string> metadataFiles)
    {
        long started = _time.GetTimestamp();
        if ((_logFault ?? _databaseFault) is { } fault)
        {
            throw new StoreUnavailableException(fault.Describe() + "; no backup was taken", StoreUnavailableException.DefaultRetryAfter);
        }

        if (!ApplyLog())
        {
            throw new StoreUnavailableException((_databaseFault?.Describe() ?? "the database refuses to commit") + "; no backup was taken", StoreUnavailableException.DefaultRetryAfter);
        }

        Checkpoint();
        EnsureSpaceFor(folder, metadataFiles);
        var paths = new List<string>();
        CopyDatabaseFile(Path.Combine(folder, StorageOptions.DatabaseFileName));
        paths.Add(StorageOptions.DatabaseFileName);

        // Cold files are never changed once named; a linked name keeps one alive after a later compaction retires it.
        if (Cold is not null)
        {
            foreach (var partition in _committer.Catalog.Namespaces.SelectMany(ns => ns.Measurements).SelectMany(m => m.ColdPartitions))
            {
                string relative = ColdStore.FolderName + "/" + partition.FileName;
                string target = Path.Combine(folder, relative);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                if (!DurableFile.TryHardLink(Cold.PathOf(partition.FileName), target))
                {
                    File.Copy(Cold.PathOf(partition.FileName), target);
                }

                paths.Add(relative);
            }
        }

        foreach (string name in metadataFiles)
        {
            string source = Path.Combine(_options.DataDirectory, name);
            if (File.Exists(source))
            {
                // Journals are appended by their owners while this copies: a torn last record is one never acknowledged,
                // and their readers drop it at open as after a crash.
                File.Copy(source, Path.Combine(folder, name));
                paths.Add(name);
            }
        }

        return (paths, _time.GetElapsedTime(started));
    }

    // The copy of the database is the backup's one large file (cold files are linked); a disk that fills while it is
    // copied would fail the backup anyway, and would also fail every write the server acknowledges meanwhile.
    private void EnsureSpaceFor(string folder, IReadOnlyList<string> metadataFiles)
    {
        long needed = new FileInfo(_options.DatabasePath).Length + BackupSpaceMargin;
        foreach (string name in metadataFiles)
        {
            var file = new FileInfo(Path.Combine(_options.DataDirectory, name));
            needed += file.Exists ? file.Length : 0;
        }

        long free = _options.FreeSpace(folder);
        if (free < needed)
        {
            throw new BackupSpaceException(needed, free);
        }
    }

    private void Checkpoint()
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Catalog.Execute(_connection, "CHECKPOINT");
                return;
            }
            catch (DuckDBException error) when (attempt < CheckpointAttempts && error.Message.Contains("transaction", StringComparison.OrdinalIgnoreCase))
            {
                Task.Delay(CheckpointRetryWait, _time).Wait();
            }
            catch (DuckDBException error)
            {
                throw new StoreUnavailableException($"the database could not be checkpointed for the backup ({error.Message}); no backup was taken, try again", StoreUnavailableException.DefaultRetryAfter, error);
            }
        }
    }

    // Only a checkpoint changes the database file, and the writer, the one source of large commits, waits for this copy;
    // a checkpoint DuckDB starts by itself after a metadata commit would show in the file's size or time, and the copy is
    // taken again.
    private void CopyDatabaseFile(string target)
    {
        string source = _options.DatabasePath;
        for (int attempt = 1; attempt <= 3; attempt++)
        {
            var before = new FileInfo(source);
            File.Copy(source, target, overwrite: true);
            var after = new FileInfo(source);
            if (before.Length == after.Length && before.LastWriteTimeUtc == after.LastWriteTimeUtc)
            {
                return;
            }

            Checkpoint();
        }

        throw new StoreUnavailableException("the database file kept changing while it was copied for the backup; no backup was taken, try again", StoreUnavailableException.DefaultRetryAfter);
    }
}
