using Plexus.Ingest.Csv;

namespace Plexus.Ingest.Tests.Csv;

public sealed class CsvRecordsTests
{
    [Fact]
    public void Quoted_cells_hold_commas_newlines_and_doubled_quotes_and_records_keep_their_first_line()
    {
        Assert.True(CsvRecords.TryRead("\uFEFFid,name\r\n\r\na,\"x, \"\"y\"\"\nz\"\nb,\n", out var records, out IngestError error), error.ToString());

        Assert.Equal([1, 3, 5], records.Select(r => r.Line));
        Assert.Equal(["id", "name"], records[0].Cells);
        Assert.Equal(["a", "x, \"y\"\nz"], records[1].Cells);
        Assert.Equal(["b", ""], records[2].Cells);
    }

    [Theory]
    [InlineData("id,name\na,b\"c\n", "line 2: a quote inside an unquoted cell; quote the whole cell and double the quote (\"a \"\"b\"\"\")")]
    [InlineData("id,name\na,\"b\nc,d\n", "line 2: a quoted cell is not closed before the end of the file")]
    public void Broken_quoting_names_the_line(string text, string message)
    {
        Assert.False(CsvRecords.TryRead(text, out _, out IngestError error));

        Assert.Equal(IngestErrorKind.Syntax, error.Kind);
        Assert.Equal(message, error.ToString());
    }
}
