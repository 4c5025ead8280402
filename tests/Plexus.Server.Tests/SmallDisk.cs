using System.Diagnostics;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>
/// A real small file system for disk-full tests: a tmpfs of a few MB mounted on a temporary folder, unmounted on
/// dispose. Mounting needs root with CAP_SYS_ADMIN on Linux; <see cref="SmallDiskFactAttribute"/> skips the test
/// (with the reason) where that is missing.
/// </summary>
internal sealed class SmallDisk : IDisposable
{
    private const int SysAdminCapability = 21;

    private readonly TempDirectory _mountPoint = new("plexus-small-disk");
    private bool _mounted;

    public SmallDisk(string size)
    {
        Run("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", _mountPoint.Path);
        _mounted = true;
    }

    public string Path => _mountPoint.Path;

    private string FillerPath => System.IO.Path.Combine(Path, "filler");

    /// <summary>Why this machine cannot mount one, or null if it can.</summary>
    public static string? WhyNotAvailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "mounting a tmpfs needs Linux";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "mounting a tmpfs needs root (run the tests as root, e.g. in a container)";
        }

        string? effective = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
        if (effective is null || (Convert.ToUInt64(effective["CapEff:".Length..].Trim(), 16) & (1UL << SysAdminCapability)) == 0)
        {
            return "mounting a tmpfs needs CAP_SYS_ADMIN, which this process lacks (a container without --privileged or --cap-add SYS_ADMIN)";
        }

        return null;
    }

    /// <summary>Takes every free byte with one file; returns its size.</summary>
    public long Fill()
    {
        using var filler = File.OpenHandle(FillerPath, FileMode.Create, FileAccess.Write);
        var chunk = new byte[64 * 1024];
        long written = 0;
        while (true)
        {
            try
            {
                // A short write fills the last pages; the next call reports ENOSPC.
                RandomAccess.Write(filler, chunk, written);
                written += chunk.Length;
            }
            catch (IOException)
            {
                return RandomAccess.GetLength(filler);
            }
        }
    }

    public void Free() => File.Delete(FillerPath);

    public void Dispose()
    {
        if (_mounted)
        {
            // Lazily, so that a file a failed test still holds open cannot leave the mount behind.
            Run("umount", "-l", Path);
            _mounted = false;
        }

        _mountPoint.Dispose();
    }

    private static void Run(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {error}");
        }
    }
}

/// <summary>A fact that needs <see cref="SmallDisk"/>: skipped, with the reason printed, where a tmpfs cannot be mounted.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class SmallDiskFactAttribute : FactAttribute
{
    public SmallDiskFactAttribute()
    {
        if (SmallDisk.WhyNotAvailable() is { } reason)
        {
            Skip = reason;
        }
    }
}
