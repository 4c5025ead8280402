using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Plexus.Core;

/// <summary>
/// Files that must survive a crash or a power cut. Syncing a file makes its bytes durable, not its name: a file just
/// created, renamed or deleted is only durable once the folder that holds it is synced too, which .NET has no API for.
/// Every file Plexus keeps in its data folder (the write log, token files, the credential journal, retained messages)
/// is created or replaced through here, readable and writable by the server's account only (0600).
/// </summary>
public static partial class DurableFile
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // fsync on a folder is refused with EINVAL (or EBADF) on file systems that do not support it; PostgreSQL
    // ignores both for folders, and so do we: there is nothing more to sync there.
    private const int InvalidArgument = 22;
    private const int BadFileDescriptor = 9;

    /// <summary>
    /// Replaces (or creates) <paramref name="path"/> with <paramref name="contents"/> so that after a crash it holds
    /// either the old or the new contents, never a part: the bytes go to a temporary file beside it, which is synced,
    /// renamed over the target, and then the folder is synced.
    /// </summary>
    public static void Replace(string path, ReadOnlySpan<byte> contents) => Replace(path, contents, SyncDirectory);

    /// <summary>As <see cref="Replace(string, ReadOnlySpan{byte})"/>, with the folder sync given (tests fail it on purpose).</summary>
    public static void Replace(string path, ReadOnlySpan<byte> contents, Action<string> syncDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(syncDirectory);
        string full = Path.GetFullPath(path);
        string temporary = full + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerReadWrite;
        }

        using (var file = new FileStream(temporary, options))
        {
            // The create mode applies only to a new file; a temporary file left by a crash keeps its own.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file.SafeFileHandle, OwnerReadWrite);
            }

            file.Write(contents);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, full, overwrite: true);
        syncDirectory(Path.GetDirectoryName(full)!);
    }

    /// <summary>
    /// Syncs the folder itself, so that the names of the files created, renamed or removed in it are on disk. A no-op
    /// on Windows, where NTFS journals names and no folder handle can be flushed.
    /// </summary>
    public static void SyncDirectory(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        // O_RDONLY (0) on every Unix: a folder opens read-only without O_DIRECTORY, whose value differs by CPU.
        int fd = Open(path, 0);
        if (fd < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            throw new IOException($"Cannot open the folder {path} to sync it (errno {error}).", error);
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                int error = Marshal.GetLastPInvokeError();
                if (error is not InvalidArgument and not BadFileDescriptor)
                {
                    throw new IOException($"Syncing the folder {path} failed (errno {error}).", error);
                }
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Syncs the data of an open file (fdatasync where there is one): its bytes and its size, not its timestamps.</summary>
    public static void SyncData(SafeFileHandle handle)
    {
        ArgumentNullException.ThrowIfNull(handle);
        if (OperatingSystem.IsLinux())
        {
            if (FDataSync(handle) != 0)
            {
                int error = Marshal.GetLastPInvokeError();
                throw new IOException($"fdatasync failed (errno {error}).", error);
            }
        }
        else
        {
            RandomAccess.FlushToDisk(handle);
        }
    }

    /// <summary>
    /// Makes <paramref name="link"/> a second name of the file <paramref name="existing"/> (a hard link), which costs no
    /// bytes and keeps the file's contents reachable after the first name is deleted; false where the file system or the
    /// platform has none (the caller copies instead).
    /// </summary>
    public static bool TryHardLink(string existing, string link)
    {
        ArgumentException.ThrowIfNullOrEmpty(existing);
        ArgumentException.ThrowIfNullOrEmpty(link);
        return !OperatingSystem.IsWindows() && Link(existing, link) == 0;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string link);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(SafeFileHandle fd);
}
