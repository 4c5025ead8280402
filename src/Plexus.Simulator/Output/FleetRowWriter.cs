using System.Buffers;

namespace Plexus.Simulator;

/// <summary>
/// Formats rows into a pooled buffer and writes the buffer to a stream when it is nearly full: the only I/O is one
/// large write per buffer, and nothing is allocated per row.
/// </summary>
/// <remarks>
/// Two ways to drive it: <see cref="Write"/> alone, for simple synchronous loops (it writes a full buffer out itself),
/// or, as <see cref="FleetRun"/> does, check <see cref="HasRoom"/> and call <see cref="WriteBufferAsync"/>, which
/// starts writing the full buffer and lets formatting continue into a second one while the write is in flight
/// (generation and I/O overlap; at most one write is pending). <see cref="FlushAsync"/> waits for everything. The
/// header (CSV) is put in the buffer by the constructor.
/// </remarks>
public sealed class FleetRowWriter : IDisposable
{
    public const int DefaultBufferSize = 1 << 20;

    private readonly Stream _destination;
    private readonly IFleetRowFormatter _formatter;
    private byte[] _buffer;
    private byte[] _spare;
    private int _length;
    private Task? _pendingWrite; // writing _spare's bytes
    private bool _disposed;

    public FleetRowWriter(Stream destination, IFleetRowFormatter formatter, int bufferSize = DefaultBufferSize)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(formatter);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, formatter.MaxRowBytes);
        _destination = destination;
        _formatter = formatter;
        _buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        _spare = ArrayPool<byte>.Shared.Rent(bufferSize);
        _length = formatter.WriteHeader(_buffer);
        Bytes = _length;
    }

    public IFleetRowFormatter Formatter => _formatter;

    /// <summary>Rows written (the CSV header is not a row).</summary>
    public long Rows { get; private set; }

    /// <summary>Non-NULL measurement field values written (the numeric tags are not counted).</summary>
    public long FieldValues { get; private set; }

    /// <summary>Bytes produced, header included, whether or not they have left the buffer yet.</summary>
    public long Bytes { get; private set; }

    /// <summary>Rows with nothing to write (see <see cref="IFleetRowFormatter.WriteRow"/>); 0 under TSBS's rules.</summary>
    public long RowsSkipped { get; private set; }

    /// <summary>Bytes waiting in the buffer.</summary>
    public int BufferedBytes => _length;

    /// <summary>True while another row is sure to fit in the buffer.</summary>
    public bool HasRoom => _buffer.Length - _length >= _formatter.MaxRowBytes;

    /// <summary>Formats <paramref name="row"/> into the buffer, first writing the buffer out synchronously if it is full.</summary>
    public void Write(in FleetRow row)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!HasRoom)
        {
            WaitForPendingWrite();
            _destination.Write(_buffer, 0, _length);
            _length = 0;
        }

        int written = _formatter.WriteRow(row, _buffer.AsSpan(_length));
        if (written == 0)
        {
            RowsSkipped++;
            return;
        }

        _length += written;
        Bytes += written;
        Rows++;
        FieldValues += row.FieldValueCount;
    }

    /// <summary>
    /// Starts writing the buffered bytes and returns once the previous such write has finished, so formatting can go on
    /// into the other buffer meanwhile. A failed write surfaces from the next call to this method or <see cref="FlushAsync"/>.
    /// </summary>
    public async ValueTask WriteBufferAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pendingWrite is { } pending)
        {
            _pendingWrite = null;
            await pending;
        }

        if (_length == 0)
        {
            return;
        }

        (_buffer, _spare) = (_spare, _buffer);
        int length = _length;
        _length = 0;
        _pendingWrite = _destination.WriteAsync(_spare.AsMemory(0, length), cancellationToken).AsTask();
    }

    /// <summary>Writes everything buffered to the stream, waits for it, and flushes the stream.</summary>
    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await WriteBufferAsync(cancellationToken);
        if (_pendingWrite is { } pending)
        {
            _pendingWrite = null;
            await pending;
        }

        await _destination.FlushAsync(cancellationToken);
    }

    /// <summary>Writes everything buffered to the stream and flushes the stream, synchronously.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        WaitForPendingWrite();
        if (_length > 0)
        {
            _destination.Write(_buffer, 0, _length);
            _length = 0;
        }

        _destination.Flush();
    }

    /// <summary>
    /// Waits for a write in flight and returns the buffers to the pool. Does not flush what is still buffered (a failed
    /// run must not write a half row) and does not close the stream.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            WaitForPendingWrite();
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The run has failed or been cancelled already; the caller reports that, not this.
        }

        ArrayPool<byte>.Shared.Return(_buffer);
        ArrayPool<byte>.Shared.Return(_spare);
        _buffer = [];
        _spare = [];
        _length = 0;
    }

    private void WaitForPendingWrite()
    {
        if (_pendingWrite is { } pending)
        {
            _pendingWrite = null;
            pending.GetAwaiter().GetResult();
        }
    }
}
