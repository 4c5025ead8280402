using Plexus.Ingest.Csv;

namespace Plexus.Ingest.Tests.Csv;

public sealed class AssetCsvTests
{
    [Fact]
    public void Rows_carry_name_type_parent_and_tag_columns_with_empty_cells_absent()
    {
        Assert.True(AssetCsv.TryDecode("id,name,type,parent,tags.region\n site-1 ,Site 1,site,,EU\nfloor-1,,floor,site-1,\n", out var rows, out IngestError error), error.ToString());

        Assert.Equal([2, 3], rows.Select(r => r.Line));
        Assert.Equal(("site-1", "Site 1", "site", (string?)null), (rows[0].Record!.Id, rows[0].Record!.Name, rows[0].Record!.Type, rows[0].Record!.Parent));
        Assert.Equal(new Dictionary<string, string> { ["region"] = "EU" }, rows[0].Record!.Tags);
        Assert.Equal(("floor-1", (string?)null, "site-1"), (rows[1].Record!.Id, rows[1].Record!.Name, rows[1].Record!.Parent));
        Assert.Empty(rows[1].Record!.Tags);
    }

    [Theory]
    [InlineData("", IngestErrorKind.Missing, "the CSV is empty; send a header row such as id,name,type,parent,tags.region and one row per asset")]
    [InlineData("id,colour\nx,red\n", IngestErrorKind.Unsupported, "CSV header column 2 \"colour\" is unknown; use id, name, type, parent and tags.KEY")]
    [InlineData("name\nx\n", IngestErrorKind.Missing, "the CSV header has no id column; send a header row such as id,name,type,parent,tags.region")]
    [InlineData("id,name\nsite-9,\"Site 9\nsite-10,Ten\n", IngestErrorKind.Syntax, "line 2: a quoted cell is not closed before the end of the file")]
    public void Bad_file_is_refused_whole(string text, IngestErrorKind kind, string message)
    {
        Assert.False(AssetCsv.TryDecode(text, out _, out IngestError error));

        Assert.Equal(kind, error.Kind);
        Assert.Equal(message, error.ToString());
    }

    [Fact]
    public void Row_with_the_wrong_number_of_fields_fails_only_itself()
    {
        Assert.True(AssetCsv.TryDecode("id,name\na\nb,B\n", out var rows, out _));

        Assert.Null(rows[0].Record);
        Assert.Equal((2, "line 2 has 1 fields; the header has 2"), (rows[0].Line, rows[0].Error.ToString()));
        Assert.Equal("b", rows[1].Record!.Id);
    }
}
