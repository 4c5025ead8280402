using System.Buffers;
using System.Diagnostics;

namespace Plexus.Cli.Client;

/// <summary>One request's worth of line protocol: whole lines only, with where they came from in the input.</summary>
/// <param name="Sequence">0-based position of the batch in the input.</param>
/// <param name="FirstLine">1-based line number, in the whole input, of the batch's first line.</param>
/// <param name="LineCount">Lines in the batch, blank and comment lines included (they keep the numbering).</param>
/// <param name="DataLineCount">Lines that carry a point: neither blank nor a `#` comment.</param>
/// <param name="Body">The bytes to send, exactly as read (a UTF-8 byte order mark at the start of the input is dropped).</param>
/// <param name="InputBytes">Bytes of input this batch consumed, for progress.</param>
internal sealed record LineBatch(long Sequence, long FirstLine, int LineCount, int DataLineCount, ReadOnlyMemory<byte> Body, long InputBytes)
{
    /// <summary>Translates a 1-based line number within <see cref="Body"/> to the line number in the input.</summary>
    public long ToInputLine(long lineInBatch) => FirstLine + lineInBatch - 1;
}

/// <summary>
/// Cuts a line-protocol stream into batches of at most N lines, always at a '\n', reading a buffer at a time so
/// the input is never held whole in memory: only the batch being filled (plus what is in flight) is.
/// </summary>
/// <remarks>
/// Line numbering counts every '\n'-terminated line (and a last line without one), blank and comment lines included,
/// which is how the server numbers the lines of a request body; so an error's line in a batch maps back to the input
/// by adding the batch's first line number minus one.
/// </remarks>
internal sealed class LineBatchReader
{
    private static readonly byte[] s_utf8Bom = [0xEF, 0xBB, 0xBF];

    private readonly Stream _source;
    private readonly int _batchLines;
    private readonly byte[] _buffer;
    private int _start;
    private int _end;
    private bool _endOfInput;
    private bool _atInputStart = true;
    private long _nextLine = 1;
    private long _sequence;

    // What the line being copied turned out to be once its first non-blank byte was seen; lines can straddle reads.
    private LineKind _currentLine = LineKind.Undecided;

    public LineBatchReader(Stream source, int batchLines, int bufferSize = 64 * 1024)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchLines, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4); // room to recognise a byte order mark
        _source = source;
        _batchLines = batchLines;
        _buffer = new byte[bufferSize];
    }

    private enum LineKind
    {
        Undecided,
        Data,
        Skipped,
    }

    /// <summary>Bytes read from the source so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Reads the next batch, or null at the end of the input.</summary>
    public async ValueTask<LineBatch?> ReadBatchAsync(CancellationToken cancellationToken)
    {
        var body = new ArrayBufferWriter<byte>(Math.Min(_buffer.Length, 256 * 1024));
        long firstLine = _nextLine;
        long inputBytes = 0;
        int lines = 0;
        int dataLines = 0;
        bool lineOpen = false;

        while (lines < _batchLines)
        {
            if (_start == _end)
            {
                if (_endOfInput || !await FillAsync(cancellationToken))
                {
                    break;
                }

                if (_atInputStart)
                {
                    _atInputStart = false;
                    int skipped = await SkipByteOrderMarkAsync(cancellationToken);
                    inputBytes += skipped;
                    if (_start == _end)
                    {
                        continue;
                    }
                }
            }

            var available = _buffer.AsSpan(_start, _end - _start);
            int newline = available.IndexOf((byte)'\n');
            var segment = newline < 0 ? available : available[..(newline + 1)];
            Classify(segment);
            body.Write(segment);
            inputBytes += segment.Length;
            _start += segment.Length;
            lineOpen = newline < 0;
            if (newline >= 0)
            {
                CloseLine(ref lines, ref dataLines);
            }
        }

        if (lineOpen)
        {
            // The input ended inside a line: it is the last line, without a trailing '\n'.
            Debug.Assert(_endOfInput && _start == _end, "a line is only left open at the end of the input");
            CloseLine(ref lines, ref dataLines);
        }

        if (lines == 0)
        {
            return null;
        }

        return new LineBatch(_sequence++, firstLine, lines, dataLines, body.WrittenMemory, inputBytes);
    }

    private void CloseLine(ref int lines, ref int dataLines)
    {
        lines++;
        _nextLine++;
        if (_currentLine == LineKind.Data)
        {
            dataLines++;
        }

        _currentLine = LineKind.Undecided;
    }

    private void Classify(ReadOnlySpan<byte> segment)
    {
        if (_currentLine != LineKind.Undecided)
        {
            return;
        }

        int first = segment.IndexOfAnyExcept(" \t\r\n"u8);
        if (first >= 0)
        {
            _currentLine = segment[first] == (byte)'#' ? LineKind.Skipped : LineKind.Data;
        }
    }

    private async ValueTask<bool> FillAsync(CancellationToken cancellationToken)
    {
        Debug.Assert(_start == _end, "only refill an empty buffer");
        _start = 0;
        _end = 0;
        int read = await _source.ReadAsync(_buffer, cancellationToken);
        if (read == 0)
        {
            _endOfInput = true;
            return false;
        }

        _end = read;
        BytesRead += read;
        return true;
    }

    /// <summary>Drops a UTF-8 byte order mark at the very start of the input, even if it arrives in pieces.</summary>
    private async ValueTask<int> SkipByteOrderMarkAsync(CancellationToken cancellationToken)
    {
        // Top the buffer up to three bytes (a pipe may deliver one at a time) without moving what is there.
        while (_end - _start < s_utf8Bom.Length && !_endOfInput && _end < _buffer.Length)
        {
            int read = await _source.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                _endOfInput = true;
                break;
            }

            _end += read;
            BytesRead += read;
        }

        if (_buffer.AsSpan(_start, _end - _start).StartsWith(s_utf8Bom))
        {
            _start += s_utf8Bom.Length;
            return s_utf8Bom.Length;
        }

        return 0;
    }
}
