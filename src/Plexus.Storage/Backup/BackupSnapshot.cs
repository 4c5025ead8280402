namespace Plexus.Storage.Backup;

/// <summary>
/// A consistent copy of a data folder taken while the server runs (<see cref="Writing.StoreWriter.SnapshotAsync"/>), staged in
/// <c>backup-staging</c> inside the data folder (one snapshot at a time): the checkpointed database file copied, the cold files hard-linked (or
/// copied), the metadata files copied. The manifest's checksums are computed after the writer was released. Disposing
/// deletes the staging folder.
/// </summary>
public sealed class BackupSnapshot : IDisposable
{
    /// <summary>The folder inside the data folder where snapshots are staged; one backup at a time uses it.</summary>
    public const string StagingFolderName = "backup-staging";

    private Action? _release;

    internal BackupSnapshot(string folder, BackupManifest manifest, TimeSpan writesHeld, Action release)
    {
        _release = release;
        Folder = folder;
        Manifest = manifest;
        WritesHeld = writesHeld;
    }

    /// <summary>The staging folder; <see cref="BackupManifest.Files"/> are relative to it.</summary>
    public string Folder { get; }

    public BackupManifest Manifest { get; }

    /// <summary>How long the writer's queue waited while the database file was checkpointed and copied.</summary>
    public TimeSpan WritesHeld { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        finally
        {
            Interlocked.Exchange(ref _release, null)?.Invoke();
        }
    }
}
