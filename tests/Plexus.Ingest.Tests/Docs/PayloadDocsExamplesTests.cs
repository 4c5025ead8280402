using System.Globalization;
using System.Text;
using Plexus.Core;
using Plexus.Ingest.Json;
using Plexus.Ingest.SenML;
using Plexus.Ingest.Tests.TestSupport;
using Plexus.TestKit;

namespace Plexus.Ingest.Tests.Docs;

/// <summary>
/// The examples of docs/ingest/: the error examples of line-protocol.md are what the parser reports for their lines;
/// and the payload examples of json.md and senml.md: every ```json block is decoded with the
/// options the page states, and the rows must be those of the table block that follows it (the message arrives at
/// the page's 2023-11-14 22:13:20.123456789 UTC).
/// </summary>
public sealed class PayloadDocsExamplesTests
{
    public static TheoryData<string, int> Examples()
    {
        var data = new TheoryData<string, int>();
        foreach (string page in new[] { "ingest/json.md", "ingest/senml.md" })
        {
            foreach (var block in DocsPages.Runnable(page, "json"))
            {
                data.Add(page, block.Index);
            }
        }

        return data;
    }

    [Fact]
    public void Both_pages_have_payload_examples() =>
        Assert.True(DocsPages.Runnable("ingest/json.md", "json").Count >= 3 && DocsPages.Runnable("ingest/senml.md", "json").Count >= 5);

    [Theory]
    [MemberData(nameof(Examples))]
    public void Payload_example_decodes_to_the_rows_the_page_shows(string page, int index)
    {
        var blocks = DocsPages.Blocks(page);
        var payload = blocks[index - 1];
        var table = blocks[index];
        Assert.True(table.Language.Length == 0 && table.Illustrative is null, $"{payload} is not followed by the table of its rows");
        string[] lines = [.. table.Code.Split('\n').Where(line => !line.StartsWith("SELECT ", StringComparison.Ordinal))];
        string[] columns = Cells(lines[0]);
        Assert.Equal(["time", "device"], columns[..2]);

        var batch = new PointBatch(16);
        byte[] bytes = Encoding.UTF8.GetBytes(payload.Code);
        bool ok = page == "ingest/json.md"
            ? JsonTelemetryDecoder.TryDecode(bytes, new JsonTelemetryOptions("readings", "truck-7", Decode.DefaultTime), batch, out IngestError error)
            : SenMlDecoder.TryDecode(bytes, new SenMlOptions("senml", "10e2073a01080063", Decode.DefaultTime) { IncludeUnits = columns.Any(c => c.EndsWith("_unit", StringComparison.Ordinal)) }, batch, out error);
        Assert.True(ok, $"{payload}: {error}");

        var points = DecodedPoint.From(batch).OrderBy(point => point.Timestamp).ToList();
        string[][] rows = [.. lines.Skip(1).Select(Cells)];
        Assert.True(rows.Length == points.Count, $"{payload}: {points.Count} points, the table shows {rows.Length} rows");
        for (int i = 0; i < rows.Length; i++)
        {
            var point = points[i];
            string context = $"{table} row {i + 1}: {string.Join(" | ", rows[i])} vs {point}";
            Assert.True(Nanoseconds(rows[i][0]) == point.Timestamp, context);
            Assert.True(point.Tags.Single(tag => tag.Key == "device").Value == rows[i][1], context);
            for (int c = 2; c < columns.Length; c++)
            {
                var field = point.Fields.SingleOrDefault(f => f.Key == columns[c]);
                Assert.True(rows[i][c] == "NULL" ? field is null : field is not null && SameValue(field, rows[i][c]), $"{context}: column {columns[c]}");
            }

            Assert.True(point.Fields.Count == point.Fields.Count(f => columns.Contains(f.Key)), $"{context}: the point has fields the table does not show");
        }
    }

    [Fact]
    public void Error_examples_of_the_line_protocol_page_are_what_the_parser_says_of_their_lines()
    {
        var examples = Assert.Single(DocsPages.Runnable("ingest/line-protocol.md", ""));
        string[] shown = examples.Code.Split('\n');

        // The body the examples come from: a good first line, then each example's line at the line number it shows.
        string body = "cpu,host=a temp=1\n" + string.Join('\n', shown.Select(line => line[(line.LastIndexOf(": ", StringComparison.Ordinal) + 2)..]));

        Assert.Equal(shown, Decode.Parse(body).ErrorTexts);
    }

    private static string[] Cells(string line) => [.. line.Split('|').Select(cell => cell.Trim())];

    private static bool SameValue(DecodedField field, string cell) => field.Type switch
    {
        FieldType.Float => (double)field.Value == double.Parse(cell, CultureInfo.InvariantCulture),
        FieldType.Boolean => ((bool)field.Value ? "true" : "false") == cell,
        _ => Convert.ToString(field.Value, CultureInfo.InvariantCulture) == cell,
    };

    /// <summary>A table's time (<c>2023-11-14 22:13:20.123456789</c>, UTC) in nanoseconds since the epoch.</summary>
    private static long Nanoseconds(string cell)
    {
        string[] parts = cell.Split('.');
        var seconds = DateTimeOffset.ParseExact(parts[0], "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
        long fraction = parts.Length > 1 ? long.Parse(parts[1].PadRight(9, '0'), CultureInfo.InvariantCulture) : 0;
        return (seconds.ToUnixTimeSeconds() * 1_000_000_000) + fraction;
    }
}
