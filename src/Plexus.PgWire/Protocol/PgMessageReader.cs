using System.Buffers.Binary;
using System.Text;

namespace Plexus.PgWire.Protocol;

/// <summary>Reads the fields of one client message; running past its end is a protocol violation, not a crash.</summary>
internal ref struct PgMessageReader(ReadOnlySpan<byte> payload)
{
    private readonly ReadOnlySpan<byte> _payload = payload;
    private int _position;

    public readonly int Remaining => _payload.Length - _position;

    public byte ReadByte()
    {
        Require(1);
        return _payload[_position++];
    }

    public short ReadInt16()
    {
        Require(2);
        short value = BinaryPrimitives.ReadInt16BigEndian(_payload[_position..]);
        _position += 2;
        return value;
    }

    public int ReadInt32()
    {
        Require(4);
        int value = BinaryPrimitives.ReadInt32BigEndian(_payload[_position..]);
        _position += 4;
        return value;
    }

    public string ReadCString()
    {
        int end = _payload[_position..].IndexOf((byte)0);
        if (end < 0)
        {
            throw new PgProtocolException("a string in the message has no terminating NUL byte");
        }

        string value = Encoding.UTF8.GetString(_payload.Slice(_position, end));
        _position += end + 1;
        return value;
    }

    public byte[] ReadBytes(int count)
    {
        if (count < 0)
        {
            throw new PgProtocolException("a length in the message is negative");
        }

        Require(count);
        byte[] value = _payload.Slice(_position, count).ToArray();
        _position += count;
        return value;
    }

    private readonly void Require(int count)
    {
        if (_payload.Length - _position < count)
        {
            throw new PgProtocolException("the message is shorter than its fields");
        }
    }
}
