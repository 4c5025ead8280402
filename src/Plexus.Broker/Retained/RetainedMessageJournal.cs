using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;
using MQTTnet;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Plexus.Broker.Retained;

/// <summary>A retained message and the client identity (see <c>MqttSessionOwnership.IdentityOf</c>) that published it last.</summary>
public sealed record RetainedEntry(MqttApplicationMessage Message, string Owner, int RecordBytes);

/// <summary>
/// The retained messages on disk: an append-only journal in the data folder (<see cref="FileName"/>), one record per
/// change, each synced before the change is acknowledged; rewritten whole (compacted) only when it has grown to twice
/// what its live messages take.
/// </summary>
/// <remarks>
/// Format (little-endian):
/// <code>
///   file    ┌────────┬──────────┬──────────┐
///           │ "PXRT" │ version  │ reserved │  8 bytes; version 1
///           └────────┴──────────┴──────────┘
///   record  ┌──────────────┬──────────────┬──────────────────────┐
///           │ body length  │ CRC-32(body) │ body                 │  u32, u32, then the body
///           └──────────────┴──────────────┴──────────────────────┘
///   body    set:    1 │ topic │ owner │ qos u8 │ payload format u8 │ flags u8 │ [content type] [response topic]
///                       [correlation data] [user properties: u16 count, (name, value)…] │ payload
///           remove: 2 │ topic
///           clear:  3
///   text: u16 length + UTF-8; bytes: u32 length + bytes; flags: 1 content type, 2 response topic,
///   4 correlation data, 8 user properties
/// </code>
/// A crash can only tear the last record (appends go to the end, each synced before the next): at load a record
/// that runs past the end, or whose checksum fails with nothing after it, is dropped with a warning and cut off the
/// file; it was never acknowledged. A bad record with others after it is damage, and stops the start. Compaction and
/// migration write a new file, sync it, rename it over the journal and sync the folder: a crash leaves the old
/// journal or the new one. A journal that does not exist yet takes over <see cref="RetainedMessageFile"/>'s JSON
/// file once, the same way.
/// </remarks>
public sealed partial class RetainedMessageJournal : IDisposable
{
    public const string FileName = "mqtt-retained.journal";
    public const int HeaderSize = 8;
    public const int RecordHeaderSize = 8;

    /// <summary>Below this the journal is never compacted: rewriting a small file saves nothing.</summary>
    public const long CompactionFloor = 64 * 1024;

    private const ushort FormatVersion = 1;
    private const byte SetKind = 1;
    private const byte RemoveKind = 2;
    private const byte ClearKind = 3;
    private static ReadOnlySpan<byte> Magic => "PXRT"u8;

    private readonly string _directory;
    private readonly ILogger _logger;
    private SafeFileHandle? _handle;
    private long _length;

    public RetainedMessageJournal(string dataDirectory, ILogger logger)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        _directory = dataDirectory;
        _logger = logger;
        Path = System.IO.Path.Combine(dataDirectory, FileName);
    }

    public string Path { get; }

    /// <summary>Bytes in the journal now.</summary>
    public long Length => _length;

    /// <summary>
    /// Reads the journal (migrating the JSON file when there is no journal yet) and opens it for appending. Returns the
    /// live messages in the order they were last set.
    /// </summary>
    /// <exception cref="InvalidDataException">The journal is damaged; the message names it, the offset and the fix.</exception>
    public List<RetainedEntry> Open()
    {
        var legacy = new RetainedMessageFile(_directory);
        bool hasLegacy = File.Exists(legacy.Path);
        List<RetainedEntry> entries;
        if (!File.Exists(Path) && hasLegacy)
        {
            entries = [.. legacy.Load().Select(m => Entry(m, ""))];
            WriteWhole(entries);
            RetainedLog.Migrated(_logger, entries.Count, legacy.Path, Path);
        }
        else
        {
            if (!File.Exists(Path))
            {
                WriteWhole([]);
            }

            entries = Load();
        }

        if (hasLegacy)
        {
            // Migrated now, or before a crash that came between the journal's rename and this delete.
            File.Delete(legacy.Path);
            SyncDirectory(_directory);
        }

        _handle = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        _length = RandomAccess.GetLength(_handle);
        return entries;
    }

    /// <summary>An entry for <paramref name="message"/> with its size as a journal record.</summary>
    public static RetainedEntry Entry(MqttApplicationMessage message, string owner) => new(message, owner, RecordHeaderSize + SetBodySize(message, owner));

    /// <summary>Appends a set record and syncs it.</summary>
    public void AppendSet(RetainedEntry entry)
    {
        var record = new byte[entry.RecordBytes];
        WriteSetRecord(record, entry.Message, entry.Owner);
        Append(record);
    }

    public void AppendRemove(string topic)
    {
        var record = new byte[RecordHeaderSize + 1 + TextSize(topic)];
        int position = RecordHeaderSize;
        record[position++] = RemoveKind;
        WriteText(record, ref position, topic);
        Seal(record);
        Append(record);
    }

    public void AppendClear()
    {
        var record = new byte[RecordHeaderSize + 1];
        record[RecordHeaderSize] = ClearKind;
        Seal(record);
        Append(record);
    }

    /// <summary>True when the journal has grown to twice what <paramref name="liveBytes"/> of records would take.</summary>
    public bool ShouldCompact(long liveBytes) => _length > CompactionFloor && _length > 2 * (HeaderSize + liveBytes);

    /// <summary>Rewrites the journal with only <paramref name="live"/>: a new file, synced, renamed over the old, folder synced.</summary>
    public void Compact(IReadOnlyCollection<RetainedEntry> live)
    {
        string temporary = WriteTemporary(live);
        File.Move(temporary, Path, overwrite: true);

        // Appends must go to the new file from here on, even if syncing the folder fails below.
        _handle?.Dispose();
        _handle = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        _length = RandomAccess.GetLength(_handle);
        SyncDirectory(_directory);
    }

    public void Dispose() => _handle?.Dispose();

    private void Append(byte[] record)
    {
        var handle = _handle ?? throw new InvalidOperationException("the retained-message journal is not open");
        long before = _length;
        try
        {
            RandomAccess.Write(handle, record, before);
            Sync(handle);
            _length = before + record.Length;
        }
        catch
        {
            // Cut a partly written record off, so that the next append does not follow garbage (which a restart would
            // take for damage in the middle). If even that fails, the torn record is the last one and is dropped at load.
            try
            {
                RandomAccess.SetLength(handle, before);
            }
            catch (IOException)
            {
            }

            throw;
        }
    }

    private void WriteWhole(IReadOnlyCollection<RetainedEntry> entries)
    {
        File.Move(WriteTemporary(entries), Path, overwrite: true);
        SyncDirectory(_directory);
    }

    /// <summary>Writes <paramref name="entries"/> as a whole journal next to it and syncs it; returns its path.</summary>
    private string WriteTemporary(IReadOnlyCollection<RetainedEntry> entries)
    {
        string temporary = Path + ".tmp";
        using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            long total = HeaderSize + entries.Sum(e => (long)e.RecordBytes);
            var header = new byte[HeaderSize];
            Magic.CopyTo(header);
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(4), FormatVersion);
            RandomAccess.Write(handle, header, 0);
            long position = HeaderSize;
            foreach (var entry in entries)
            {
                var record = new byte[entry.RecordBytes];
                WriteSetRecord(record, entry.Message, entry.Owner);
                RandomAccess.Write(handle, record, position);
                position += record.Length;
            }

            System.Diagnostics.Debug.Assert(position == total, "record sizes match what was written");
            Sync(handle);
        }

        return temporary;
    }

    private List<RetainedEntry> Load()
    {
        byte[] bytes = File.ReadAllBytes(Path);
        if (bytes.Length < HeaderSize || !bytes.AsSpan(0, 4).SequenceEqual(Magic))
        {
            throw Damaged(0, "it does not start with the retained-journal header");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4));
        if (version != FormatVersion)
        {
            throw Damaged(4, $"format version {version} is not {FormatVersion}; this Plexus cannot read it");
        }

        var live = new Dictionary<string, RetainedEntry>(StringComparer.Ordinal);
        long offset = HeaderSize;
        while (offset < bytes.Length)
        {
            long remaining = bytes.Length - offset;
            uint bodyLength = remaining >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset)) : 0;
            if (remaining < RecordHeaderSize || bodyLength == 0 || bodyLength > remaining - RecordHeaderSize)
            {
                DropTornTail(offset, remaining);
                break;
            }

            var body = bytes.AsSpan((int)offset + RecordHeaderSize, (int)bodyLength);
            uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)offset + 4));
            long next = offset + RecordHeaderSize + bodyLength;
            if (System.IO.Hashing.Crc32.HashToUInt32(body) != checksum)
            {
                if (next == bytes.Length)
                {
                    DropTornTail(offset, remaining);
                    break;
                }

                throw Damaged(offset, "a record's checksum does not match and more records follow it");
            }

            try
            {
                Replay(live, body);
            }
            catch (Exception error) when (error is ArgumentOutOfRangeException or IndexOutOfRangeException or DecoderFallbackException or InvalidDataException)
            {
                throw Damaged(offset, "a record with a valid checksum cannot be read: " + error.Message);
            }

            offset = next;
        }

        return [.. live.Values];
    }

    private void DropTornTail(long offset, long length)
    {
        RetainedLog.TornRecordDropped(_logger, Path, offset, length);
        using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        RandomAccess.SetLength(handle, offset);
        Sync(handle);
    }

    private static void Replay(Dictionary<string, RetainedEntry> live, ReadOnlySpan<byte> body)
    {
        int position = 1;
        switch (body[0])
        {
            case SetKind:
                var (message, owner) = ReadSet(body, ref position);
                live.Remove(message.Topic);
                live[message.Topic] = new RetainedEntry(message, owner, RecordHeaderSize + body.Length);
                break;
            case RemoveKind:
                live.Remove(ReadText(body, ref position));
                break;
            case ClearKind:
                live.Clear();
                break;
            default:
                throw new InvalidDataException($"unknown record kind {body[0]}");
        }

        if (position != body.Length)
        {
            throw new InvalidDataException($"{body.Length - position} bytes after the record's fields");
        }
    }

    private InvalidDataException Damaged(long offset, string detail) =>
        new($"The retained-message journal {Path} is damaged at byte {offset}: {detail}. Move it away to start without retained messages (a copy helps to report the damage).");

    private static int SetBodySize(MqttApplicationMessage message, string owner)
    {
        long size = 1 + TextSize(message.Topic) + TextSize(owner) + 3 + 4 + message.Payload.Length;
        if (message.ContentType is not null)
        {
            size += TextSize(message.ContentType);
        }

        if (message.ResponseTopic is not null)
        {
            size += TextSize(message.ResponseTopic);
        }

        if (message.CorrelationData is { Length: > 0 } correlation)
        {
            size += 4 + correlation.Length;
        }

        if (message.UserProperties is { Count: > 0 } properties)
        {
            size += 2;
            foreach (var property in properties)
            {
                size += TextSize(property.Name ?? "") + 4 + property.ValueBuffer.Length;
            }
        }

        return checked((int)size);
    }

    private static void WriteSetRecord(Span<byte> record, MqttApplicationMessage message, string owner)
    {
        int position = RecordHeaderSize;
        record[position++] = SetKind;
        WriteText(record, ref position, message.Topic);
        WriteText(record, ref position, owner);
        record[position++] = (byte)message.QualityOfServiceLevel;
        record[position++] = (byte)message.PayloadFormatIndicator;
        byte flags = (byte)((message.ContentType is not null ? 1 : 0) | (message.ResponseTopic is not null ? 2 : 0)
            | (message.CorrelationData is { Length: > 0 } ? 4 : 0) | (message.UserProperties is { Count: > 0 } ? 8 : 0));
        record[position++] = flags;
        if (message.ContentType is not null)
        {
            WriteText(record, ref position, message.ContentType);
        }

        if (message.ResponseTopic is not null)
        {
            WriteText(record, ref position, message.ResponseTopic);
        }

        if ((flags & 4) != 0)
        {
            WriteBytes(record, ref position, message.CorrelationData);
        }

        if ((flags & 8) != 0)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(record[position..], checked((ushort)message.UserProperties.Count));
            position += 2;
            foreach (var property in message.UserProperties)
            {
                WriteText(record, ref position, property.Name ?? "");
                WriteBytes(record, ref position, property.ValueBuffer.Span);
            }
        }

        BinaryPrimitives.WriteUInt32LittleEndian(record[position..], (uint)message.Payload.Length);
        position += 4;
        message.Payload.CopyTo(record[position..]);
        position += (int)message.Payload.Length;
        System.Diagnostics.Debug.Assert(position == record.Length, "the record is exactly its computed size");
        Seal(record);
    }

    private static (MqttApplicationMessage Message, string Owner) ReadSet(ReadOnlySpan<byte> body, ref int position)
    {
        string topic = ReadText(body, ref position);
        string owner = ReadText(body, ref position);
        byte qos = body[position++];
        byte format = body[position++];
        byte flags = body[position++];
        if (qos > 2 || format > 1 || (flags & ~0x0F) != 0)
        {
            throw new InvalidDataException($"QoS {qos}, payload format {format} or flags {flags} out of range");
        }

        var message = new MqttApplicationMessage
        {
            Topic = topic,
            QualityOfServiceLevel = (MqttQualityOfServiceLevel)qos,
            PayloadFormatIndicator = (MqttPayloadFormatIndicator)format,
            Retain = true,
        };
        if ((flags & 1) != 0)
        {
            message.ContentType = ReadText(body, ref position);
        }

        if ((flags & 2) != 0)
        {
            message.ResponseTopic = ReadText(body, ref position);
        }

        if ((flags & 4) != 0)
        {
            message.CorrelationData = ReadBytes(body, ref position);
        }

        if ((flags & 8) != 0)
        {
            int count = BinaryPrimitives.ReadUInt16LittleEndian(body[position..]);
            position += 2;
            message.UserProperties = new List<MqttUserProperty>(count);
            for (int i = 0; i < count; i++)
            {
                string name = ReadText(body, ref position);
                message.UserProperties.Add(new MqttUserProperty(name, ReadBytes(body, ref position)));
            }
        }

        message.Payload = new ReadOnlySequence<byte>(ReadBytes(body, ref position));
        return (message, owner);
    }

    internal static int TextSize(string text) => 2 + Encoding.UTF8.GetByteCount(text);

    private static void WriteText(Span<byte> destination, ref int position, string text)
    {
        int length = Encoding.UTF8.GetBytes(text, destination[(position + 2)..]);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[position..], checked((ushort)length));
        position += 2 + length;
    }

    private static void WriteBytes(Span<byte> destination, ref int position, ReadOnlySpan<byte> bytes)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination[position..], (uint)bytes.Length);
        bytes.CopyTo(destination[(position + 4)..]);
        position += 4 + bytes.Length;
    }

    internal static string ReadText(ReadOnlySpan<byte> body, ref int position)
    {
        int length = BinaryPrimitives.ReadUInt16LittleEndian(body[position..]);
        string text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body.Slice(position + 2, length));
        position += 2 + length;
        return text;
    }

    internal static byte[] ReadBytes(ReadOnlySpan<byte> body, ref int position)
    {
        int length = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(body[position..]));
        byte[] bytes = body.Slice(position + 4, length).ToArray();
        position += 4 + length;
        return bytes;
    }

    private static void Seal(Span<byte> record)
    {
        var body = record[RecordHeaderSize..];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], System.IO.Hashing.Crc32.HashToUInt32(body));
    }

    private static void Sync(SafeFileHandle handle)
    {
        if (OperatingSystem.IsWindows())
        {
            using var stream = new FileStream(handle, FileAccess.Write);
            stream.Flush(flushToDisk: true);
            return;
        }

        if (FsyncNative(handle) != 0)
        {
            throw new IOException($"fsync failed (errno {Marshal.GetLastPInvokeError()})");
        }
    }

    /// <summary>Makes a rename or delete in <paramref name="directory"/> durable (POSIX: fsync of the folder itself).</summary>
    private static void SyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = OpenNative(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open the folder {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (FsyncDescriptor(fd) != 0)
            {
                throw new IOException($"fsync of the folder {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = CloseNative(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncNative(SafeFileHandle handle);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FsyncDescriptor(int fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseNative(int fd);
}
