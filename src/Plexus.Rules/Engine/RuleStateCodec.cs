using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Plexus.Rules.Engine;

/// <summary>Appends the little-endian values of the rule state file (<see cref="RuleStateFile"/>) to a growing buffer.</summary>
internal sealed class RuleStateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    public int Length => _buffer.WrittenCount;

    public void Byte(byte value)
    {
        _buffer.GetSpan(1)[0] = value;
        _buffer.Advance(1);
    }

    public void Int32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void Int64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void Double(double value) => Int64(BitConverter.DoubleToInt64Bits(value));

    public void Doubles(ReadOnlySpan<double> values)
    {
        foreach (double value in values)
        {
            Double(value);
        }
    }

    /// <summary>A length (−1 for null) and the bytes.</summary>
    public void Bytes(ReadOnlySpan<byte> bytes, bool isNull = false)
    {
        Int32(isNull ? -1 : bytes.Length);
        bytes.CopyTo(_buffer.GetSpan(bytes.Length));
        _buffer.Advance(bytes.Length);
    }

    public void Text(string text) => Bytes(Encoding.UTF8.GetBytes(text));

    /// <summary>Writes a placeholder for a section's length, to be filled in by <see cref="EndSection"/>.</summary>
    public int BeginSection()
    {
        int at = _buffer.WrittenCount;
        Int64(0);
        return at;
    }

    public void EndSection(int at)
    {
        long length = _buffer.WrittenCount - at - 8;
        BinaryPrimitives.WriteInt64LittleEndian(Patch(at, 8), length);
    }

    /// <summary>Bytes already written, to fill in a length or a checksum once known.</summary>
    public Span<byte> Patch(int at, int length) => System.Runtime.InteropServices.MemoryMarshal.AsMemory(_buffer.WrittenMemory).Span.Slice(at, length);
}

/// <summary>
/// Reads what <see cref="RuleStateWriter"/> wrote. Every length and count is checked against what is left and against
/// the limit its reader names, so a damaged file fails with <see cref="InvalidDataException"/> naming the offset, never
/// with a huge allocation or an index out of range.
/// </summary>
internal sealed class RuleStateReader(ReadOnlyMemory<byte> body)
{
    private int _position;

    public bool AtEnd => _position == body.Length;

    public byte Byte() => Take(1)[0];

    public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

    public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    public double Double() => BitConverter.Int64BitsToDouble(Int64());

    /// <summary>A count from <paramref name="min"/> to <paramref name="max"/>, or the file is damaged.</summary>
    public int Count(int min, int max, string what)
    {
        int at = _position;
        int value = Int32();
        return value >= min && value <= max ? value : throw Damaged(at, $"{what} {value} is not from {min} to {max}");
    }

    public void Doubles(Span<double> into)
    {
        for (int i = 0; i < into.Length; i++)
        {
            into[i] = Double();
        }
    }

    /// <summary>Bytes written by <see cref="RuleStateWriter.Bytes"/>; null when they were written as null.</summary>
    public ReadOnlySpan<byte> Bytes(int max, string what, out bool isNull)
    {
        int length = Count(-1, max, what);
        isNull = length < 0;
        return isNull ? default : Take(length);
    }

    public string Text(int max, string what) => Encoding.UTF8.GetString(Bytes(max, what, out _));

    /// <summary>A section's length, checked against what is left; <see cref="Skip"/> passes over it.</summary>
    public long Section()
    {
        int at = _position;
        long length = Int64();
        return length >= 0 && length <= body.Length - _position ? length : throw Damaged(at, $"a section of {length} bytes runs past the end");
    }

    public void Skip(long length) => Take(checked((int)length));

    public int Position => _position;

    public InvalidDataException Damaged(int at, string problem) => new($"the rule state is damaged at byte {at} of its {body.Length}-byte body: {problem}");

    private ReadOnlySpan<byte> Take(int length)
    {
        if (length > body.Length - _position)
        {
            throw Damaged(_position, $"{length} more bytes were expected, {body.Length - _position} are left");
        }

        var span = body.Span.Slice(_position, length);
        _position += length;
        return span;
    }
}
