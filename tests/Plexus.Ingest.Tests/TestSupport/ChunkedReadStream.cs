namespace Plexus.Ingest.Tests.TestSupport;

/// <summary>
/// A read-only stream that hands out its bytes in chunks of the test's choosing, completing every read
/// synchronously: the split tests are deterministic and need no timing.
/// </summary>
public sealed class ChunkedReadStream : Stream
{
    private readonly byte[] _data;
    private readonly Func<int, int> _chunkEndAfter;
    private int _position;

    /// <param name="chunkEndAfter">Given the current offset, the offset at which the next read must stop.</param>
    public ChunkedReadStream(byte[] data, Func<int, int> chunkEndAfter)
    {
        _data = data;
        _chunkEndAfter = chunkEndAfter;
    }

    public int Reads { get; private set; }

    /// <summary>Two reads: bytes [0, split) then the rest (an empty first part is skipped).</summary>
    public static ChunkedReadStream SplitAt(byte[] data, int split)
        => new(data, position => position < split ? split : data.Length);

    public static ChunkedReadStream OneByteAtATime(byte[] data) => new(data, position => position + 1);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        Reads++;
        if (_position >= _data.Length || buffer.IsEmpty)
        {
            return 0;
        }

        int end = Math.Min(_data.Length, Math.Max(_position + 1, _chunkEndAfter(_position)));
        int count = Math.Min(buffer.Length, end - _position);
        _data.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Read(buffer.Span));
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
