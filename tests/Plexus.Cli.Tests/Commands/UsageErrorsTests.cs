using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>A mistake on the command line is answered with one line that names it and where the help is, not the help itself.</summary>
public sealed class UsageErrorsTests
{
    [Theory]
    [InlineData("query 'SELECT 1' --format xml", "error: --format: Argument 'xml' not recognized. Must be one of: 'table', 'csv', 'json'", "plexus query --help")]
    [InlineData("tokens create ci --scope bogus", "error: --scope: Argument 'bogus' not recognized. Must be one of: 'read', 'write', 'admin'", "plexus tokens create --help")]
    [InlineData("write --batch-size lots", "Cannot parse argument 'lots' for option '--batch-size'", "plexus write --help")]
    [InlineData("write --concurrency 0", "--concurrency must be between 1 and 64", "plexus write --help")]
    [InlineData("devices frobnicate", "frobnicate", "plexus devices --help")]
    public async Task A_usage_error_prints_one_line_and_the_hint_to_help(string commandLine, string expected, string help)
    {
        var result = await CliRunner.RunAsync(commandLine.Replace("'SELECT 1'", "SELECT_1", StringComparison.Ordinal).Split(' '));

        Assert.Equal(1, result.ExitCode);
        string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.Equal($"Run '{help}' for usage.", lines[1]);
        Assert.DoesNotContain("Usage:", result.Output + result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writing_a_folder_says_it_is_a_folder()
    {
        using var folder = new TempDirectory();

        var result = await CliRunner.RunAsync("write", folder.Path, "--url", "http://127.0.0.1:9");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains($"{folder.Path} is a folder", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("denied", result.Error, StringComparison.Ordinal);
    }
}
