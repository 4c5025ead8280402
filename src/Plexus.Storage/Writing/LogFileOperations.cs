using Microsoft.Win32.SafeHandles;
using Plexus.Core;

namespace Plexus.Storage.Writing;

/// <summary>
/// The file system calls the write log makes, in one place so that tests can make them fail the way a full
/// disk or a dying one does (a failed write, a failed fdatasync, a truncation that does not happen) and see the
/// folder syncs. Production code uses <see cref="Real"/>.
/// </summary>
internal class LogFileOperations
{
    public static readonly LogFileOperations Real = new();

    public virtual void Write(SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset) => RandomAccess.Write(handle, bytes, offset);

    public virtual void Sync(SafeFileHandle handle) => DurableFile.SyncData(handle);

    public virtual void SetLength(SafeFileHandle handle, long length) => RandomAccess.SetLength(handle, length);

    public virtual void SyncDirectory(string path) => DurableFile.SyncDirectory(path);

    /// <summary>Creates or replaces a whole file durably: temporary file, sync, rename, folder sync (through <see cref="SyncDirectory"/>).</summary>
    public void Replace(string path, ReadOnlySpan<byte> contents) => DurableFile.Replace(path, contents, SyncDirectory);
}
