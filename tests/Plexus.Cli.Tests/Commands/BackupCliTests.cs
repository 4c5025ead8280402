using System.Net;
using Plexus.TestKit;

namespace Plexus.Cli.Tests.Commands;

/// <summary>`plexus backup` (the real executable against a real server) and `plexus restore`, as an operator runs them.</summary>
public sealed class BackupCliTests
{
    [Fact]
    public async Task Backup_then_restore_into_a_new_folder_serves_the_same_rows_and_a_damaged_backup_is_refused()
    {
        using var work = new TempDirectory("plexus-backup-cli");
        string backup = Path.Combine(work.Path, "backup");
        string restored = Path.Combine(work.Path, "restored");
        await using (var server = await PlexusTestServer.StartAsync())
        {
            using (var write = await server.WriteAsync("readings,device=a v=1 1000\nreadings,device=b v=2 2000\n"))
            {
                Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
            }

            var taken = await CliProcess.RunAsync(server, "backup", backup);
            Assert.True(taken.ExitCode == 0, taken.Error);
            Assert.Contains($"in {backup}", taken.Output, StringComparison.Ordinal);
            Assert.Contains("the server held writes for", taken.Output, StringComparison.Ordinal);

            var again = await CliProcess.RunAsync(server, "backup", backup);
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("is not an empty folder", again.Error, StringComparison.Ordinal);
        }

        var restore = await CliRunner.RunAsync("restore", backup, restored);
        Assert.True(restore.ExitCode == 0, restore.Error);
        Assert.Contains("restored", restore.Output, StringComparison.Ordinal);
        var twice = await CliRunner.RunAsync("restore", backup, restored);
        Assert.Equal(1, twice.ExitCode);
        Assert.Contains("--force", twice.Error, StringComparison.Ordinal);

        await using (var server = await PlexusTestServer.StartAsync(restored))
        {
            Assert.Equal(3.0, (await server.RowsAsync("SELECT sum(v) FROM readings"))[0][0].GetDouble());
        }

        string database = Path.Combine(backup, "plexus.duckdb");
        byte[] bytes = await File.ReadAllBytesAsync(database);
        bytes[^100] ^= 1;
        await File.WriteAllBytesAsync(database, bytes);
        var damaged = await CliRunner.RunAsync("restore", backup, restored, "--force");
        Assert.Equal(1, damaged.ExitCode);
        Assert.Contains("is damaged, nothing was restored", damaged.Error, StringComparison.Ordinal);
        Assert.Contains("plexus.duckdb has SHA-256", damaged.Error, StringComparison.Ordinal);
    }
}
