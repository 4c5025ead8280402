using System.Text.Json;

namespace Plexus.Cli.Tests.Commands;

public class QueryCommandTests
{
    private const string TwoRows = """
        {"columns":[{"name":"time","type":"TIMESTAMP_NS"},{"name":"device","type":"VARCHAR"},{"name":"temperature","type":"DOUBLE"},{"name":"ok","type":"BOOLEAN"}],
         "rows":[["2024-05-01T10:00:00Z","boiler-1",21.5,true],["2024-05-01T10:00:01.25Z","pump",-3,null]],
         "row_count":2,"truncated":false}
        """;

    private static FakePlexusServer ServerAnswering(string json, string csv = "") => new(r =>
        r.Header("Accept")?.Contains("text/csv", StringComparison.Ordinal) == true
            ? new CannedResponse(200, csv, "text/csv; charset=utf-8")
            : new CannedResponse(200, json));

    [Fact]
    public async Task Table_output_is_aligned_text_with_a_row_count_when_piped()
    {
        await using var server = ServerAnswering(TwoRows);

        var result = await CliRunner.RunAsync("query", "SELECT * FROM readings", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(
            """
            time                     device    temperature  ok
            -----------------------  --------  -----------  ----
            2024-05-01T10:00:00Z     boiler-1         21.5  true
            2024-05-01T10:00:01.25Z  pump               -3  NULL
            (2 rows)

            """.ReplaceLineEndings("\n"),
            result.Output.ReplaceLineEndings("\n"));
        Assert.Equal("", result.Error);
        Assert.DoesNotContain("\u001b[", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_result_says_so_under_the_table()
    {
        await using var server = ServerAnswering("""{"columns":[{"name":"n","type":"BIGINT"}],"rows":[[1]],"truncated":true}""");

        var result = await CliRunner.RunAsync("query", "SELECT n FROM big", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("(1 row) (truncated:", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Control_characters_in_values_do_not_break_the_columns()
    {
        await using var server = ServerAnswering("""{"columns":[{"name":"note","type":"VARCHAR"},{"name":"tags","type":"VARCHAR[]"}],"rows":[["two\nlines",["a","b"]]],"truncated":false}""");

        var result = await CliRunner.RunAsync("query", "SELECT note, tags FROM notes", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("two\\nlines  [\"a\",\"b\"]", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_carries_the_sql_the_namespace_and_the_token()
    {
        await using var server = ServerAnswering(TwoRows);

        var result = await CliRunner.RunAsync("query", "SELECT 1", "--db", "farm", "--token", "t0k", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(server.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/api/v1/sql", request.Path);
        Assert.Equal("Token t0k", request.Header("Authorization"));
        Assert.StartsWith("application/json", request.Header("Content-Type"), StringComparison.Ordinal);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("SELECT 1", body.RootElement.GetProperty("sql").GetString());
        Assert.Equal("farm", body.RootElement.GetProperty("db").GetString());
    }

    [Fact]
    public async Task Csv_is_the_servers_csv_passed_through()
    {
        const string Csv = "time,device,temperature\n2024-05-01T10:00:00Z,\"boiler, north\",21.5\n";
        await using var server = ServerAnswering(TwoRows, Csv);

        var result = await CliRunner.RunAsync("query", "SELECT * FROM readings", "--format", "csv", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Csv, result.Output);
        Assert.Contains("text/csv", Assert.Single(server.Requests).Header("Accept"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Truncated_csv_keeps_the_data_clean_and_says_so_on_stderr()
    {
        const string Csv = "n\r\n1\r\n";
        await using var server = new FakePlexusServer(_ => new CannedResponse(200, Csv, "text/csv", ("X-Plexus-Truncated", "true")));

        var result = await CliRunner.RunAsync("query", "SELECT n FROM big", "--format", "csv", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(Csv, result.Output);
        Assert.Contains("truncated", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_is_the_servers_json_pretty_printed()
    {
        await using var server = ServerAnswering(TwoRows);

        var result = await CliRunner.RunAsync("query", "SELECT * FROM readings", "--format", "json", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("application/json", Assert.Single(server.Requests).Header("Accept"), StringComparison.Ordinal);
        Assert.Contains("\n  \"columns\": [", result.Output, StringComparison.Ordinal);
        using var expected = JsonDocument.Parse(TwoRows);
        using var actual = JsonDocument.Parse(result.Output);
        Assert.True(JsonElement.DeepEquals(expected.RootElement, actual.RootElement));
    }

    [Fact]
    public async Task Sql_comes_from_stdin_when_the_argument_is_a_dash()
    {
        await using var server = ServerAnswering(TwoRows);

        var result = await CliRunner.RunWithInputAsync("SELECT device\nFROM readings;\n", "query", "-", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        using var body = JsonDocument.Parse(Assert.Single(server.Requests).Body);
        Assert.Equal("SELECT device\nFROM readings;", body.RootElement.GetProperty("sql").GetString());
        Assert.False(body.RootElement.TryGetProperty("db", out _));
    }

    [Theory]
    [InlineData(400, """{"code":"invalid","message":"Catalog Error: Table with name nope does not exist!"}""", "error: 400 bad request: Catalog Error: Table with name nope does not exist!")]
    [InlineData(403, """{"code":"forbidden","message":"only read-only statements are allowed"}""", "error: 403 forbidden: only read-only statements are allowed")]
    [InlineData(408, """{"code":"timeout","message":"query exceeded 30 s"}""", "error: 408 timeout: query exceeded 30 s")]
    [InlineData(401, """{"code":"unauthorized","message":"a valid token is required"}""", "error: 401 unauthorized: the server rejected the token; check --token or PLEXUS_TOKEN")]
    public async Task Server_errors_go_to_stderr_with_exit_code_1(int status, string body, string expected)
    {
        await using var server = new FakePlexusServer(_ => CannedResponse.Json(status, body));

        var result = await CliRunner.RunAsync("query", "SELECT * FROM nope", "--token", "x", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Equal(expected, result.Error.TrimEnd());
    }

    [Fact]
    public async Task Unauthorized_without_a_token_says_how_to_pass_one()
    {
        await using var server = new FakePlexusServer(_ => CannedResponse.Json(401, """{"code":"unauthorized","message":"a valid token is required"}"""));

        var result = await CliRunner.RunAsync("query", "SELECT 1", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        if (Environment.GetEnvironmentVariable("PLEXUS_TOKEN") is null)
        {
            Assert.Contains("401 unauthorized: pass --token or set PLEXUS_TOKEN", result.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Unreachable_server_exits_1_and_says_connection_refused()
    {
        string url = FakePlexusServer.UnusedUrl();

        var result = await CliRunner.RunAsync("query", "SELECT 1", "--url", url);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot reach {url}: connection refused", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Empty_sql_is_refused_without_a_request()
    {
        await using var server = ServerAnswering(TwoRows);

        var result = await CliRunner.RunWithInputAsync("  \n", "query", "-", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no SQL given", result.Error, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Help_describes_every_option()
    {
        var result = await CliRunner.RunAsync("query", "--help");

        Assert.Equal(0, result.ExitCode);
        foreach (string option in new[] { "<sql>", "--db", "--format", "table", "csv", "json", "--url", "--token", "PLEXUS_URL", "PLEXUS_TOKEN" })
        {
            Assert.Contains(option, result.Output, StringComparison.Ordinal);
        }
    }
}
