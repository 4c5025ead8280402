using System.Buffers.Binary;
using System.IO.Compression;

namespace Plexus.Ingest.Streaming;

/// <summary>
/// A gzip-decompressing read stream whose failures are <see cref="InvalidBodyException"/>s, so the HTTP layer
/// can answer 400 without knowing about compression.
/// </summary>
/// <remarks>
/// Hazard: <see cref="GZipStream"/> does not report a stream that stops early (no final deflate block, no
/// trailer); it just ends, and the last line would be decoded from a prefix ("v=1234" read as "v=12"). zlib
/// checks CRC and length whenever the trailer is there, so a missing trailer is the one case left: at the end
/// this stream compares the trailer's ISIZE (length mod 2^32, the last four bytes of the body) with the number
/// of bytes it produced. A truncated body passes that check only by a 1 in 2^32 accident. The cost: a body of
/// several concatenated gzip members fails it too, and is rejected.
/// </remarks>
internal sealed class GzipBodyStream : Stream
{
    private readonly TrailerCapturingStream _compressed;
    private readonly GZipStream _gzip;
    private long _decompressedBytes;
    private bool _verified;

    public GzipBodyStream(Stream body)
    {
        _compressed = new TrailerCapturingStream(body);
        _gzip = new GZipStream(_compressed, CompressionMode.Decompress, leaveOpen: false);
    }

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
        int read;
        try
        {
            read = _gzip.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(e);
        }

        return Account(read, buffer.Length);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await _gzip.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(e);
        }

        return Account(read, buffer.Length);
    }

    private int Account(int read, int requested)
    {
        _decompressedBytes += read;
        if (read == 0 && requested > 0 && !_verified)
        {
            _verified = true;
            VerifyComplete();
        }

        return read;
    }

    private void VerifyComplete()
    {
        // An empty body says nothing in any encoding; treat it as an empty payload.
        if (_compressed.BytesRead == 0)
        {
            return;
        }

        if (_compressed.BytesRead < TrailerCapturingStream.TrailerLength
            || BinaryPrimitives.ReadUInt32LittleEndian(_compressed.LastBytes[4..]) != unchecked((uint)_decompressedBytes))
        {
            throw new InvalidBodyException("The gzip body is corrupt: it is truncated (the decompressed length does not match the gzip trailer).");
        }
    }

    private static InvalidBodyException Corrupt(InvalidDataException e)
        => new($"The gzip body is corrupt: {e.Message}", e);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gzip.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await _gzip.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Passes reads through and remembers the last eight bytes (the gzip trailer when the body is whole).</summary>
    private sealed class TrailerCapturingStream(Stream inner) : Stream
    {
        public const int TrailerLength = 8;

        private readonly byte[] _last = new byte[TrailerLength];

        public long BytesRead { get; private set; }

        public ReadOnlySpan<byte> LastBytes => _last;

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
            int read = inner.Read(buffer);
            Remember(buffer[..read]);
            return read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            Remember(buffer.Span[..read]);
            return read;
        }

        private void Remember(ReadOnlySpan<byte> data)
        {
            BytesRead += data.Length;
            if (data.Length >= TrailerLength)
            {
                data[^TrailerLength..].CopyTo(_last);
                return;
            }

            // Shift the window left and append the few new bytes.
            int keep = TrailerLength - data.Length;
            _last.AsSpan(data.Length).CopyTo(_last);
            data.CopyTo(_last.AsSpan(keep));
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync().ConfigureAwait(false);
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }
}
