using System.Runtime.InteropServices;

namespace Plexus.Core;

/// <summary>
/// Small files that must survive a crash or power cut whole (the admin token's hash, the API tokens): the new
/// content goes to a temporary file, which is synced, renamed over the old one, and then the folder is synced so
/// the rename itself is on disk. A reader sees the old file or the new one, never a torn or empty one.
/// </summary>
public static partial class DurableFile
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Replaces <paramref name="path"/> with <paramref name="bytes"/>, readable and writable by the owner only (0600).</summary>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string temp = full + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerReadWrite;
        }

        using (var file = new FileStream(temp, options))
        {
            // The create mode applies only to a new file; a temporary file left by a crash keeps its own.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file.SafeFileHandle, OwnerReadWrite);
            }

            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(temp, full, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(full)!);
    }

    /// <summary>
    /// Makes the folder's entries durable (a rename, a new or removed file). Linux and macOS only: elsewhere the file
    /// system has no call for it and this does nothing.
    /// </summary>
    public static void SyncDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        // .NET opens no handle on a folder, so this goes to libc. O_RDONLY is 0 on both systems.
        int fd = Open(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open the folder {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of the folder {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
