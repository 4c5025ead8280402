using System.IO.Compression;
using System.Text;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Streaming;
using Plexus.Ingest.Tests.TestSupport;

namespace Plexus.Ingest.Tests.Streaming;

public sealed class LineProtocolStreamTests
{
    private static readonly LineProtocolOptions Options = new(TimePrecision.Milliseconds, Decode.DefaultTime);

    /// <summary>
    /// Every rule a split could break: escapes of each kind, strings with escaped quotes and raw newlines,
    /// multi-byte UTF-8 in names and values, CRLF, comments, blank lines, bad lines (one after a string that
    /// spans lines, one whose string never closes) and a last line without its newline.
    /// </summary>
    private static readonly byte[] VariedInput = Encoding.UTF8.GetBytes(
        "# TSBS-like readings, with everything a split could break\n" +
        "readings,name=truck_1,fleet=South,driver=Trish latitude=72.45,longitude=68.83,elevation=1239i,ok=t 1451606400000\n" +
        "温度\\ sensor,ort=Zürich\\,Stadt,k\\=ey=v\\ al wert=21.5,note=\"ça \\\"va\\\" 👍\\\\\" 1451606400001\r\n" +
        "\r\n" +
        "   # indented comment ✓\n" +
        "m,tag=with\\ space s=\"multi\nline \\\"string\\\"\",u=18446744073709551615u,i=-9223372036854775808i\n" +
        "bad,line=missing_fields\n" +
        "m f=1.5e-4,g=-.5,h=1E+3 -1451606400\n" +
        "m s=\"spans two lines\nm v=1\" 12 trailing\n" +
        "m\\,x\\ y,\\ k=\\,v v=\"\\\\\" 1\r\n" +
        "bad v=NaN\n" +
        "ünïcödé,ключ=значение поле=1i\n" +
        "m s=\"never closed\n" +
        "m v=2");

    private static DecodeResult Reference(byte[] input)
    {
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();
        int lines = LineProtocolParser.Parse(input, 1, Options, batch, errors);
        return Decode.Snapshot(batch, errors, lines);
    }

    private static async Task<(DecodeResult Result, StreamDecodeResult Stream)> DecodeStreamAsync(Stream body, long maxBytes = 1 << 20, PointBatch? batch = null, LineErrorSink? errors = null)
    {
        batch ??= new PointBatch(16);
        errors ??= new LineErrorSink();
        StreamDecodeResult result = await LineProtocolStream.DecodeAsync(body, Options, batch, errors, maxBytes, CancellationToken.None);
        return (Decode.Snapshot(batch, errors, result.Lines), result);
    }

    [Fact]
    public void Varied_input_decodes_to_points_and_errors_as_expected()
    {
        DecodeResult reference = Reference(VariedInput);
        Assert.Equal([2, 3, 6, 9, 12, 14, 16], reference.Points.Select(p => p.Line));
        Assert.Equal([8, 10, 13, 15], reference.Errors.Select(e => e.Line));
        Assert.Equal(16, reference.Lines);
    }

    [Fact]
    public async Task Body_split_in_two_reads_at_every_byte_decodes_the_same_as_the_whole()
    {
        DecodeResult expected = Reference(VariedInput);
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();
        for (int split = 0; split <= VariedInput.Length; split++)
        {
            batch.Reset();
            errors.Reset();
            var body = ChunkedReadStream.SplitAt(VariedInput, split);
            (DecodeResult actual, StreamDecodeResult stream) = await DecodeStreamAsync(body, batch: batch, errors: errors);

            Assert.Equal(StreamDecodeOutcome.Ok, stream.Outcome);
            Assert.Equal(VariedInput.Length, stream.Bytes);
            actual.AssertSameAs(expected);
        }
    }

    [Fact]
    public async Task Body_read_one_byte_at_a_time_decodes_the_same_as_the_whole()
    {
        DecodeResult expected = Reference(VariedInput);
        var body = ChunkedReadStream.OneByteAtATime(VariedInput);
        (DecodeResult actual, StreamDecodeResult stream) = await DecodeStreamAsync(body);

        Assert.True(body.Reads > VariedInput.Length);
        Assert.Equal(VariedInput.Length, stream.Bytes);
        actual.AssertSameAs(expected);
    }

    [Fact]
    public async Task Body_larger_than_the_read_buffer_with_a_line_longer_than_the_buffer_decodes_the_same()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 5000; i++)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"cpu,host=h{i % 7} v={i}i,s=\"{new string('x', i % 50)}\" {i}\n");
            if (i == 2500)
            {
                text.Append("big s=\"").Append('y', 200_000).Append("\"\n");
            }
        }

        byte[] input = Encoding.UTF8.GetBytes(text.ToString());
        DecodeResult expected = Reference(input);
        (DecodeResult actual, _) = await DecodeStreamAsync(new ChunkedReadStream(input, p => p + 7919), maxBytes: input.Length);

        Assert.Equal(5001, actual.Points.Count);
        actual.AssertSameAs(expected);
    }

    [Fact]
    public async Task Body_of_exactly_max_bytes_is_accepted()
    {
        (DecodeResult actual, StreamDecodeResult stream) = await DecodeStreamAsync(new MemoryStream(VariedInput), maxBytes: VariedInput.Length);
        Assert.Equal(StreamDecodeOutcome.Ok, stream.Outcome);
        actual.AssertSameAs(Reference(VariedInput));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(100)]
    public async Task Body_longer_than_max_bytes_stops_as_too_large_after_one_byte_more(int maxBytes)
    {
        (_, StreamDecodeResult stream) = await DecodeStreamAsync(ChunkedReadStream.OneByteAtATime(VariedInput), maxBytes: maxBytes);
        Assert.Equal(StreamDecodeOutcome.TooLarge, stream.Outcome);
        Assert.Equal(maxBytes + 1, stream.Bytes);
    }

    [Fact]
    public async Task Empty_body_decodes_to_nothing()
    {
        (DecodeResult actual, StreamDecodeResult stream) = await DecodeStreamAsync(new MemoryStream(), maxBytes: 0);
        Assert.Equal(new StreamDecodeResult(0, 0, StreamDecodeOutcome.Ok), stream);
        Assert.Empty(actual.Points);
    }

    [Fact]
    public async Task Gzip_body_decodes_the_same_as_the_plain_body()
    {
        byte[] compressed = Gzip(VariedInput);
        foreach (string encoding in new[] { "gzip", "GZIP", "x-gzip", " gzip " })
        {
            await using Stream body = LineProtocolStream.OpenBody(new ChunkedReadStream(compressed, p => p + 13), encoding);
            (DecodeResult actual, StreamDecodeResult stream) = await DecodeStreamAsync(body);
            Assert.Equal(VariedInput.Length, stream.Bytes);
            actual.AssertSameAs(Reference(VariedInput));
        }
    }

    [Fact]
    public async Task Gzip_bomb_is_stopped_by_the_decompressed_size_limit()
    {
        byte[] compressed = Gzip(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("cpu v=1\n", 1_000_000))));
        Assert.True(compressed.Length < 100_000);

        await using Stream body = LineProtocolStream.OpenBody(new MemoryStream(compressed), "gzip");
        (_, StreamDecodeResult stream) = await DecodeStreamAsync(body, maxBytes: 1_000_000);

        Assert.Equal(StreamDecodeOutcome.TooLarge, stream.Outcome);
        Assert.Equal(1_000_001, stream.Bytes);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("identity")]
    [InlineData("Identity")]
    public void Body_without_content_encoding_is_read_as_it_is(string? encoding)
    {
        var body = new MemoryStream();
        Assert.Same(body, LineProtocolStream.OpenBody(body, encoding));
    }

    [Theory]
    [InlineData("br")]
    [InlineData("deflate")]
    [InlineData("zstd")]
    [InlineData("gzip, br")]
    public void Unsupported_content_encoding_is_refused_with_its_name(string encoding)
    {
        var exception = Assert.Throws<UnsupportedContentEncodingException>(() => LineProtocolStream.OpenBody(new MemoryStream(), encoding));
        Assert.Equal(encoding, exception.ContentEncoding);
        Assert.Contains(encoding, exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Corrupt_gzip_body_surfaces_as_an_invalid_body()
    {
        byte[] compressed = Gzip(VariedInput);
        compressed[3] = 0xFF;   // reserved header flag bits
        compressed[^20] ^= 0x5A;

        await using Stream body = LineProtocolStream.OpenBody(new MemoryStream(compressed), "gzip");
        var exception = await Assert.ThrowsAsync<InvalidBodyException>(() => DecodeStreamAsync(body));
        Assert.StartsWith("The gzip body is corrupt", exception.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidDataException>(exception.InnerException);
    }

    [Fact]
    public async Task Body_that_is_not_gzip_at_all_surfaces_as_an_invalid_body()
    {
        await using Stream body = LineProtocolStream.OpenBody(new MemoryStream(VariedInput), "gzip");
        await Assert.ThrowsAsync<InvalidBodyException>(() => DecodeStreamAsync(body));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(100)]
    public async Task Truncated_gzip_body_surfaces_as_an_invalid_body(int cut)
    {
        byte[] compressed = Gzip(VariedInput);
        await using Stream body = LineProtocolStream.OpenBody(new MemoryStream(compressed, 0, compressed.Length - cut), "gzip");
        var exception = await Assert.ThrowsAsync<InvalidBodyException>(() => DecodeStreamAsync(body));
        Assert.StartsWith("The gzip body is corrupt", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gzip_body_read_synchronously_is_checked_too()
    {
        byte[] compressed = Gzip(VariedInput);
        using Stream body = LineProtocolStream.OpenBody(new MemoryStream(compressed, 0, compressed.Length - 8), "gzip");
        Assert.Throws<InvalidBodyException>(() => body.CopyTo(Stream.Null));

        using Stream whole = LineProtocolStream.OpenBody(new MemoryStream(compressed), "gzip");
        var copy = new MemoryStream();
        await whole.CopyToAsync(copy);
        Assert.Equal(VariedInput, copy.ToArray());
    }

    [Fact]
    public async Task Cancelled_decode_stops_with_operation_cancelled()
    {
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await LineProtocolStream.DecodeAsync(
            ChunkedReadStream.OneByteAtATime(VariedInput), Options, new PointBatch(), new LineErrorSink(), 1 << 20, cancellation.Token));
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }
}
