using System.CommandLine;
using System.Globalization;
using Plexus.Cli.Client;
using Plexus.Core;
using Plexus.Storage.Backup;

namespace Plexus.Cli.Commands;

/// <summary>
/// <c>plexus backup &lt;folder&gt;</c>: an online backup of a running server's data folder, received as a stream and written
/// into a new local folder (docs/storage.md#backup-and-restore); <c>plexus restore &lt;backup&gt; &lt;data-dir&gt;</c> puts one back
/// with the server stopped.
/// </summary>
internal static class BackupCommand
{
    public static Command Create()
    {
        var folder = new Argument<string>("folder") { Description = "A new (or empty) folder to write the backup into" };
        var command = new Command("backup", "Back up a running server's whole data folder into a local folder (needs the admin token)") { folder };
        return CommandSupport.WithClient(command, async (parse, client, output, error, cancellationToken) =>
        {
            string target = Path.GetFullPath(parse.GetValue(folder)!);
            if (File.Exists(target) || (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any()))
            {
                throw new CliException($"{target} exists and is not an empty folder; give a new folder for the backup", exitCode: 1);
            }

            // The backup holds token hashes and every row: readable by this account only, as the server keeps its data folder.
            PrivateFiles.RestrictProcessUmask();
            var time = TimeProvider.System;
            long started = time.GetTimestamp();
            using var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/backup");
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await client.FailureAsync(response, cancellationToken);
            }

            string held = response.Headers.TryGetValues("X-Plexus-Backup-Writes-Held-Ms", out var values) ? values.First() : "?";
            bool terminal = CliConsole.IsTerminal(error);
            long nextReport = 0;
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            BackupManifest manifest;
            try
            {
                manifest = await BackupArchive.ExtractAsync(body, target, (m, received) =>
                {
                    long now = time.GetTimestamp();
                    if (terminal && now >= nextReport)
                    {
                        nextReport = now + time.TimestampFrequency / 2;
                        error.Write($"\rreceived {Megabytes(received)} of {Megabytes(m.TotalBytes)} MB");
                    }
                }, cancellationToken);
            }
            catch (BackupException e)
            {
                throw new CliException($"{e.Message} (the files received so far are in {target}, without a manifest: delete the folder)");
            }

            if (terminal)
            {
                error.Write("\r");
            }

            double seconds = time.GetElapsedTime(started).TotalSeconds;
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"backup of {manifest.Files.Count} files, {manifest.TotalBytes} bytes in {target} ({seconds:0.0} s; the server held writes for {held} ms)"));
        });
    }

    public static Command CreateRestore()
    {
        var backup = new Argument<string>("backup") { Description = "The folder plexus backup wrote" };
        var dataDir = new Argument<string>("data-dir") { Description = "The data folder to restore into (the server that uses it must be stopped)" };
        var force = new Option<bool>("--force") { Description = "Replace the data files of a folder that already holds some" };
        var command = new Command("restore", "Restore a backup into a data folder, after checking every file against the backup's manifest") { backup, dataDir, force };
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            try
            {
                BackupRestore.Restore(parse.GetValue(backup)!, parse.GetValue(dataDir)!, parse.GetValue(force), output.WriteLine);
                return 0;
            }
            catch (BackupException e)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    private static string Megabytes(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);
}
