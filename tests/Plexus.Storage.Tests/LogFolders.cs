using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Plexus.Storage.Writing;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

/// <summary>
/// A data folder for write-log tests and its "crash" copies: a copy taken while the store runs with logged,
/// unapplied writes is exactly what a killed process leaves (the log synced, DuckDB without those points).
/// </summary>
internal sealed class LogFolders : IDisposable
{
    private readonly TempDirectory _dir = new("plexus-wal");
    private readonly List<TempDirectory> _copies = [];

    public string Path => _dir.Path;

    public void Dispose()
    {
        foreach (var copy in _copies)
        {
            copy.Dispose();
        }

        _dir.Dispose();
    }

    public static string LogPath(string directory) => System.IO.Path.Combine(directory, WriteLog.FileName);

    // Applies only when a reader asks, so the tests decide what is in DuckDB and what only in the log.
    public static PlexusStore Open(string directory, LogFileOperations? file = null, ILoggerFactory? logs = null) => PlexusStore.Open(new StorageOptions
    {
        DataDirectory = directory,
        Threads = 1,
        LogApplyInterval = TimeSpan.FromHours(1),
        LogFile = file ?? LogFileOperations.Real,
    }, logs);

    public string CopyOf(string directory, byte[]? logBytes = null)
    {
        var copy = new TempDirectory("plexus-wal-copy");
        _copies.Add(copy);
        foreach (string file in Directory.GetFiles(directory))
        {
            File.Copy(file, System.IO.Path.Combine(copy.Path, System.IO.Path.GetFileName(file)));
        }

        if (logBytes is not null)
        {
            File.WriteAllBytes(LogPath(copy.Path), logBytes);
        }

        return copy.Path;
    }

    public static long Scalar(PlexusStore store, string sql)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>One point per write, time and seq = t. The first write of a folder creates the measurement (a direct commit); later ones only reach the log.</summary>
    public static async Task WriteSeriesAsync(PlexusStore store, int firstTime, int writes)
    {
        for (int t = firstTime; t < firstTime + writes; t++)
        {
            var result = await WriteOneAsync(store, t);
            Assert.Equal(1, result.PointsWritten);
        }
    }

    public static Task<WriteResult> WriteOneAsync(PlexusStore store, int t) =>
        store.Writer.WriteAsync("main", new PointBuilder().Point("env", t, [("site", "a")], ("temp", (double)t), ("seq", (long)t)).Batch);

    /// <summary>The file offset and sequence number of every record of a log file in the current format, up to the first that is not whole.</summary>
    public static List<(int Offset, long Lsn)> Records(byte[] log)
    {
        var records = new List<(int, long)>();
        var body = log.AsSpan(WriteLog.HeaderSize);
        int offset = 0;
        long previous = 0;
        while (WriteLog.ReadRecord(body, offset, previous, out long lsn, out int payloadOffset, out int payloadLength) == RecordStatus.Whole)
        {
            records.Add((WriteLog.HeaderSize + offset, lsn));
            previous = lsn;
            offset = payloadOffset + payloadLength;
        }

        return records;
    }

    public static uint VersionOf(byte[] log) => BinaryPrimitives.ReadUInt32LittleEndian(log.AsSpan(8));
}

/// <summary>
/// The write log's file calls with failures on demand: a write that stops part way with ENOSPC (a full disk), an
/// fdatasync that fails with EIO after the bytes were handed over, a truncation that fails or silently does not
/// happen. Counts the folder syncs.
/// </summary>
internal sealed class FaultyLogFile : LogFileOperations
{
    private const int NoSpace = 28;
    private const int IoError = 5;

    public int FailWrites { get; set; }

    public int FailSyncs { get; set; }

    public int FailSetLengths { get; set; }

    /// <summary>Truncations that return as if done but leave the file as it is (the cut never reached the disk).</summary>
    public int IgnoreSetLengths { get; set; }

    public List<string> SyncedDirectories { get; } = [];

    public override void Write(Microsoft.Win32.SafeHandles.SafeFileHandle handle, ReadOnlySpan<byte> bytes, long offset)
    {
        if (FailWrites > 0)
        {
            FailWrites--;
            base.Write(handle, bytes[..(bytes.Length / 2)], offset);
            throw new IOException("No space left on device : '/somewhere/plexus.log'", NoSpace);
        }

        base.Write(handle, bytes, offset);
    }

    public override void Sync(Microsoft.Win32.SafeHandles.SafeFileHandle handle)
    {
        if (FailSyncs > 0)
        {
            FailSyncs--;
            throw new IOException("fdatasync failed (errno 5).", IoError);
        }

        base.Sync(handle);
    }

    public override void SetLength(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long length)
    {
        if (FailSetLengths > 0)
        {
            FailSetLengths--;
            throw new IOException("ftruncate failed (errno 5).", IoError);
        }

        if (IgnoreSetLengths > 0)
        {
            IgnoreSetLengths--;
            return;
        }

        base.SetLength(handle, length);
    }

    public override void SyncDirectory(string path)
    {
        lock (SyncedDirectories)
        {
            SyncedDirectories.Add(path);
        }

        base.SyncDirectory(path);
    }
}
