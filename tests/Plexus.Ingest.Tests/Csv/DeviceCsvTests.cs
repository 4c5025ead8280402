using Plexus.Ingest.Csv;

namespace Plexus.Ingest.Tests.Csv;

public sealed class DeviceCsvTests
{
    [Fact]
    public void Rows_carry_every_column_and_tag_columns_merge_with_the_tags_cell()
    {
        const string text = "id,Name,type,parent,tags,measurements,tag:site\n truck-7 ,Truck 7,truck, depot-1 ,fleet=East; region = EU,telemetry; power ,Oslo\nd2,,,,,,\n";

        Assert.True(DeviceCsv.TryDecode(text, 10, out var rows, out IngestError error), error.ToString());

        Assert.Equal(2, rows.Count);
        var truck = rows[0].Record!;
        Assert.Equal((2, "truck-7", "Truck 7", "truck", "depot-1"), (rows[0].Line, truck.Id, truck.Name, truck.Type, truck.Parent));
        Assert.Equal(new Dictionary<string, string> { ["fleet"] = "East", ["region "] = " EU", ["site"] = "Oslo" }, truck.Tags);
        Assert.Equal(["telemetry", "power"], truck.Measurements!);
        Assert.Equal(new DeviceCsvRecord("d2", null, null, null, null, null), rows[1].Record);
    }

    [Theory]
    [InlineData("", IngestErrorKind.Missing, "the CSV file is empty; the first line must be a header such as \"id,name,type,parent,tag:fleet\"")]
    [InlineData("\n\nid,colour\n", IngestErrorKind.Unsupported, "line 3: column 2 \"colour\" is not one of id, name, type, parent, tags, measurements or tag:<key>")]
    [InlineData("id,ID\n", IngestErrorKind.Name, "line 1: column \"ID\" appears twice")]
    [InlineData("name,type\n", IngestErrorKind.Missing, "line 1: the header has no \"id\" column; start the file with a header such as \"id,name,type,parent,tag:fleet\"")]
    [InlineData("id\na\nb\nc\n", IngestErrorKind.TooLarge, "3 devices; at most 2 per bulk request, split the file")]
    [InlineData("id\n\"a\n", IngestErrorKind.Syntax, "line 2: a quoted cell is not closed before the end of the file")]
    public void Bad_file_is_refused_whole_naming_the_line(string text, IngestErrorKind kind, string message)
    {
        Assert.False(DeviceCsv.TryDecode(text, 2, out _, out IngestError error));

        Assert.Equal(kind, error.Kind);
        Assert.Equal(message, error.ToString());
    }

    [Fact]
    public void Bad_row_fails_only_itself_with_its_column_and_line()
    {
        Assert.True(DeviceCsv.TryDecode("id,tags\na,fleet\nb\nc,x=1\n", 10, out var rows, out _));

        Assert.Equal(3, rows.Count);
        Assert.Null(rows[0].Record);
        Assert.Equal(("tags", "line 2: tags: \"fleet\" is not key=value (write tags as fleet=East;site=Oslo)"), (rows[0].Error.Path, rows[0].Error.ToString()));
        Assert.Null(rows[1].Record);
        Assert.Equal(((string?)null, "line 3: 1 cells, but the header has 2 columns"), (rows[1].Error.Path, rows[1].Error.ToString()));
        Assert.Equal("c", rows[2].Record!.Id);
        Assert.Equal(IngestErrorKind.None, rows[2].Error.Kind);
    }
}
