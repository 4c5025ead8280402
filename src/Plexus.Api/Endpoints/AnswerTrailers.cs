using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;
using Plexus.Query;

namespace Plexus.Api.Endpoints;

/// <summary>
/// HTTP trailers at the end of a streamed CSV answer: <c>X-Plexus-Truncated</c> (always) and <c>X-Plexus-Error</c>
/// (after an error). HTTP/2 and HTTP/3 have trailers of their own. Kestrel does not send trailers on HTTP/1.1, so
/// there the answer is chunked here: an application that sets <c>Transfer-Encoding: chunked</c> itself writes the
/// chunk framing, and the last chunk carries the trailer fields (RFC 9112, section 7.1.2). An HTTP/1.0 client gets
/// no trailers.
/// </summary>
internal sealed class AnswerTrailers
{
    private readonly HttpResponse _response;
    private readonly ChunkedBody? _chunked;

    private AnswerTrailers(HttpResponse response, ChunkedBody? chunked)
    {
        _response = response;
        _chunked = chunked;
    }

    /// <summary>Where the answer is written: the response body, or the chunk framer in front of it.</summary>
    public Stream Body => (Stream?)_chunked ?? _response.Body;

    /// <summary>Declares the trailers; call before the first byte of the answer.</summary>
    public static AnswerTrailers Begin(HttpContext http)
    {
        var response = http.Response;
        response.DeclareTrailer(SqlEndpoints.TruncatedTrailer);
        response.DeclareTrailer(SqlEndpoints.ErrorTrailer);
        if (response.SupportsTrailers())
        {
            return new AnswerTrailers(response, null);
        }

        if (string.Equals(http.Request.Protocol, "HTTP/1.1", StringComparison.Ordinal))
        {
            response.Headers.TransferEncoding = "chunked";
            return new AnswerTrailers(response, new ChunkedBody(response.Body));
        }

        return new AnswerTrailers(response, null);
    }

    public async Task EndAsync(QueryOutcome outcome)
    {
        string truncated = outcome.Truncated ? "true" : "false";
        string? error = outcome.Error is null ? null : OneLine(outcome.Error);
        if (_chunked is not null)
        {
            var last = new StringBuilder("0\r\n");
            last.Append(SqlEndpoints.TruncatedTrailer).Append(": ").Append(truncated).Append("\r\n");
            if (error is not null)
            {
                last.Append(SqlEndpoints.ErrorTrailer).Append(": ").Append(error).Append("\r\n");
            }

            last.Append("\r\n");
            await _response.Body.WriteAsync(Encoding.ASCII.GetBytes(last.ToString()));
            await _response.Body.FlushAsync();
            return;
        }

        if (_response.SupportsTrailers())
        {
            _response.AppendTrailer(SqlEndpoints.TruncatedTrailer, truncated);
            if (error is not null)
            {
                _response.AppendTrailer(SqlEndpoints.ErrorTrailer, error);
            }
        }
    }

    // A header field value is one line of visible ASCII.
    private static string OneLine(string text)
    {
        var line = new StringBuilder(Math.Min(text.Length, 500));
        foreach (char c in text)
        {
            if (line.Length == 500)
            {
                break;
            }

            line.Append(c is >= ' ' and <= '~' ? c : ' ');
        }

        return line.ToString();
    }

    /// <summary>Frames every write as one HTTP/1.1 chunk; the last chunk is written by <see cref="EndAsync"/>.</summary>
    private sealed class ChunkedBody(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (buffer.IsEmpty)
            {
                return;
            }

            await inner.WriteAsync(Encoding.ASCII.GetBytes(buffer.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"), cancellationToken);
            await inner.WriteAsync(buffer, cancellationToken);
            await inner.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
