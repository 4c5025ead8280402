using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Plexus.Storage.Writing;

/// <summary>How a record of the write log reads at a given offset (see <see cref="WriteLog.ReadRecord"/>).</summary>
internal enum RecordStatus
{
    /// <summary>A whole record that continues the sequence.</summary>
    Whole,

    /// <summary>No bytes left: the log ends here cleanly.</summary>
    End,

    /// <summary>Fewer bytes left than the record header or its payload needs: a write the process died in.</summary>
    Torn,

    /// <summary>The bytes are all there but fail the checksum (or the length is negative): damaged on disk.</summary>
    Corrupt,

    /// <summary>A whole record whose sequence number does not follow: bytes left from before a truncation.</summary>
    OutOfSequence,
}

/// <summary>
/// Plexus's own append-only write-ahead log (`plexus.log` in the data folder). A write is acknowledged once
/// its group's record is synced here; DuckDB receives the logged points later, many groups per transaction.
/// The byte layout is drawn in docs/architecture.md ("The write log file").
/// </summary>
/// <remarks>
/// <code>
///  file:   [header 16 B][record][record]...           a previous release wrote records from offset 0 (no header)
///  header: "PLEXUSWL" (8 B) | version u32 LE = 1 | reserved u32 = 0
///  record: payload length i32 LE | lsn i64 LE | checksum u64 LE (seeded with the lsn) | payload
/// </code>
/// Recovery reads records from the start and stops at the first that is short, fails its checksum or does not
/// continue the sequence: that is a torn last write (never acknowledged), damage, or bytes left over from before
/// a truncation (already applied). Records at or below the sequence number DuckDB recorded as applied are skipped.
/// The log never holds a record it has not synced past its own length: a failed append is rolled back before the
/// next one, see <see cref="AppendAndSync"/>.
/// </remarks>
internal sealed class WriteLog : IDisposable
{
    public const string FileName = "plexus.log";

    /// <summary>The file header: magic and format version.</summary>
    public const int HeaderSize = 16;

    /// <summary>Each record's own header: payload length, sequence number, checksum.</summary>
    public const int RecordHeaderSize = 20;

    /// <summary>The format this version writes and reads; 0 stands for the header-less log of the first release.</summary>
    public const uint FormatVersion = 1;

    public const uint LegacyFormatVersion = 0;

    private readonly LogFileOperations _file;
    private SafeFileHandle _handle;
    private long _length;

    private WriteLog(string path, LogFileOperations file, SafeFileHandle handle, long length, uint version)
    {
        Path = path;
        _file = file;
        _handle = handle;
        _length = length;
        Version = version;
    }

    private static ReadOnlySpan<byte> Magic => "PLEXUSWL"u8;

    public string Path { get; }

    /// <summary>The format of the file as found at open: <see cref="FormatVersion"/>, <see cref="LegacyFormatVersion"/>, or a newer one with no records in it.</summary>
    public uint Version { get; private set; }

    /// <summary>Where the first record starts in the bytes of <see cref="ReadAll"/>.</summary>
    public int RecordsStart => Version == LegacyFormatVersion ? 0 : HeaderSize;

    /// <summary>True once a failed append could not be rolled back: the log takes no more appends until a restart replays it.</summary>
    public bool IsBroken { get; private set; }

    /// <summary>
    /// Opens the log, creating it with a header if there is none. A log in the first release's header-less
    /// format opens as <see cref="LegacyFormatVersion"/> for one replay; <see cref="StartEmpty"/> then rewrites it.
    /// </summary>
    /// <exception cref="StorageException">The log was written by a newer Plexus and still holds records.</exception>
    public static WriteLog Open(string path, LogFileOperations file)
    {
        if (!File.Exists(path))
        {
            file.Replace(path, NewHeader());
        }

        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            long length = RandomAccess.GetLength(handle);
            Span<byte> header = stackalloc byte[HeaderSize];
            int read = length >= HeaderSize ? RandomAccess.Read(handle, header, 0) : 0;
            uint version = LegacyFormatVersion;
            if (read == HeaderSize && header[..Magic.Length].SequenceEqual(Magic))
            {
                version = BinaryPrimitives.ReadUInt32LittleEndian(header[Magic.Length..]);
                if (version != FormatVersion && length > HeaderSize)
                {
                    throw new StorageException(
                        $"The write log {path} has format version {version}, but this version of Plexus reads version {FormatVersion}: " +
                        $"a newer Plexus wrote it, and it still holds {length - HeaderSize} bytes of acknowledged writes that are not in the database. " +
                        "Start that newer Plexus on this data folder once and stop it cleanly (SIGTERM or Ctrl+C applies and empties the log), then start this version again. Do not delete the file.");
                }
            }

            return new WriteLog(path, file, handle, length, version);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public long Length => _length;

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

    /// <summary>
    /// After recovery: leaves an empty log in the current format. A log of another format is replaced whole
    /// (a new file renamed over it, the folder synced); the current one is cut back to its header and synced.
    /// </summary>
    public void StartEmpty()
    {
        if (Version != FormatVersion)
        {
            _handle.Dispose();
            _file.Replace(Path, NewHeader());
            _handle = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
            Version = FormatVersion;
        }
        else
        {
            _file.SetLength(_handle, HeaderSize);
            _file.Sync(_handle);
        }

        _length = HeaderSize;
    }

    /// <summary>
    /// Appends complete records and syncs them: when this returns, they survive a crash or power loss. When it
    /// throws, the log is as it was before the call (or <see cref="IsBroken"/> is set) and none of the records is
    /// acknowledged; the caller never reuses their sequence numbers.
    /// </summary>
    /// <remarks>
    /// A failed write or fdatasync is rolled back, not retried. After a failed fdatasync the kernel may already
    /// have dropped the dirty pages and cleared the error, so a second fdatasync can succeed without the bytes
    /// being on disk (PostgreSQL's "fsyncgate"): the bytes of this call can never be trusted again. Everything
    /// before them was synced by an earlier call that succeeded, so cutting the file back to that length and
    /// syncing the cut leaves a log whose every byte is known to be on disk, and the next record is written where
    /// the failed one began, under a new sequence number. Should the cut not reach the disk either, the leftover
    /// bytes carry a sequence number no later record repeats, so they can neither shadow a later record nor be
    /// mistaken for one. Only when the cut itself fails is the log given up: <see cref="IsBroken"/>, no more
    /// appends, and the next start replays it (PostgreSQL's answer). Rolling back rather than stopping at every
    /// failure is what lets the store take writes again by itself when a full disk gets space back.
    /// </remarks>
    public void AppendAndSync(ReadOnlySpan<byte> records)
    {
        ThrowIfBroken();
        try
        {
            _file.Write(_handle, records, _length);
            _file.Sync(_handle);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            RollBack();
            throw;
        }

        _length += records.Length;
    }

    /// <summary>
    /// After a failed append: whether <paramref name="bytes"/> more bytes could be appended and synced now. Writes
    /// zeros past the end, syncs, and cuts them off again; throws as an append would.
    /// </summary>
    public void Probe(int bytes)
    {
        ThrowIfBroken();
        var zeros = new byte[Math.Max(bytes, RecordHeaderSize)];
        try
        {
            // Zeros read as a record with sequence number 0, which never continues a log: harmless if a crash keeps them.
            _file.Write(_handle, zeros, _length);
            _file.Sync(_handle);
        }
        finally
        {
            RollBack();
        }
    }

    /// <summary>Empties the log once everything in it is applied to DuckDB (and that commit is durable).</summary>
    public void Truncate()
    {
        _file.SetLength(_handle, HeaderSize);
        _length = HeaderSize;
    }

    public void Dispose() => _handle.Dispose();

    private void RollBack()
    {
        try
        {
            _file.SetLength(_handle, _length);
            _file.Sync(_handle);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            IsBroken = true;
        }
    }

    private void ThrowIfBroken()
    {
        if (IsBroken)
        {
            throw new IOException("The write log could not be rolled back after a failed append and takes no more writes; restart the server to replay it.");
        }
    }

    private static byte[] NewHeader()
    {
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(Magic.Length), FormatVersion);
        return header;
    }

    /// <summary>Fills in the header of a record whose payload follows it in <paramref name="record"/>.</summary>
    public static void SealRecord(Span<byte> record, long lsn)
    {
        var payload = record[RecordHeaderSize..];
        BinaryPrimitives.WriteInt32LittleEndian(record, payload.Length);
        BinaryPrimitives.WriteInt64LittleEndian(record[4..], lsn);
        BinaryPrimitives.WriteUInt64LittleEndian(record[12..], Checksum(lsn, payload));
    }

    /// <summary>
    /// Reads the record at <paramref name="offset"/> of <paramref name="log"/> (records only, no file header);
    /// anything but <see cref="RecordStatus.Whole"/> ends the valid log there.
    /// </summary>
    public static RecordStatus ReadRecord(ReadOnlySpan<byte> log, int offset, long previousLsn, out long lsn, out int payloadOffset, out int payloadLength)
    {
        lsn = 0;
        payloadOffset = offset + RecordHeaderSize;
        payloadLength = 0;
        if (offset == log.Length)
        {
            return RecordStatus.End;
        }

        if (log.Length - offset < RecordHeaderSize)
        {
            return RecordStatus.Torn;
        }

        var header = log[offset..];
        payloadLength = BinaryPrimitives.ReadInt32LittleEndian(header);
        lsn = BinaryPrimitives.ReadInt64LittleEndian(header[4..]);
        ulong checksum = BinaryPrimitives.ReadUInt64LittleEndian(header[12..]);
        if (payloadLength < 0)
        {
            return RecordStatus.Corrupt;
        }

        if (payloadLength > log.Length - payloadOffset)
        {
            return RecordStatus.Torn;
        }

        if (Checksum(lsn, log.Slice(payloadOffset, payloadLength)) != checksum)
        {
            return RecordStatus.Corrupt;
        }

        return lsn > previousLsn ? RecordStatus.Whole : RecordStatus.OutOfSequence;
    }

    /// <summary>
    /// After a record that ended the valid log: the first whole record that would have continued the sequence
    /// somewhere in the bytes after <paramref name="offset"/>, or -1. Replay reports it, because such a record
    /// may be an acknowledged write behind a damaged one. A slow byte-by-byte search, for recovery only.
    /// </summary>
    public static int FindWholeRecordAfter(ReadOnlySpan<byte> log, int offset, long previousLsn)
    {
        for (int at = offset + 1; at <= log.Length - RecordHeaderSize; at++)
        {
            if (ReadRecord(log, at, previousLsn, out _, out _, out _) == RecordStatus.Whole)
            {
                return at;
            }
        }

        return -1;
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
