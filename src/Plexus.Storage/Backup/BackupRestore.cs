using Plexus.Core;
using Plexus.Storage.Cold;
using Plexus.Storage.Writing;

namespace Plexus.Storage.Backup;

/// <summary>
/// <c>plexus restore &lt;backup&gt; &lt;data-dir&gt;</c> (docs/storage.md#backup-and-restore), with the server stopped: the backup is
/// verified whole against its manifest before the data folder is touched, then its files are copied in and synced.
/// </summary>
public static class BackupRestore
{
    /// <summary>Restores <paramref name="backupFolder"/> into <paramref name="dataFolder"/>; returns the manifest restored.</summary>
    /// <param name="force">Replace the data files of a folder that holds some (files Plexus does not know stay).</param>
    /// <param name="progress">A line for the operator at each step.</param>
    /// <exception cref="BackupException">The backup is not whole, or the target is not empty; nothing in the target changed.</exception>
    public static BackupManifest Restore(string backupFolder, string dataFolder, bool force, Action<string>? progress = null)
    {
        string manifestPath = Path.Combine(backupFolder, BackupManifest.FileName);
        if (!Directory.Exists(backupFolder))
        {
            throw new BackupException($"{backupFolder} does not exist; give the folder plexus backup wrote");
        }

        if (!File.Exists(manifestPath))
        {
            throw new BackupException($"{backupFolder} has no {BackupManifest.FileName}: it is not a Plexus backup, or the backup did not finish (plexus backup writes the manifest last)");
        }

        var manifest = BackupManifest.Parse(File.ReadAllBytes(manifestPath));
        if (!manifest.Files.Any(f => f.Path == StorageOptions.DatabaseFileName))
        {
            throw new BackupException($"the backup's manifest does not name {StorageOptions.DatabaseFileName}; it is not a backup of a data folder");
        }

        progress?.Invoke($"verifying {manifest.Files.Count} files, {manifest.TotalBytes} bytes (backup of {manifest.Created:yyyy-MM-dd HH:mm:ss} UTC)");
        var problems = manifest.Verify(backupFolder);
        if (problems.Count > 0)
        {
            throw new BackupException($"the backup in {backupFolder} is damaged, nothing was restored:\n  " + string.Join("\n  ", problems));
        }

        var targets = DataFiles(manifest);
        if (Directory.Exists(dataFolder))
        {
            var present = Directory.EnumerateFileSystemEntries(dataFolder).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            if (present.Count > 0 && !force)
            {
                throw new BackupException($"{dataFolder} is not empty ({string.Join(", ", present.Take(5))}{(present.Count > 5 ? ", ..." : "")}); " +
                    "restore into a new or empty folder, or pass --force to replace the data files in it (stop the server that uses it first)");
            }

            foreach (string name in targets)
            {
                string path = Path.Combine(dataFolder, name);
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }
                else
                {
                    File.Delete(path);
                }
            }
        }

        // The files hold token hashes and every row: readable by the server's account only, as the server keeps them.
        PrivateFiles.RestrictProcessUmask();
        _ = PrivateFiles.Tighten(dataFolder);
        long copied = 0;
        foreach (var file in manifest.Files)
        {
            string target = Path.Combine(dataFolder, file.Path);
            string? parent = Path.GetDirectoryName(target);
            Directory.CreateDirectory(parent!);
            File.Copy(Path.Combine(backupFolder, file.Path), target);
            using (var handle = File.OpenHandle(target, FileMode.Open, FileAccess.ReadWrite))
            {
                DurableFile.SyncData(handle);
            }

            copied += file.Bytes;
        }

        // File.Copy keeps the backup's permission bits; the data folder's files are the server account's only.
        _ = PrivateFiles.Tighten(dataFolder);
        foreach (string folder in manifest.Files.Select(f => Path.GetDirectoryName(Path.Combine(dataFolder, f.Path))!).Distinct(StringComparer.Ordinal))
        {
            DurableFile.SyncDirectory(folder);
        }

        progress?.Invoke($"restored {manifest.Files.Count} files, {copied} bytes into {dataFolder}");
        return manifest;
    }

    // What a data folder holds that the restored files replace: the database with its own log, the write log (its records
    // are in the backup's database), the cold folder, and each top-level file the backup brings.
    private static IEnumerable<string> DataFiles(BackupManifest manifest) =>
        new[] { StorageOptions.DatabaseFileName, StorageOptions.DatabaseFileName + ".wal", WriteLog.FileName, ColdStore.FolderName, BackupSnapshot.StagingFolderName }
            .Concat(manifest.Files.Select(f => f.Path.Split('/')[0]))
            .Distinct(StringComparer.Ordinal);
}
