using System.Buffers;
using System.Text;
using Plexus.InfluxQL.Results;

namespace Plexus.InfluxQL.Tests.Results;

public sealed class InfluxOutputTests
{
    [Theory]
    [InlineData(1_700_000_000_000_000_000L, null, "2023-11-14T22:13:20Z")]
    [InlineData(1_700_000_000_120_000_000L, null, "2023-11-14T22:13:20.12Z")]
    [InlineData(1_700_000_000_000_000_001L, null, "2023-11-14T22:13:20.000000001Z")]
    [InlineData(-1L, null, "1969-12-31T23:59:59.999999999Z")]
    [InlineData(1_700_000_000_000_000_000L, "Europe/Paris", "2023-11-14T23:13:20+01:00")]
    [InlineData(1_690_000_000_000_000_000L, "America/New_York", "2023-07-22T00:26:40-04:00")]
    [InlineData(1_700_000_000_000_000_000L, "Europe/London", "2023-11-14T22:13:20Z")]
    public void Times_are_written_as_Go_writes_RFC3339Nano(long nanoseconds, string? zone, string text)
    {
        Assert.Equal(text, InfluxOutput.FormatTime(nanoseconds, zone is null ? null : TimeZoneInfo.FindSystemTimeZoneById(zone)));
    }

    [Theory]
    [InlineData("ns", 1L)]
    [InlineData("u", 1_000L)]
    [InlineData("µ", 1_000L)]
    [InlineData("ms", 1_000_000L)]
    [InlineData("s", 1_000_000_000L)]
    [InlineData("m", 60_000_000_000L)]
    [InlineData("h", 3_600_000_000_000L)]
    [InlineData("", null)]
    public void Epoch_units_are_InfluxDB_s(string text, long? divisor)
    {
        Assert.True(InfluxOutputOptions.TryParseEpoch(text, out long? parsed));
        Assert.Equal(divisor, parsed);
        Assert.False(InfluxOutputOptions.TryParseEpoch("days", out _));
    }

    [Fact]
    public void Statement_error_is_its_result_in_JSON_and_an_error_line_in_CSV()
    {
        var json = new ArrayBufferWriter<byte>();
        var options = new InfluxOutputOptions(Csv: false, Chunked: false, 10_000, Pretty: false, null, 100, 1000);
        InfluxOutput.WriteError(json, 2, "database not found: \"x\"", options, new InfluxAnswerState());
        Assert.Equal("{\"statement_id\":2,\"error\":\"database not found: \\\"x\\\"\"}", Encoding.UTF8.GetString(json.WrittenSpan));

        var chunked = new ArrayBufferWriter<byte>();
        InfluxOutput.WriteError(chunked, 0, "boom", options with { Chunked = true }, new InfluxAnswerState());
        Assert.Equal("{\"results\":[{\"statement_id\":0,\"error\":\"boom\"}]}\n", Encoding.UTF8.GetString(chunked.WrittenSpan));

        var csv = new ArrayBufferWriter<byte>();
        InfluxOutput.WriteError(csv, 0, "a, b", options with { Csv = true }, new InfluxAnswerState());
        Assert.Equal("error\n\"a, b\"\n", Encoding.UTF8.GetString(csv.WrittenSpan));
    }
}
