using System.Buffers.Binary;
using System.Text;
using Plexus.Core;

namespace Plexus.Storage.Writing;

/// <summary>
/// A growing byte buffer that holds the log records not yet applied to DuckDB, and the binary form of a
/// request in it: the namespace, then per point its measurement, tags, typed fields and time, each string
/// length-prefixed. Encoding and decoding copy bytes only; nothing is allocated per point.
/// </summary>
internal sealed class LogBuffer
{
    private byte[] _bytes = new byte[64 * 1024];

    public int Length { get; private set; }

    public Span<byte> Span(int start, int length) => _bytes.AsSpan(start, length);

    public ReadOnlySpan<byte> Written => _bytes.AsSpan(0, Length);

    public void Clear() => Length = 0;

    public void Truncate(int length) => Length = length;

    /// <summary>Replaces the contents (recovery reads the file into the buffer).</summary>
    public void Load(ReadOnlySpan<byte> bytes)
    {
        Length = 0;
        Ensure(bytes.Length);
        bytes.CopyTo(_bytes);
        Length = bytes.Length;
    }

    public void Skip(int count)
    {
        Ensure(count);
        Length += count;
    }

    public void Encode(string ns, PointBatch batch)
    {
        Ensure(4 + Encoding.UTF8.GetMaxByteCount(ns.Length));
        int nsLength = Encoding.UTF8.GetBytes(ns, _bytes.AsSpan(Length + 4));
        WriteInt32(nsLength);
        Length += nsLength;
        WriteInt32(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly var point = ref batch[i];
            WriteText(batch.Text(point.Measurement));
            var tags = batch.Tags(point);
            WriteInt32(tags.Length);
            foreach (ref readonly var tag in tags)
            {
                WriteText(batch.Text(tag.Key));
                WriteText(batch.Text(tag.Value));
            }

            var fields = batch.Fields(point);
            WriteInt32(fields.Length);
            foreach (ref readonly var field in fields)
            {
                WriteText(batch.Text(field.Key));
                Ensure(1);
                _bytes[Length++] = (byte)field.Type;
                if (field.Type == FieldType.String)
                {
                    WriteText(batch.Text(field.Text));
                }
                else
                {
                    WriteInt64(field.Bits);
                }
            }

            WriteInt64(point.Timestamp);
        }
    }

    /// <summary>Decodes one record's payload into <paramref name="target"/>, request after request, in log order.</summary>
    public static void Decode(ReadOnlySpan<byte> payload, ApplySegments target)
    {
        int at = 0;
        while (at < payload.Length)
        {
            var ns = ReadText(payload, ref at);
            var batch = target.BatchFor(ns);
            int points = ReadInt32(payload, ref at);
            for (int p = 0; p < points; p++)
            {
                batch.BeginPoint(ReadText(payload, ref at), p + 1);
                int tags = ReadInt32(payload, ref at);
                for (int t = 0; t < tags; t++)
                {
                    var key = batch.AppendText(ReadText(payload, ref at));
                    var value = batch.AppendText(ReadText(payload, ref at));
                    batch.AddTag(key, value);
                }

                int fields = ReadInt32(payload, ref at);
                for (int f = 0; f < fields; f++)
                {
                    var key = batch.AppendText(ReadText(payload, ref at));
                    var type = (FieldType)payload[at++];
                    switch (type)
                    {
                        case FieldType.String:
                            batch.AddString(key, batch.AppendText(ReadText(payload, ref at)));
                            break;
                        case FieldType.Float:
                            batch.AddFloat(key, BitConverter.Int64BitsToDouble(ReadInt64(payload, ref at)));
                            break;
                        case FieldType.Integer:
                            batch.AddInteger(key, ReadInt64(payload, ref at));
                            break;
                        case FieldType.UInteger:
                            batch.AddUInteger(key, unchecked((ulong)ReadInt64(payload, ref at)));
                            break;
                        case FieldType.Boolean:
                            batch.AddBoolean(key, ReadInt64(payload, ref at) != 0);
                            break;
                        default:
                            throw new StorageException($"The write log holds an unknown field type {(int)type}.");
                    }
                }

                batch.EndPoint(ReadInt64(payload, ref at));
            }
        }
    }

    private void WriteText(ReadOnlySpan<byte> text)
    {
        Ensure(4 + text.Length);
        BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(Length), text.Length);
        text.CopyTo(_bytes.AsSpan(Length + 4));
        Length += 4 + text.Length;
    }

    private void WriteInt32(int value)
    {
        Ensure(4);
        BinaryPrimitives.WriteInt32LittleEndian(_bytes.AsSpan(Length), value);
        Length += 4;
    }

    private void WriteInt64(long value)
    {
        Ensure(8);
        BinaryPrimitives.WriteInt64LittleEndian(_bytes.AsSpan(Length), value);
        Length += 8;
    }

    private void Ensure(int extra)
    {
        int needed = Length + extra;
        if (needed > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(needed, _bytes.Length * 2));
        }
    }

    private static ReadOnlySpan<byte> ReadText(ReadOnlySpan<byte> payload, ref int at)
    {
        int length = ReadInt32(payload, ref at);
        var text = payload.Slice(at, length);
        at += length;
        return text;
    }

    private static int ReadInt32(ReadOnlySpan<byte> payload, ref int at)
    {
        int value = BinaryPrimitives.ReadInt32LittleEndian(payload[at..]);
        at += 4;
        return value;
    }

    private static long ReadInt64(ReadOnlySpan<byte> payload, ref int at)
    {
        long value = BinaryPrimitives.ReadInt64LittleEndian(payload[at..]);
        at += 8;
        return value;
    }
}

/// <summary>
/// Logged requests rebuilt for one DuckDB transaction: consecutive requests to one namespace share a batch,
/// which keeps log order within and across namespaces. Batches are reused from one apply to the next.
/// </summary>
internal sealed class ApplySegments
{
    private readonly List<PointBatch> _batches = [];
    private readonly List<WriteRequest> _requests = [];
    private byte[] _currentNamespace = [];
    private int _count;

    public IReadOnlyList<WriteRequest> Requests => _requests;

    public PointBatch BatchFor(ReadOnlySpan<byte> ns)
    {
        if (_count > 0 && ns.SequenceEqual(_currentNamespace))
        {
            return _batches[_count - 1];
        }

        if (_count == _batches.Count)
        {
            _batches.Add(new PointBatch());
        }

        var batch = _batches[_count++];
        batch.Reset();
        _currentNamespace = ns.ToArray();
        _requests.Add(new WriteRequest(Encoding.UTF8.GetString(ns), batch));
        return batch;
    }

    public void Clear()
    {
        foreach (var request in _requests)
        {
            request.Batch.Reset();
        }

        _requests.Clear();
        _count = 0;
    }
}
