namespace Plexus.Ingest.Import;

/// <summary>
/// Reads an import's body one line at a time, holding at most one line (and one read's worth) in memory: a line
/// longer than the limit is an <see cref="ImportFramingException"/>, since nothing after it can be framed safely.
/// </summary>
public sealed class ImportLineReader
{
    private readonly Stream _input;
    private readonly int _maxLineBytes;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _ended;

    public ImportLineReader(Stream input, int maxLineBytes)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxLineBytes);
        _input = input;
        _maxLineBytes = maxLineBytes;
        _buffer = new byte[Math.Min(64 * 1024, maxLineBytes + 1)];
    }

    /// <summary>The 1-based number of the line last returned.</summary>
    public int LineNumber { get; private set; }

    /// <summary>Bytes of the input read so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>
    /// The next line without its <c>\n</c> or <c>\r\n</c>, valid until the next call; null at the end of the input.
    /// A leading UTF-8 byte order mark is skipped.
    /// </summary>
    /// <exception cref="ImportFramingException">A line is longer than the limit.</exception>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken cancellationToken)
    {
        int scanned = 0;
        while (true)
        {
            int newline = _buffer.AsSpan(_start + scanned, _end - _start - scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int length = scanned + newline;
                var line = _buffer.AsMemory(_start, length);
                _start += length + 1;
                return Line(line);
            }

            scanned = _end - _start;
            if (_ended)
            {
                if (_start == _end)
                {
                    return null;
                }

                var rest = _buffer.AsMemory(_start, _end - _start);
                _start = _end;
                return Line(rest);
            }

            if (_end - _start > _maxLineBytes)
            {
                throw new ImportFramingException(LineNumber + 1, $"line {LineNumber + 1} is longer than {_maxLineBytes} bytes, the longest a row may be (--max-body-size); nothing after it was read");
            }

            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, (int)Math.Min((long)_buffer.Length * 2, (long)_maxLineBytes + 2));
            }

            int read = await _input.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            if (read == 0)
            {
                _ended = true;
            }

            _end += read;
            BytesRead += read;
        }
    }

    private ReadOnlyMemory<byte> Line(ReadOnlyMemory<byte> line)
    {
        LineNumber++;
        if (LineNumber == 1 && line.Span.StartsWith("\uFEFF"u8))
        {
            line = line[3..];
        }

        return line.Span.EndsWith("\r"u8) ? line[..^1] : line;
    }
}

/// <summary>The input cannot be framed into rows any more (a line past the limit, a quoted CSV cell never closed).</summary>
public sealed class ImportFramingException(int line, string message) : Exception(message)
{
    public int Line { get; } = line;
}
