using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Plexus.Storage.Writing;

/// <summary>
/// Plexus's own append-only write-ahead log (`plexus.log` in the data folder). A write is acknowledged once
/// its group's record is synced here; DuckDB receives the logged points later, many groups per transaction.
/// One record per group: a 20-byte header (payload length, log sequence number, checksum) and the payload.
/// </summary>
/// <remarks>
/// Recovery reads records from the start and stops at the first that is short, fails its checksum or does not
/// continue the sequence: that is a torn last write (never acknowledged) or bytes left over from before a
/// truncation (already applied). Records at or below the sequence number DuckDB recorded as applied are skipped.
/// </remarks>
internal sealed partial class WriteLog : IDisposable
{
    public const string FileName = "plexus.log";
    public const int HeaderSize = 20;

    private readonly SafeFileHandle _handle;
    private long _length;

    private WriteLog(SafeFileHandle handle, long length)
    {
        _handle = handle;
        _length = length;
    }

    public long Length => _length;

    public static WriteLog Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read);
        return new WriteLog(handle, RandomAccess.GetLength(handle));
    }

    /// <summary>The whole file, for recovery at start.</summary>
    public byte[] ReadAll()
    {
        var bytes = new byte[_length];
        int read = 0;
        while (read < bytes.Length)
        {
            int n = RandomAccess.Read(_handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return bytes;
    }

    /// <summary>Appends complete records and syncs them: when this returns, they survive a crash or power loss.</summary>
    public void AppendAndSync(ReadOnlySpan<byte> records)
    {
        RandomAccess.Write(_handle, records, _length);
        _length += records.Length;
        Sync();
    }

    /// <summary>Empties the log once everything in it is applied to DuckDB (and that commit is durable).</summary>
    public void Truncate()
    {
        RandomAccess.SetLength(_handle, 0);
        _length = 0;
    }

    public void Dispose() => _handle.Dispose();

    private void Sync()
    {
        if (OperatingSystem.IsLinux())
        {
            // fdatasync: the data and the file size, without the timestamps fsync would also write.
            if (FDataSync(_handle) != 0)
            {
                throw new IOException($"fdatasync of the write log failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        else
        {
            RandomAccess.FlushToDisk(_handle);
        }
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(SafeFileHandle fd);

    /// <summary>Fills in the header of a record whose payload follows it in <paramref name="record"/>.</summary>
    public static void SealRecord(Span<byte> record, long lsn)
    {
        var payload = record[HeaderSize..];
        BinaryPrimitives.WriteInt32LittleEndian(record, payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(record[4..], lsn);
        BinaryPrimitives.WriteUInt64LittleEndian(record[12..], Checksum(lsn, payload));
    }

    /// <summary>
    /// Reads the record at <paramref name="offset"/>; false at the end of the valid log (end of data, a torn
    /// or corrupt record, or a sequence number that does not follow <paramref name="previousLsn"/>).
    /// </summary>
    public static bool TryReadRecord(ReadOnlySpan<byte> log, int offset, long previousLsn, out long lsn, out int payloadOffset, out int payloadLength)
    {
        lsn = 0;
        payloadOffset = offset + HeaderSize;
        payloadLength = 0;
        if (log.Length - offset < HeaderSize)
        {
            return false;
        }

        var header = log[offset..];
        payloadLength = BinaryPrimitives.ReadInt32LittleEndian(header);
        lsn = BinaryPrimitives.ReadInt64LittleEndian(header[4..]);
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(header[12..]);
        if (payloadLength < 0 || payloadLength > log.Length - payloadOffset || lsn <= previousLsn)
        {
            return false;
        }

        return Checksum(lsn, log.Slice(payloadOffset, payloadLength)) == checksum;
    }

    // Not cryptographic: it only has to tell a whole record from a torn or stale one.
    private static ulong Checksum(long seed, ReadOnlySpan<byte> data)
    {
        ulong h = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) ^ (ulong)data.Length;
        int i = 0;
        for (; i + 8 <= data.Length; i += 8)
        {
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(data[i..])) * 0xFF51AFD7ED558CCDUL;
            h ^= h >> 32;
        }

        for (; i < data.Length; i++)
        {
            h = (h ^ data[i]) * 0x100000001B3UL;
        }

        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return h;
    }
}
