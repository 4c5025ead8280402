using System.Buffers.Binary;
using System.IO.Hashing;
using Plexus.Core;

namespace Plexus.Rules.Engine;

/// <summary>
/// The rule engine's state on disk (<see cref="FileName"/> in the data folder): what each rule remembers per device or
/// series, so that a restart neither forgets a pending <c>for</c> nor empties windows (docs/rules.md#restarts).
/// Replaced whole, through <see cref="DurableFile.Replace(string, ReadOnlySpan{byte})"/>: a crash leaves the previous
/// snapshot or this one, never a part.
/// </summary>
/// <remarks>
/// Format (little-endian):
/// <code>
///   header ┌────────┬─────────┬──────────┬────────────┬─────────────┬──────────────┐
///          │ "PXRS" │ version │ reserved │ written at │ body length │ CRC-32(body) │  28 bytes; version 1
///          │        │ u16     │ u16      │ i64 ticks  │ i64         │ u32          │  (written at: server clock)
///          └────────┴─────────┴──────────┴────────────┴─────────────┴──────────────┘
///   body   rule count i32, then per rule:
///          name │ fingerprint │ section length i64 │ memory slots i32 │ key count i32 │ key…
///   key    key │ pending since ns i64 │ newest ns i64 │ last arrival ticks i64 │ slot × memory slots
///   slot   seen u8 │ kind u8 │ number f64 │ time i64 │ text │ window kind u8 │ window
///   window 0 none; 1 count_within: count i32, times i64…; 2 anomaly: method u8, points i32, count i32, next i32,
///          values f64 × points, sorted f64 × count (MAD only); 3 seasonal: points i32, 24 × (present u8, anomaly)
///   name, key, text, fingerprint: i32 length (−1: none) + bytes
/// </code>
/// A rule's section is restored only when a rule of that name is running with the same fingerprint (the text that
/// shapes its state) and the same number of slots; any other is skipped by its length. A file whose header or
/// checksum is wrong, or whose body does not parse, is not used at all: the engine starts afresh and says so.
/// </remarks>
internal static class RuleStateFile
{
    public const string FileName = "rule-state.bin";
    public const int HeaderSize = 28;

    private const ushort FormatVersion = 1;
    private static ReadOnlySpan<byte> Magic => "PXRS"u8;

    /// <summary>A writer with room for the header, which <see cref="Replace"/> fills in.</summary>
    public static RuleStateWriter Begin()
    {
        var writer = new RuleStateWriter();
        for (int i = 0; i < HeaderSize; i++)
        {
            writer.Byte(0);
        }

        return writer;
    }

    public static void Replace(string path, RuleStateWriter writer, long writtenAtTicks)
    {
        var body = writer.Written[HeaderSize..];
        uint checksum = Crc32.HashToUInt32(body);
        var header = writer.Patch(0, HeaderSize);
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(header[8..], writtenAtTicks);
        BinaryPrimitives.WriteInt64LittleEndian(header[16..], body.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[24..], checksum);
        DurableFile.Replace(path, writer.Written);
    }

    /// <summary>The body of the file and when it was written; null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file is not a rule state of this version, or is damaged.</exception>
    public static (RuleStateReader Body, long WrittenAtTicks)? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        byte[] file = File.ReadAllBytes(path);
        if (file.Length < HeaderSize || !file.AsSpan(0, 4).SequenceEqual(Magic))
        {
            throw new InvalidDataException($"{path} is not a rule state file (its first bytes are not \"PXRS\")");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(4));
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"{path} is a rule state of version {version}; this server reads version {FormatVersion}");
        }

        long writtenAt = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(8));
        long length = BinaryPrimitives.ReadInt64LittleEndian(file.AsSpan(16));
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(24));
        if (length != file.Length - HeaderSize)
        {
            throw new InvalidDataException($"{path} is cut short or has bytes past its end: its header says {length} bytes of state, it holds {file.Length - HeaderSize}");
        }

        if (Crc32.HashToUInt32(file.AsSpan(HeaderSize)) != checksum)
        {
            throw new InvalidDataException($"{path} is damaged: its checksum does not match its contents");
        }

        return (new RuleStateReader(file.AsMemory(HeaderSize)), writtenAt);
    }
}
