using System.Buffers;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;

namespace Plexus.Ingest.Streaming;

/// <summary>Reads a line-protocol request body in pieces and decodes it as it arrives.</summary>
/// <remarks>
/// Framing is left to the parser (see <see cref="LineProtocolParser"/>): each read is appended to one pooled,
/// contiguous buffer, the parser consumes the entries that are complete, and the unfinished tail is moved to
/// the front for the next read. The buffer only grows when a single entry is larger than it, and never past
/// <c>maxBytes + 1</c>. A read that brings no newline cannot complete an entry, so it is not parsed: this keeps
/// a long line that arrives in many small reads from being re-scanned on every read.
/// </remarks>
public static class LineProtocolStream
{
    private const int InitialBufferSize = 64 * 1024;

    /// <summary>
    /// Wraps <paramref name="body"/> to undo its Content-Encoding. The returned stream owns <paramref name="body"/>:
    /// dispose it instead. Reading a corrupt or truncated gzip body throws <see cref="InvalidBodyException"/>.
    /// </summary>
    /// <exception cref="UnsupportedContentEncodingException">Anything but none, <c>identity</c>, <c>gzip</c> or <c>x-gzip</c>.</exception>
    public static Stream OpenBody(Stream body, string? contentEncoding)
    {
        ArgumentNullException.ThrowIfNull(body);
        ReadOnlySpan<char> encoding = contentEncoding.AsSpan().Trim();
        if (encoding.IsEmpty || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return body;
        }

        if (encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || encoding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
        {
            return new GzipBodyStream(body);
        }

        throw new UnsupportedContentEncodingException(contentEncoding);
    }

    /// <summary>
    /// Decodes <paramref name="body"/> into <paramref name="batch"/>, numbering lines from 1, and stops with
    /// <see cref="StreamDecodeOutcome.TooLarge"/> as soon as more than <paramref name="maxBytes"/> bytes were read.
    /// </summary>
    public static async ValueTask<StreamDecodeResult> DecodeAsync(
        Stream body,
        LineProtocolOptions options,
        PointBatch batch,
        LineErrorSink errors,
        long maxBytes,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(errors);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);

        byte[] buffer = ArrayPool<byte>.Shared.Rent(maxBytes < InitialBufferSize ? (int)maxBytes + 1 : InitialBufferSize);
        int filled = 0;
        long total = 0;
        int lines = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    buffer = Grow(buffer, maxBytes);
                }

                // One byte past the limit is what tells "too large" from "exactly at the limit".
                int request = buffer.Length - filled;
                long remaining = maxBytes - total;
                if (remaining < request)
                {
                    request = (int)remaining + 1;
                }

                int read = await body.ReadAsync(buffer.AsMemory(filled, request), ct).ConfigureAwait(false);
                if (read == 0)
                {
                    lines += LineProtocolParser.Parse(buffer.AsSpan(0, filled), isFinalBlock: true, lines + 1, options, batch, errors, out _);
                    return new StreamDecodeResult(lines, total, StreamDecodeOutcome.Ok);
                }

                total += read;
                if (total > maxBytes)
                {
                    return new StreamDecodeResult(lines, total, StreamDecodeOutcome.TooLarge);
                }

                bool completesAnEntry = buffer.AsSpan(filled, read).Contains((byte)'\n');
                filled += read;
                if (completesAnEntry)
                {
                    lines += LineProtocolParser.Parse(buffer.AsSpan(0, filled), isFinalBlock: false, lines + 1, options, batch, errors, out int consumed);
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static byte[] Grow(byte[] buffer, long maxBytes)
    {
        long limit = maxBytes < Array.MaxLength ? maxBytes + 1 : Array.MaxLength;
        long wanted = Math.Min((long)buffer.Length * 2, limit);
        if (wanted <= buffer.Length)
        {
            throw new InvalidBodyException("A single line-protocol entry is larger than the largest buffer this process can hold.");
        }

        byte[] larger = ArrayPool<byte>.Shared.Rent((int)wanted);
        buffer.CopyTo(larger, 0);
        ArrayPool<byte>.Shared.Return(buffer);
        return larger;
    }
}
