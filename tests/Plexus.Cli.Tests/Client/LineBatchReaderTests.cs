using System.Text;
using Plexus.Cli.Client;

namespace Plexus.Cli.Tests.Client;

public class LineBatchReaderTests
{
    private const string Input =
        "# header comment\n" +
        "cpu,host=a usage=1 1\n" +
        "\n" +
        "cpu,host=b usage=2 2\r\n" +
        "   \t\n" +
        "mem,host=a free=3i 3\n" +
        "  # indented comment\n" +
        "mem,host=b free=4i 4";

    [Fact]
    public async Task Twelve_lines_in_batches_of_five_come_out_as_five_five_and_two_whole_lines()
    {
        string input = string.Concat(Enumerable.Range(1, 12).Select(i => $"m v={i} {i}\n"));

        var batches = await ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(input)), 5);

        Assert.Equal([5, 5, 2], batches.Select(b => b.LineCount));
        Assert.Equal([1L, 6L, 11L], batches.Select(b => b.FirstLine));
        Assert.All(batches, b => Assert.EndsWith("\n", Text(b), StringComparison.Ordinal));
        Assert.Equal(input, string.Concat(batches.Select(Text)));
        Assert.Equal([0L, 1L, 2L], batches.Select(b => b.Sequence));
        Assert.Equal(input.Length, batches.Sum(b => b.InputBytes));
    }

    [Fact]
    public async Task Blank_and_comment_lines_keep_their_numbers_but_are_not_data_lines()
    {
        var batches = await ReadAllAsync(new MemoryStream(Encoding.UTF8.GetBytes(Input)), 3);

        Assert.Equal([3, 3, 2], batches.Select(b => b.LineCount));
        Assert.Equal([1, 2, 1], batches.Select(b => b.DataLineCount));
        Assert.Equal([1L, 4L, 7L], batches.Select(b => b.FirstLine));
        Assert.Equal(6L, batches[1].ToInputLine(3));
        Assert.Equal(Input, string.Concat(batches.Select(Text)));
    }

    [Fact]
    public async Task Last_line_without_a_newline_is_a_line()
    {
        var batches = await ReadAllAsync(new MemoryStream("a v=1\nb v=2"u8.ToArray()), 10);

        var batch = Assert.Single(batches);
        Assert.Equal(2, batch.LineCount);
        Assert.Equal(2, batch.DataLineCount);
        Assert.Equal("a v=1\nb v=2", Text(batch));
    }

    [Fact]
    public async Task Utf8_byte_order_mark_at_the_start_is_dropped_and_counted_as_input()
    {
        byte[] input = [0xEF, 0xBB, 0xBF, .. "a v=1\n"u8];

        var batches = await ReadAllAsync(new MemoryStream(input), 10);

        var batch = Assert.Single(batches);
        Assert.Equal("a v=1\n", Text(batch));
        Assert.Equal(input.Length, batch.InputBytes);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Empty_input_has_no_batches(bool withByteOrderMark)
    {
        byte[] input = withByteOrderMark ? [0xEF, 0xBB, 0xBF] : [];

        var batches = await ReadAllAsync(new MemoryStream(input), 10);

        Assert.Empty(batches);
    }

    /// <summary>
    /// The every-split test: whatever sizes the reads come in and however small the buffer, the batches are the same.
    /// </summary>
    [Fact]
    public async Task Batches_do_not_depend_on_how_the_input_arrives()
    {
        byte[] input = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Input + "\n" + Input)];
        var expected = Describe(await ReadAllAsync(new MemoryStream(input), 4));

        foreach (int bufferSize in new[] { 4, 5, 7, 64 * 1024 })
        {
            for (int chunk = 1; chunk <= input.Length; chunk++)
            {
                var batches = await ReadAllAsync(new ChunkedStream(input, chunk), 4, bufferSize);
                Assert.True(expected == Describe(batches), $"buffer {bufferSize}, reads of {chunk} bytes: {Describe(batches)}");
            }
        }
    }

    private static string Describe(List<LineBatch> batches) =>
        string.Join(" | ", batches.Select(b => $"{b.Sequence}@{b.FirstLine}+{b.LineCount}/{b.DataLineCount}/{b.InputBytes}:{Text(b)}"));

    private static string Text(LineBatch batch) => Encoding.UTF8.GetString(batch.Body.Span);

    private static async Task<List<LineBatch>> ReadAllAsync(Stream stream, int batchLines, int bufferSize = 64 * 1024)
    {
        var reader = new LineBatchReader(stream, batchLines, bufferSize);
        var batches = new List<LineBatch>();
        while (await reader.ReadBatchAsync(CancellationToken.None) is { } batch)
        {
            batches.Add(batch);
        }

        Assert.Null(await reader.ReadBatchAsync(CancellationToken.None));
        return batches;
    }

    /// <summary>A stream that hands out at most <c>chunk</c> bytes per read, like a slow pipe.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, chunk));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(buffer.Length, chunk)], cancellationToken);
    }
}
