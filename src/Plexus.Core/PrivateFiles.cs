using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Plexus.Core;

/// <summary>
/// Keeps the data folder private to the account the server runs as: the database, its logs, the token hashes and
/// the retained messages hold everything the server stores, so nobody else on the machine may read them.
/// </summary>
/// <remarks>
/// Files Plexus writes itself could be given a mode one by one, but DuckDB creates its database, its write-ahead log
/// and its temporary files with the process umask. So the process umask is the one lever that covers all of them:
/// <see cref="RestrictProcessUmask"/> sets 077 (new files 0600, new folders 0700). <see cref="Tighten"/> then
/// repairs what an older version or another tool left looser.
/// </remarks>
public static partial class PrivateFiles
{
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    public const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode GroupAndOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Sets the umask of the whole process to 077; a no-op on Windows. Process-wide by nature: a host that embeds the
    /// server gets private files for everything it creates afterwards, too.
    /// </summary>
    public static void RestrictProcessUmask()
    {
        if (!OperatingSystem.IsWindows())
        {
            _ = Umask(0b000_111_111);
        }
    }

    /// <summary>
    /// Creates <paramref name="directory"/> (0700) or, when it exists, takes every group and other permission off it and
    /// off every file and folder below it. Symbolic links are left alone (changing one would change its target, which
    /// may be outside the folder). Returns what changed, and what could not be changed, for one log line.
    /// </summary>
    public static TightenResult Tighten(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var changed = new List<string>();
        var failed = new List<string>();
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return new TightenResult(changed, failed);
        }

        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, FolderMode);
            return new TightenResult(changed, failed);
        }

        TightenEntry(new DirectoryInfo(directory), directory, changed, failed);
        var options = new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true };
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", options))
        {
            TightenEntry(entry, directory, changed, failed);
        }

        return new TightenResult(changed, failed);
    }

    [UnsupportedOSPlatform("windows")]
    private static void TightenEntry(FileSystemInfo entry, string root, List<string> changed, List<string> failed)
    {
        if (entry.LinkTarget is not null)
        {
            return;
        }

        UnixFileMode mode = entry.UnixFileMode;
        if ((mode & GroupAndOthers) == 0)
        {
            return;
        }

        UnixFileMode tightened = mode & ~GroupAndOthers;
        string name = Path.GetRelativePath(root, entry.FullName);
        string description = $"{(name == "." ? "the folder" : name)} {Octal(mode)}→{Octal(tightened)}";
        try
        {
            entry.UnixFileMode = tightened;
            changed.Add(description);
        }
        catch (Exception error) when (error is UnauthorizedAccessException or IOException)
        {
            failed.Add($"{description}: {error.Message}");
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0b111_111_111, 8);

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint Umask(uint mask);
}

/// <summary>What <see cref="PrivateFiles.Tighten"/> changed ("plexus.duckdb 0644→0600") and what it could not change, with why.</summary>
public sealed record TightenResult(IReadOnlyList<string> Changed, IReadOnlyList<string> Failed);
