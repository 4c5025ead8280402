using System.Text;
using Plexus.Core;
using Plexus.Ingest.Import;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Tests.TestSupport;

namespace Plexus.Ingest.Tests.Import;

/// <summary>The import decoders (docs/export-import.md): CSV and JSON lines, read through a body that arrives in pieces of any size.</summary>
public sealed class ImportReaderTests
{
    private const string Csv =
        "\uFEFFtime,tag:device,float:t,integer:n,unsigned:u,boolean:ok,string:s,field:any\r\n" +
        "2026-01-02T03:04:05.123456789Z,a,1.5,-2,3,true,\"x, \"\"y\"\"\nz\",7\r\n" +
        "1000,,2.0,,,,\"\",text\r\n";

    private static async Task<(PointBatch Batch, ImportErrors Errors, long Rows)> ReadAsync(ImportFormat format, string body, int pieceSize, string? measurement = "m", string? timeColumn = null, string[]? tags = null)
    {
        var batch = new PointBatch();
        var errors = new ImportErrors(10);
        var reader = new ImportReader(format, new ChunkedReadStream(Encoding.UTF8.GetBytes(body), position => position + pieceSize), measurement, 1024, new LineProtocolOptions(TimePrecision.Nanoseconds, 0), timeColumn, tags);
        while (await reader.ReadAsync(batch, 1000, errors, CancellationToken.None))
        {
        }

        return (batch, errors, reader.Rows);
    }

    private static string Describe(PointBatch batch, int index)
    {
        ref readonly var point = ref batch[index];
        var text = new StringBuilder(Encoding.UTF8.GetString(batch.Text(point.Measurement)));
        foreach (var tag in batch.Tags(point))
        {
            text.Append(',').Append(Encoding.UTF8.GetString(batch.Text(tag.Key))).Append('=').Append(Encoding.UTF8.GetString(batch.Text(tag.Value)));
        }

        foreach (var field in batch.Fields(point))
        {
            string value = field.Type switch
            {
                FieldType.Float => field.FloatValue.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                FieldType.Integer => field.IntegerValue + "i",
                FieldType.UInteger => field.UIntegerValue + "u",
                FieldType.Boolean => field.BooleanValue ? "true" : "false",
                _ => "\"" + Encoding.UTF8.GetString(batch.Text(field.Text)) + "\"",
            };
            text.Append(' ').Append(Encoding.UTF8.GetString(batch.Text(field.Key))).Append('=').Append(value);
        }

        return text.Append(' ').Append(point.Timestamp).ToString();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(4096)]
    public async Task Csv_with_a_typed_header_decodes_every_type_and_a_quoted_newline_whatever_the_pieces_it_arrives_in(int pieceSize)
    {
        var (batch, errors, rows) = await ReadAsync(ImportFormat.Csv, Csv, pieceSize);

        Assert.Equal(0, errors.Count);
        Assert.Equal(2, rows);
        Assert.Equal("m,device=a t=1.5 n=-2i u=3u ok=true s=\"x, \"y\"\nz\" any=7 1767323045123456789", Describe(batch, 0));
        Assert.Equal("m t=2 s=\"\" any=\"text\" 1000", Describe(batch, 1));
    }

    [Fact]
    public async Task Csv_with_a_time_column_and_tag_columns_maps_a_plain_header()
    {
        var (batch, errors, _) = await ReadAsync(ImportFormat.Csv, "ts,host,v\n5,h1,1\n", 3, timeColumn: "ts", tags: ["host"]);

        Assert.Equal(0, errors.Count);
        Assert.Equal("m,host=h1 v=1 5", Describe(batch, 0));
    }

    [Theory]
    [InlineData("v,tag:d\n1,a\n", "no time column \"time\"")]
    [InlineData("time,tag:d\n1,a\n", "no field column")]
    [InlineData("time,float:v,integer:v\n1,1,1\n", "repeats the name \"v\"")]
    [InlineData("time,tag:\n1,1\n", "has no name after its prefix")]
    public async Task A_csv_header_that_does_not_read_stops_the_import_naming_line_1(string csv, string reason)
    {
        var failure = await Assert.ThrowsAsync<ImportFramingException>(() => ReadAsync(ImportFormat.Csv, csv, 5));

        Assert.Equal(1, failure.Line);
        Assert.Contains(reason, failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_line_past_the_limit_stops_the_import_and_names_the_line()
    {
        string body = "time,float:v\n1,1\n" + new string('9', 2000) + "\n";

        var failure = await Assert.ThrowsAsync<ImportFramingException>(() => ReadAsync(ImportFormat.Csv, body, 100));

        Assert.Equal(3, failure.Line);
        Assert.Contains("longer than 1024 bytes", failure.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4096)]
    public async Task Json_lines_keep_float_integer_and_unsigned_apart_and_name_the_member_at_fault(int pieceSize)
    {
        string body =
            "{\"time\":\"1970-01-01T00:00:01Z\",\"tags\":{\"d\":\"a\",\"none\":null},\"fields\":{\"f\":1.0,\"i\":1,\"u\":{\"unsigned\":18446744073709551615},\"b\":false,\"s\":\"x\"}}\n" +
            "\n" +
            "{\"time\":2,\"fields\":{\"f\":\"ok\",\"big\":18446744073709551615}}\n" +
            "{\"time\":3,\"tags\":{\"d\":1},\"fields\":{\"f\":1.0}}\n" +
            "{\"time\":4,\"fields\":{}}\n" +
            "[1]\n";

        var (batch, errors, rows) = await ReadAsync(ImportFormat.JsonLines, body, pieceSize);

        Assert.Equal(5, rows);
        Assert.Equal("m,d=a f=1 i=1i u=18446744073709551615u b=false s=\"x\" 1000000000", Describe(batch, 0));
        Assert.Equal("m f=\"ok\" big=18446744073709551615u 2", Describe(batch, 1));
        Assert.Equal(
            ["3 line 4 $.tags.d", "4 line 5 $.fields", "5 line 6 $"],
            errors.Listed.Select(e => $"{e.Row} line {e.Error.Line} {e.Error.Path}"));
    }
}
