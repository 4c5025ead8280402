using System.Text;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

public class WriteCommandTests
{
    private static string Lines(int count, int from = 1) =>
        string.Concat(Enumerable.Range(from, count).Select(i => $"cpu,host=h{i % 3} usage={i}.5 {1_700_000_000_000_000_000L + i}\n"));

    private static string PartialWrite(int written, params (int Line, string Text, string Reason)[] errors)
    {
        string list = string.Join(",", errors.Select(e => $$"""{"line":{{e.Line}},"text":"{{e.Text}}","reason":"{{e.Reason}}"}"""));
        string message = $"partial write: {errors.Length} of {written + errors.Length} lines rejected";
        return $$"""{"code":"invalid","message":"{{message}}","error":"{{message}}","written":{{written}},"rejected":{{errors.Length}},"errors":[{{list}}],"error_id":"abc123"}""";
    }

    private static int LineCount(string text) => text.Count(c => c == '\n');

    [Fact]
    public async Task Twelve_lines_with_batch_size_five_are_three_requests_of_whole_lines()
    {
        using var folder = new TempDirectory();
        string file = Path.Combine(folder.Path, "cpu.lp");
        string input = Lines(12);
        await File.WriteAllTextAsync(file, input);
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunAsync("write", file, "--batch-size", "5", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        var requests = server.Requests;
        Assert.Equal([5, 5, 2], requests.Select(r => LineCount(r.BodyText)));
        Assert.All(requests, r => Assert.EndsWith("\n", r.BodyText, StringComparison.Ordinal));
        Assert.Equal(input, string.Concat(requests.Select(r => r.BodyText)));
        Assert.All(requests, r =>
        {
            Assert.Equal("POST", r.Method);
            Assert.Equal("/api/v2/write", r.Path);
            Assert.Equal("ns", r.Query["precision"]);
            Assert.False(r.Query.ContainsKey("bucket"));
            Assert.Null(r.Header("Content-Encoding"));
        });
        Assert.Contains("12 lines sent, 12 points written, 0 lines rejected", result.Output, StringComparison.Ordinal);
        Assert.Contains("lines/s", result.Output, StringComparison.Ordinal);
        Assert.Equal("", result.Error);
    }

    [Fact]
    public async Task Gzip_bodies_decode_to_the_original_lines()
    {
        using var folder = new TempDirectory();
        string file = Path.Combine(folder.Path, "cpu.lp");
        string input = Lines(25);
        await File.WriteAllTextAsync(file, input);
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunAsync("write", file, "--gzip", "--batch-size", "10", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        var requests = server.Requests;
        Assert.Equal(3, requests.Count);
        Assert.All(requests, r =>
        {
            Assert.Equal("gzip", r.Header("Content-Encoding"));
            Assert.Equal([0x1f, 0x8b], r.Body.Take(2));
        });
        Assert.Equal(input, string.Concat(requests.Select(r => r.BodyText)));
    }

    [Fact]
    public async Task Token_namespace_and_precision_go_in_the_header_and_query()
    {
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunWithInputAsync(
            "m v=1 1\n", "write", "-", "--token", "s3cret", "--db", "farm one", "--precision", "ms", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(server.Requests);
        Assert.Equal("Token s3cret", request.Header("Authorization"));
        Assert.Equal("farm one", request.Query["bucket"]);
        Assert.Equal("ms", request.Query["precision"]);
        Assert.StartsWith("text/plain", request.Header("Content-Type"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bucket_is_an_alias_of_db_and_stdin_is_the_default_input()
    {
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunWithInputAsync(Lines(3), "write", "--bucket", "plant", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        var request = Assert.Single(server.Requests);
        Assert.Equal("plant", request.Query["bucket"]);
        Assert.Equal(Lines(3), request.BodyText);
        Assert.Contains("3 lines sent, 3 points written", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rejected_lines_are_reported_with_their_line_number_in_the_file_and_exit_code_2()
    {
        using var folder = new TempDirectory();
        string file = Path.Combine(folder.Path, "cpu.lp");
        await File.WriteAllTextAsync(file, Lines(12));
        int request = 0;
        await using var server = new FakePlexusServer(_ => Interlocked.Increment(ref request) == 2
            ? CannedResponse.Json(400, PartialWrite(3, (2, "cpu,host=h1 usage=", "missing field value"), (5, "cpu usage=x", "invalid number")))
            : CannedResponse.NoContent);

        var result = await CliRunner.RunAsync("write", file, "--batch-size", "5", "--url", server.Url);

        Assert.Equal(2, result.ExitCode);
        // Lines 2 and 5 of the second request are lines 7 and 10 of the file.
        Assert.Contains("2 lines rejected:", result.Error, StringComparison.Ordinal);
        Assert.Contains("line 7: missing field value", result.Error, StringComparison.Ordinal);
        Assert.Contains("cpu,host=h1 usage=", result.Error, StringComparison.Ordinal);
        Assert.Contains("line 10: invalid number", result.Error, StringComparison.Ordinal);
        Assert.True(result.Error.IndexOf("line 7:", StringComparison.Ordinal) < result.Error.IndexOf("line 10:", StringComparison.Ordinal));
        Assert.Contains("12 lines sent, 10 points written, 2 lines rejected", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Blank_and_comment_lines_count_for_numbering_but_not_as_lines_sent()
    {
        using var folder = new TempDirectory();
        string file = Path.Combine(folder.Path, "mixed.lp");
        await File.WriteAllTextAsync(file, "# exported\n\nm v=1 1\nm v=2 2\n\n# more\nm v= 3\nm v=4 4\n");
        await using var server = new FakePlexusServer(r => r.BodyText.Contains("v= 3", StringComparison.Ordinal)
            ? CannedResponse.Json(400, PartialWrite(1, (3, "m v= 3", "missing field value")))
            : CannedResponse.NoContent);

        var result = await CliRunner.RunAsync("write", file, "--batch-size", "4", "--url", server.Url);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(2, server.Requests.Count);
        Assert.Contains("line 7: missing field value", result.Error, StringComparison.Ordinal);
        Assert.Contains("4 lines sent, 3 points written, 1 line rejected", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Parallel_batches_keep_absolute_line_numbers_and_list_errors_in_file_order()
    {
        using var folder = new TempDirectory();
        string file = Path.Combine(folder.Path, "cpu.lp");
        string input = Lines(100);
        await File.WriteAllTextAsync(file, input);
        // Every request rejects its 4th line; with 10 lines per batch those are lines 4, 14, ..., 94 of the file.
        await using var server = new FakePlexusServer(r =>
        {
            string fourth = r.BodyText.Split('\n')[3];
            return CannedResponse.Json(400, PartialWrite(9, (4, fourth, "rejected on purpose")));
        });

        var result = await CliRunner.RunAsync("write", file, "--batch-size", "10", "--concurrency", "4", "--url", server.Url);

        Assert.Equal(2, result.ExitCode);
        var requests = server.Requests;
        Assert.Equal(10, requests.Count);
        Assert.Equal(input, string.Concat(requests.Select(r => r.BodyText).OrderBy(FirstValue)));
        var numbers = result.Error.Split('\n')
            .Where(l => l.StartsWith("  line ", StringComparison.Ordinal))
            .Select(l => int.Parse(l["  line ".Length..l.IndexOf(':', StringComparison.Ordinal)]))
            .ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => i * 10 + 4), numbers);
        // The text printed under each number is the line of the file with that number.
        string[] fileLines = input.Split('\n');
        Assert.Contains("line 54: rejected on purpose\n    " + fileLines[53] + "\n", result.Error, StringComparison.Ordinal);
        Assert.Contains("100 lines sent, 90 points written, 10 lines rejected", result.Output, StringComparison.Ordinal);

        static int FirstValue(string body) => int.Parse(body.Split("usage=", 2)[1].Split('.', 2)[0]);
    }

    [Fact]
    public async Task Only_the_first_twenty_rejected_lines_are_listed()
    {
        await using var server = new FakePlexusServer(r =>
        {
            var lines = r.BodyText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return CannedResponse.Json(400, PartialWrite(0, lines.Select((text, i) => (i + 1, text, "bad")).ToArray()));
        });

        var result = await CliRunner.RunWithInputAsync(Lines(30), "write", "-", "--batch-size", "7", "--url", server.Url);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("30 lines rejected:", result.Error, StringComparison.Ordinal);
        Assert.Contains("  line 20: bad", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("  line 21: bad", result.Error, StringComparison.Ordinal);
        Assert.Contains("... and 10 more", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_server_exits_1_and_says_connection_refused()
    {
        string url = FakePlexusServer.UnusedUrl();

        var result = await CliRunner.RunWithInputAsync(Lines(2), "write", "-", "--url", url);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot reach {url}: connection refused", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unauthorized_exits_1_and_says_how_to_pass_a_token()
    {
        await using var server = new FakePlexusServer(_ => CannedResponse.Json(401, """{"code":"unauthorized","message":"a valid token is required"}"""));

        var withoutToken = await CliRunner.RunWithInputAsync(Lines(2), "write", "--url", server.Url);
        var withToken = await CliRunner.RunWithInputAsync(Lines(2), "write", "--url", server.Url, "--token", "wrong");

        Assert.Equal(1, withoutToken.ExitCode);
        if (Environment.GetEnvironmentVariable("PLEXUS_TOKEN") is null)
        {
            Assert.Contains("401 unauthorized: pass --token or set PLEXUS_TOKEN", withoutToken.Error, StringComparison.Ordinal);
        }

        Assert.Equal(1, withToken.ExitCode);
        Assert.Contains("401 unauthorized: the server rejected the token", withToken.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Transient_503_is_retried_and_the_batch_is_written_once()
    {
        int calls = 0;
        await using var server = new FakePlexusServer(_ => Interlocked.Increment(ref calls) <= 2
            ? new CannedResponse(503, """{"code":"unavailable","message":"starting"}""", Headers: [("Retry-After", "0")])
            : CannedResponse.NoContent);

        var result = await CliRunner.RunWithInputAsync(Lines(4), "write", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(3, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal(Lines(4), r.BodyText));
        Assert.Contains("4 lines sent, 4 points written", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_that_stays_unavailable_fails_with_exit_code_1_after_the_retries()
    {
        await using var server = new FakePlexusServer(_ =>
            new CannedResponse(503, """{"code":"unavailable","message":"shutting down"}""", Headers: [("Retry-After", "0")]));

        var result = await CliRunner.RunWithInputAsync(Lines(4), "write", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(6, server.Requests.Count);
        Assert.Contains("503 server unavailable (starting or stopping): shutting down", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fatal_error_stops_the_upload_and_reports_what_was_written_before_it()
    {
        int calls = 0;
        await using var server = new FakePlexusServer(_ => Interlocked.Increment(ref calls) == 1
            ? CannedResponse.NoContent
            : CannedResponse.Json(500, """{"code":"internal error","message":"disk full","error_id":"e42"}"""));

        var result = await CliRunner.RunWithInputAsync(Lines(30), "write", "--batch-size", "10", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(2, server.Requests.Count);
        Assert.Contains("error: 500 Internal Server Error: disk full (error id e42)", result.Error, StringComparison.Ordinal);
        Assert.Contains("before the error: 10 lines sent, 10 points written", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Too_large_a_batch_says_to_lower_the_batch_size()
    {
        await using var server = new FakePlexusServer(_ => CannedResponse.Json(413, """{"code":"request too large","message":"body exceeds 10 MiB"}"""));

        var result = await CliRunner.RunWithInputAsync(Lines(3), "write", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("413 request too large: body exceeds 10 MiB", result.Error, StringComparison.Ordinal);
        Assert.Contains("lower --batch-size or add --gzip", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_level_400_is_an_error_not_a_partial_write()
    {
        await using var server = new FakePlexusServer(_ => CannedResponse.Json(400, """{"code":"invalid","message":"unknown namespace 'nope'"}"""));

        var result = await CliRunner.RunWithInputAsync(Lines(3), "write", "--db", "nope", "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: 400 bad request: unknown namespace 'nope'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancelling_stops_the_upload_with_exit_code_130_and_says_what_was_written()
    {
        using var cancel = new CancellationTokenSource();
        await using var server = new FakePlexusServer(_ =>
        {
            cancel.Cancel(); // as Ctrl+C would, while the first batch is at the server
            return CannedResponse.NoContent;
        });

        var result = await CliRunner.RunWithInputAsync(Lines(30), cancel.Token, "write", "--batch-size", "10", "--url", server.Url);

        Assert.Equal(130, result.ExitCode);
        Assert.Single(server.Requests);
        Assert.Contains("cancelled", result.Error, StringComparison.Ordinal);
        Assert.Contains("before cancelling:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_file_exits_1_and_names_it()
    {
        using var folder = new TempDirectory();
        string file = Path.Combine(folder.Path, "absent.lp");
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunAsync("write", file, "--url", server.Url);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"cannot open {file}", result.Error, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Empty_input_sends_nothing_and_succeeds()
    {
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunWithInputAsync("# nothing but a comment\n\n", "write", "--url", server.Url);

        Assert.Equal(0, result.ExitCode);
        Assert.Empty(server.Requests);
        Assert.Contains("0 lines sent, 0 points written, 0 lines rejected", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--precision", "minutes")]
    [InlineData("--batch-size", "0")]
    [InlineData("--concurrency", "0")]
    public async Task Invalid_option_values_are_refused_before_anything_is_sent(string option, string value)
    {
        await using var server = new FakePlexusServer();

        var result = await CliRunner.RunWithInputAsync(Lines(1), "write", option, value, "--url", server.Url);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(option == "--precision" ? "minutes" : option, result.Error, StringComparison.Ordinal);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public async Task Invalid_url_is_an_error_with_an_example()
    {
        var result = await CliRunner.RunWithInputAsync(Lines(1), "write", "--url", "localhost:8086");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("invalid server address 'localhost:8086'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_describes_every_option()
    {
        var result = await CliRunner.RunAsync("write", "--help");

        Assert.Equal(0, result.ExitCode);
        foreach (string option in new[] { "--db", "--bucket", "--precision", "--batch-size", "--gzip", "--concurrency", "--url", "--token", "PLEXUS_URL", "PLEXUS_TOKEN", "<file>" })
        {
            Assert.Contains(option, result.Output, StringComparison.Ordinal);
        }
    }
}
