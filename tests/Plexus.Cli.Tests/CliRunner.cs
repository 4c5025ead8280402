using System.CommandLine;
using Plexus.Cli.Client;
using Plexus.Cli.Commands;

namespace Plexus.Cli.Tests;

public sealed record CliResult(int ExitCode, string Output, string Error);

/// <summary>Runs the client commands in-process, as Program.cs wires them, with captured output and optional stdin.</summary>
internal static class CliRunner
{
    public static Task<CliResult> RunAsync(params string[] args) => RunWithInputAsync(null, args);

    public static Task<CliResult> RunWithInputAsync(string? standardInput, params string[] args) =>
        RunWithInputAsync(standardInput, CancellationToken.None, args);

    public static async Task<CliResult> RunWithInputAsync(string? standardInput, CancellationToken cancellationToken, params string[] args)
    {
        var root = new RootCommand("plexus (test)") { WriteCommand.Create(), QueryCommand.Create(), DeleteCommand.Create(), RetentionCommand.Create(), DevicesCommand.Create(), TokensCommand.Create(), SimulateCommand.Create(), DemoCommand.Create(), BackupCommand.Create(), BackupCommand.CreateRestore(), ExportCommand.Create(), ImportCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var input = standardInput is null
            ? null
            : CliConsole.RedirectInput(() => new MemoryStream(System.Text.Encoding.UTF8.GetBytes(standardInput)));
        int exitCode = await UsageErrors.InvokeAsync(root, args, new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }
}
