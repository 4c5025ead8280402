using System.Buffers.Binary;
using System.Text;

namespace Plexus.PgWire.Protocol;

/// <summary>
/// A growable byte buffer that builds backend messages: a message's length is only known at its end, so
/// <see cref="StartMessage"/> leaves room for it and <see cref="EndMessage"/> fills it in. Reused for the life of a
/// connection (or of a query's row formatting), so building a message allocates nothing once it has grown.
/// </summary>
internal sealed class PgBuffer
{
    private byte[] _bytes;
    private int _length;
    private int _messageStart = -1;

    public PgBuffer(int capacity = 4096) => _bytes = new byte[capacity];

    public int Length => _length;

    public ReadOnlySpan<byte> Span => _bytes.AsSpan(0, _length);

    public ReadOnlyMemory<byte> Memory => _bytes.AsMemory(0, _length);

    public void Clear()
    {
        _length = 0;
        _messageStart = -1;
    }

    public void StartMessage(byte type)
    {
        WriteByte(type);
        _messageStart = _length;
        WriteInt32(0);
    }

    public void EndMessage()
    {
        BinaryPrimitives.WriteInt32BigEndian(_bytes.AsSpan(_messageStart), _length - _messageStart);
        _messageStart = -1;
    }

    /// <summary>Reserves a 4-byte length for a value that follows; <see cref="EndLength"/> fills it in.</summary>
    public int StartLength()
    {
        int at = _length;
        WriteInt32(0);
        return at;
    }

    public void EndLength(int at) => BinaryPrimitives.WriteInt32BigEndian(_bytes.AsSpan(at), _length - at - 4);

    public void WriteByte(byte value)
    {
        Ensure(1);
        _bytes[_length++] = value;
    }

    public void WriteInt16(short value)
    {
        Ensure(2);
        BinaryPrimitives.WriteInt16BigEndian(_bytes.AsSpan(_length), value);
        _length += 2;
    }

    public void WriteInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32BigEndian(_bytes.AsSpan(_length), value);
        _length += 4;
    }

    public void WriteInt64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64BigEndian(_bytes.AsSpan(_length), value);
        _length += 8;
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_bytes.AsSpan(_length));
        _length += bytes.Length;
    }

    public void WriteUtf8(string value)
    {
        Ensure(Encoding.UTF8.GetMaxByteCount(value.Length));
        _length += Encoding.UTF8.GetBytes(value, _bytes.AsSpan(_length));
    }

    /// <summary>A NUL-terminated string; a NUL inside the value would end it early, so it is dropped.</summary>
    public void WriteCString(string value)
    {
        WriteUtf8(value.Contains('\0', StringComparison.Ordinal) ? value.Replace("\0", "", StringComparison.Ordinal) : value);
        WriteByte(0);
    }

    /// <summary>Room for <paramref name="count"/> more bytes; write into it, then <see cref="Advance"/>.</summary>
    public Span<byte> GetSpan(int count)
    {
        Ensure(count);
        return _bytes.AsSpan(_length);
    }

    public void Advance(int count) => _length += count;

    private void Ensure(int count)
    {
        if (_length + count > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + count));
        }
    }
}
