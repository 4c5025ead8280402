using System.Diagnostics;
using Plexus.TestKit;

namespace Plexus.Cli.Tests;

/// <summary>Runs the real `plexus` executable as a child process against a test server, as an operator would.</summary>
internal static class CliProcess
{
    public static async Task<CliResult> RunAsync(PlexusTestServer server, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "plexus.dll"), .. args, "--url", server.Address.ToString(), "--token", PlexusTestServer.AdminToken])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new CliResult(process.ExitCode, await output, await error);
    }
}
