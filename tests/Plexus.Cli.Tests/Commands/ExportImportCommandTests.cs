using System.Net;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus export` and `plexus import` against real servers (docs/export-import.md).</summary>
public sealed class ExportImportCommandTests
{
    [Theory]
    [InlineData("csv", "readings.csv", "main.readings")]
    [InlineData("jsonl", "readings.jsonl", "main.readings")]
    [InlineData("lp", "readings.lp", "main")]
    [InlineData("parquet", "readings.parquet", "main.readings")]
    public async Task Export_to_a_file_then_import_it_into_another_server_copies_every_row(string format, string fileName, string into)
    {
        await using var source = await PlexusTestServer.StartAsync();
        using (var write = await source.WriteAsync("readings,device=a t=1.5,n=2i 1000\nreadings,device=b t=2.5,s=\"x, y\" 2000\nreadings,device=a t=3.5 3000", "?precision=ns"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        await using var target = await PlexusTestServer.StartAsync();
        using var folder = new TempDirectory("cli-export");
        string file = Path.Combine(folder.Path, fileName);

        var exported = await CliRunner.RunAsync(["export", "main.readings", "--format", format, "-o", file, "--where", "device IN ('a', 'b')", "--url", source.Address.ToString(), "--token", PlexusTestServer.AdminToken]);
        var imported = await CliRunner.RunAsync(["import", file, "--into", into, "--url", target.Address.ToString(), "--token", PlexusTestServer.AdminToken]);

        Assert.True(exported.ExitCode == 0, exported.Error);
        Assert.StartsWith(format == "parquet" ? "exported " : "exported 3 rows", exported.Output, StringComparison.Ordinal);
        Assert.True(imported.ExitCode == 0, imported.Error + imported.Output);
        Assert.StartsWith("imported 3 of 3 rows into " + into, imported.Output, StringComparison.Ordinal);
        Assert.Contains("rows/s", imported.Output, StringComparison.Ordinal);
        const string All = "SELECT epoch_ns(time), device, t, n, s FROM readings ORDER BY time";
        Assert.Equal(Flat(await source.RowsAsync(All)), Flat(await target.RowsAsync(All)));
    }

    [Fact]
    public async Task Import_of_a_plain_csv_with_a_column_mapping_lists_the_refused_rows_and_exits_2()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var folder = new TempDirectory("cli-import");
        string file = Path.Combine(folder.Path, "plain.csv");
        await File.WriteAllTextAsync(file, "ts,host,temperature\n2026-01-01T00:00:00Z,h1,20.5\n2026-01-01T00:00:01Z,h1,hot\nnot-a-time,h2,1\n2026-01-01T00:00:03Z,h2,21\n");

        var result = await CliRunner.RunAsync(["import", file, "--into", "main.climate", "--time-column", "ts", "--tag-columns", "host", "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken]);

        Assert.Equal(2, result.ExitCode);
        // "hot" reads as a string, which the float column the first row made refuses: the store names its line.
        Assert.StartsWith("imported 2 of 4 rows into main.climate", result.Output, StringComparison.Ordinal);
        Assert.Contains("row 3, line 4, column ts: column \"ts\": \"not-a-time\" is not a time", result.Error, StringComparison.Ordinal);
        Assert.Contains("line 3: ", result.Error, StringComparison.Ordinal);
        var rows = await server.RowsAsync("SELECT host, temperature FROM climate ORDER BY time");
        Assert.Equal("h1=20.5 h2=21", string.Join(" ", rows.Select(r => r[0].GetString() + "=" + r[1].GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture))));
    }

    private static string Flat(List<List<System.Text.Json.JsonElement>> rows) => string.Join("\n", rows.Select(row => string.Join("|", row.Select(cell => cell.GetRawText()))));
}
