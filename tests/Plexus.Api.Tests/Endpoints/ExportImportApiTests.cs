using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.Storage.Cold;
using Plexus.Storage.Tests.Cold;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>
/// Bulk export and import (docs/export-import.md): every format round-trips into a fresh server row for row, refused
/// rows are named, tokens keep to their namespaces, the tag predicate stays out of the SQL, and a backlog older than
/// cold partitions reads back right.
/// </summary>
public sealed class ExportImportApiTests
{
    // Every field type, NULL tags and fields, names and strings that need escaping or quoting, the largest unsigned
    // value, a time before 1970 and one with all nine fractional digits.
    private const string Points =
        "readings,device=a,site=x temp=1.5,count=3i,big=18446744073709551615u,ok=true,note=\"hello, \\\"world\\\" = 1\" 1000\n" +
        "readings,device=b temp=-2.0,count=-7i,ok=false,note=\"\" -1500000000123456789\n" +
        "readings,device=a\\ b,site=y\\,z\\=w temp=1e300,count=0i 1767225600123456789\n" +
        "readings,device=c note=\"back\\\\slash\" 3000\n" +
        "readings,device=c temp=4.0 4000\n";

    private const string Compare = "SELECT epoch_ns(time), device, site, temp, count, big, ok, note FROM main.readings ORDER BY epoch_ns(time), device";

    private const string Types = "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = 'readings' ORDER BY column_name";

    private static async Task<PlexusTestServer> SeededAsync(string? dataDirectory = null)
    {
        var server = await PlexusTestServer.StartAsync(dataDirectory);
        using var write = await server.WriteAsync(Points, "?precision=ns");
        Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        return server;
    }

    private static async Task<(HttpStatusCode Status, byte[] Body)> ExportAsync(HttpClient client, object request)
    {
        using var response = await client.PostAsJsonAsync("/api/v1/export", request);
        return (response.StatusCode, await response.Content.ReadAsByteArrayAsync());
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> ImportAsync(HttpClient client, byte[] file, string query)
    {
        using var response = await client.PostAsync("/api/v1/import?" + query, new ByteArrayContent(file));
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static string Text(List<List<JsonElement>> rows) => string.Join("\n", rows.Select(row => string.Join("|", row.Select(cell => cell.GetRawText()))));

    [Theory]
    [InlineData("csv", "into=main.readings")]
    [InlineData("jsonl", "into=main.readings")]
    [InlineData("lp", "into=main")]
    [InlineData("parquet", "into=main.readings")]
    public async Task Export_then_import_into_a_fresh_server_gives_back_every_row_with_its_tags_fields_types_and_nanoseconds(string format, string into)
    {
        await using var source = await SeededAsync();
        var (status, file) = await ExportAsync(source.Client, new { measurement = "main.readings", format });
        Assert.Equal(HttpStatusCode.OK, status);

        await using var target = await PlexusTestServer.StartAsync();
        var (imported, report) = await ImportAsync(target.Client, file, $"format={format}&{into}");

        Assert.True(imported == HttpStatusCode.OK, report.GetRawText());
        Assert.Equal(5, report.GetProperty("written").GetInt64());
        Assert.Equal(0, report.GetProperty("rejected").GetInt64());
        Assert.Equal(Text(await source.RowsAsync(Compare)), Text(await target.RowsAsync(Compare)));
        Assert.Equal(Text(await source.RowsAsync(Types)), Text(await target.RowsAsync(Types)));
    }

    [Fact]
    public async Task Csv_export_has_a_typed_header_rfc3339_nanosecond_times_and_quotes_only_where_needed()
    {
        await using var server = await SeededAsync();
        var (status, file) = await ExportAsync(server.Client, new { measurement = "main.readings", format = "csv", where = "device = 'b'" });

        Assert.Equal(HttpStatusCode.OK, status);
        string[] lines = Encoding.UTF8.GetString(file).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("time,tag:device,tag:site,float:temp,integer:count,unsigned:big,boolean:ok,string:note", lines[0]);
        Assert.Equal("1922-06-20T21:19:59.876543211Z,b,,-2.0,-7,,false,\"\"", lines[1]);
        Assert.Equal(2, lines.Length);
    }

    [Fact]
    public async Task Parquet_export_reads_in_a_second_reader_with_nanosecond_timestamps_and_leaves_no_staging_file()
    {
        using var data = new TempDirectory("export-data");
        await using var server = await SeededAsync(data.Path);
        var (status, file) = await ExportAsync(server.Client, new { measurement = "main.readings", format = "parquet", from = "1970-01-01T00:00:00.000001Z" });
        Assert.Equal(HttpStatusCode.OK, status);
        using var folder = new TempDirectory("export-parquet");
        string path = Path.Combine(folder.Path, "readings.parquet");
        await File.WriteAllBytesAsync(path, file);

        var columns = await ParquetFile.ReadAsync(path);

        Assert.Equal("Nanos", (await ParquetFile.TimestampColumns(path))["time"]);
        Assert.Equal([1000L, 3000L, 4000L, 1767225600123456789L], columns["time"].Select(t => (long)t!).Order());
        Assert.Contains("a b", columns["device"]);
        Assert.Contains(1e300, columns["temp"]);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(data.Path, ColdStore.FolderName), "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Refused_rows_are_named_by_row_line_and_column_and_the_good_rows_are_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();
        const string Csv =
            "time,tag:device,float:temp,integer:count\n" +
            "2026-01-01T00:00:00Z,a,1.5,1\n" +
            "2026-01-01T00:00:01Z,a,warm,2\n" +
            ",a,1.0,3\n" +
            "2026-01-01T00:00:03Z,b,2.5,4\n" +
            "2026-01-01T00:00:04Z,b,2.5\n";

        var (status, report) = await ImportAsync(server.Client, Encoding.UTF8.GetBytes(Csv), "format=csv&into=main.readings");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, report.GetProperty("rows").GetInt64());
        Assert.Equal(2, report.GetProperty("written").GetInt64());
        Assert.Equal(3, report.GetProperty("rejected").GetInt64());
        var errors = report.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal("2|3|float:temp", $"{errors[0].GetProperty("row")}|{errors[0].GetProperty("line")}|{errors[0].GetProperty("column").GetString()}");
        Assert.Contains("\"warm\" is not a float", errors[0].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal("3|4|time", $"{errors[1].GetProperty("row")}|{errors[1].GetProperty("line")}|{errors[1].GetProperty("column").GetString()}");
        Assert.Equal(5, errors[2].GetProperty("row").GetInt64());
        Assert.Contains("has 3 cells and the header 4", errors[2].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM readings"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Json_lines_errors_name_the_row_and_member_and_past_the_listed_ones_only_count()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var lines = new StringBuilder("{\"time\":\"2026-01-01T00:00:00Z\",\"tags\":{\"device\":\"a\"},\"fields\":{\"v\":1.0}}\n");
        lines.Append("{\"time\":\"yesterday\",\"fields\":{\"v\":2.0}}\n");
        for (int i = 0; i < 150; i++)
        {
            lines.Append("{\"time\":1,\"fields\":{\"v\":[1]}}\n");
        }

        var (status, report) = await ImportAsync(server.Client, Encoding.UTF8.GetBytes(lines.ToString()), "format=jsonl&into=main.readings");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(1, report.GetProperty("written").GetInt64());
        Assert.Equal(151, report.GetProperty("rejected").GetInt64());
        Assert.True(report.GetProperty("errors_truncated").GetBoolean());
        var first = report.GetProperty("errors")[0];
        Assert.Equal("2|2|$.time", $"{first.GetProperty("row")}|{first.GetProperty("line")}|{first.GetProperty("column").GetString()}");
        Assert.Equal("$.fields.v", report.GetProperty("errors")[1].GetProperty("column").GetString());
        Assert.Equal(100, report.GetProperty("errors").GetArrayLength());
    }

    [Fact]
    public async Task A_token_limited_to_namespaces_exports_and_imports_only_those()
    {
        await using var server = await SeededAsync();
        using (var lab = await server.WriteAsync("readings,device=a v=1 1000", "?bucket=lab&precision=ns"))
        {
            Assert.Equal(HttpStatusCode.NoContent, lab.StatusCode);
        }

        using var client = server.ClientWithToken(await TokenAsync(server, "read", "lab"));
        using var writer = server.ClientWithToken(await TokenAsync(server, "write", "lab"));

        var (refused, body) = await ExportAsync(client, new { measurement = "main.readings", format = "csv" });
        var (allowed, file) = await ExportAsync(client, new { measurement = "lab.readings", format = "csv" });
        var (importRefused, _) = await ImportAsync(writer, file, "format=csv&into=main.copy");
        var (importAllowed, _) = await ImportAsync(writer, file, "format=csv&into=lab.copy");

        Assert.Equal(HttpStatusCode.Forbidden, refused);
        Assert.Contains("not \\\"main\\\"", Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, allowed);
        Assert.Equal(2, Encoding.UTF8.GetString(file).Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(HttpStatusCode.Forbidden, importRefused);
        Assert.Equal(HttpStatusCode.OK, importAllowed);
        Assert.Equal(1, (await server.RowsAsync("SELECT count(*) FROM copy", "lab"))[0][0].GetInt64());
    }

    private static async Task<string> TokenAsync(PlexusTestServer server, string scope, string ns)
    {
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = scope + "-" + ns, scope, namespaces = new[] { ns } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
    }

    [Theory]
    [InlineData("device = 'a' OR 1=1")]
    [InlineData("device = 'a'; DROP TABLE _plexus.measurements")]
    [InlineData("device = 'a' -- ")]
    [InlineData("device = lower('A')")]
    [InlineData("\"device\" = 'a' UNION SELECT 1")]
    [InlineData("temp = '1'")]
    public async Task A_where_outside_the_tag_grammar_or_on_a_field_is_refused_400_before_any_row(string predicate)
    {
        await using var server = await SeededAsync();

        var (status, body) = await ExportAsync(server.Client, new { measurement = "main.readings", format = "csv", where = predicate });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("where", JsonDocument.Parse(body).RootElement.GetProperty("field").GetString());
        Assert.Equal(5, (await server.RowsAsync("SELECT count(*) FROM readings"))[0][0].GetInt64());
    }

    [Fact]
    public async Task A_quote_inside_a_where_value_is_a_value_and_selects_nothing()
    {
        await using var server = await SeededAsync();

        var (status, file) = await ExportAsync(server.Client, new { measurement = "main.readings", format = "jsonl", where = "device = 'a'' OR ''1''=''1' OR site IN ('x')" });

        Assert.Equal(HttpStatusCode.OK, status);
        string[] lines = Encoding.UTF8.GetString(file).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var only = Assert.Single(lines);
        Assert.Contains("\"site\":\"x\"", only, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_measurement_is_404_and_an_import_past_the_size_limit_is_413()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MaxImportBytes = 100 });

        var (missing, _) = await ExportAsync(server.Client, new { measurement = "main.nothing", format = "csv" });
        var (tooLarge, body) = await ImportAsync(server.Client, Encoding.UTF8.GetBytes(new string('#', 1000)), "format=lp&into=main");

        Assert.Equal(HttpStatusCode.NotFound, missing);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge);
        Assert.Contains("--max-import-size", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    // 2026-01-01T00:00:00Z and the day after: closed partitions once the grace has passed.
    private const long Day0 = 1_767_225_600_000_000_000;
    private const long Day = 86_400_000_000_000;

    [Fact]
    public async Task A_backlog_import_older_than_cold_partitions_reads_back_right_before_and_after_the_partition_is_rewritten()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with
        {
            ColdTier = new ColdTierOptions { Grace = TimeSpan.FromSeconds(1), CheckInterval = TimeSpan.FromMilliseconds(100) },
        });
        var lines = new StringBuilder();
        for (int i = 0; i < 48; i++)
        {
            lines.Append(CultureInfo.InvariantCulture, $"readings,device=d{i % 2} v={i} {Day0 + (i * (Day / 24))}\n");
        }

        using (var write = await server.WriteAsync(lines.ToString()))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM main.partitions WHERE tier = 'cold'"))[0][0].GetInt64() == 2,
            TimeSpan.FromSeconds(30), "both days are cold");

        // A replaced value (d0 at Day0), a new time in an existing series, and a new series, all in cold day 0.
        string backlog = "time,tag:device,float:v\n" +
            $"{Day0},d0,500.0\n" +
            $"{Day0 + (Day / 48)},d0,0.5\n" +
            $"{Day0 + (Day / 2)},d9,9.0\n";
        var (status, report) = await ImportAsync(server.Client, Encoding.UTF8.GetBytes(backlog), "format=csv&into=main.readings");
        Assert.True(status == HttpStatusCode.OK, report.GetRawText());
        Assert.Equal(3, report.GetProperty("written").GetInt64());

        const string Check = "SELECT count(*), sum(v), count(DISTINCT device), max(v) FILTER (WHERE device = 'd0' AND epoch_ns(time) = 1767225600000000000) FROM readings";
        var merged = (await server.RowsAsync(Check))[0];
        Assert.Equal(50, merged[0].GetInt64());
        Assert.Equal(1128.0 - 0 + 500 + 0.5 + 9, merged[1].GetDouble());
        Assert.Equal(3, merged[2].GetInt64());
        Assert.Equal(500.0, merged[3].GetDouble());
        string expected = Text(await server.RowsAsync(Check));

        await Eventually.TrueAsync(async () => (await server.RowsAsync($"SELECT count(*) FROM main.partitions WHERE tier = 'hot' AND epoch_ns(partition_start) < {Day0 + (2 * Day)}"))[0][0].GetInt64() == 0,
            TimeSpan.FromSeconds(30), "the late rows are folded into their partition's file");
        Assert.Equal(expected, Text(await server.RowsAsync(Check)));
    }
}
