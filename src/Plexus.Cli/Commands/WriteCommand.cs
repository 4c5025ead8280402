using System.CommandLine;
using System.Globalization;
using Plexus.Cli.Client;
using Spectre.Console;

namespace Plexus.Cli.Commands;

/// <summary>`plexus write`: streams a line-protocol file (or stdin) to the server in batches.</summary>
internal static class WriteCommand
{
    public const int DefaultBatchSize = 5000;

    public static Command Create()
    {
        var file = new Argument<string>("file")
        {
            Description = "Line-protocol file to send; '-' or nothing reads standard input",
            Arity = ArgumentArity.ZeroOrOne,
            DefaultValueFactory = _ => "-",
        };
        var database = new Option<string?>("--db", "--bucket")
        {
            Description = "Namespace to write into (the server's default namespace when omitted)",
        };
        var precision = new Option<string>("--precision")
        {
            Description = "Unit of the timestamps in the input: ns, us, ms or s",
            DefaultValueFactory = _ => "ns",
        };
        precision.AcceptOnlyFromAmong("ns", "us", "ms", "s");
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Lines per request; batches are cut at line boundaries only",
            DefaultValueFactory = _ => DefaultBatchSize,
        };
        CommandSupport.RequireRange(batchSize, 1, int.MaxValue);
        var gzip = new Option<bool>("--gzip")
        {
            Description = "Compress each request body with gzip",
        };
        var concurrency = new Option<int>("--concurrency")
        {
            Description = "Batches in flight at once",
            DefaultValueFactory = _ => 1,
        };
        CommandSupport.RequireRange(concurrency, 1, 64);
        var url = ClientOptions.Url();
        var token = ClientOptions.Token();
        var caCertificate = ClientOptions.CaCertificate();

        var command = new Command("write", "Write InfluxDB line protocol from a file or standard input to the server")
        {
            file, database, precision, batchSize, gzip, concurrency, url, token, caCertificate,
        };
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            using var termination = CliConsole.CancelOnTermination(cancellationToken);
            var settings = new WriteSettings(
                parse.GetValue(database),
                parse.GetValue(precision) ?? "ns",
                parse.GetValue(gzip),
                parse.GetValue(concurrency));
            return await RunAsync(
                parse.GetValue(file) ?? "-",
                parse.GetValue(batchSize),
                settings,
                parse.GetValue(url),
                parse.GetValue(token),
                parse.GetValue(caCertificate),
                parse.InvocationConfiguration.Output,
                parse.InvocationConfiguration.Error,
                termination.Token);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        string path, int batchSize, WriteSettings settings, string? url, string? token, string? caCertificate, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        long started = TimeProvider.System.GetTimestamp();
        LineProtocolUploader? uploader = null;
        try
        {
            using var client = PlexusApiClient.Create(url, token, settings.Concurrency, caCertificate);
            uploader = new LineProtocolUploader(client, settings);
            bool fromStdin = path == "-";
            if (fromStdin && CliConsole.InputIsTerminal)
            {
                await error.WriteLineAsync("reading line protocol from standard input (end with Ctrl+D)");
            }

            await using var input = fromStdin ? CliConsole.OpenStandardInput() : OpenFile(path);
            var reader = new LineBatchReader(input, batchSize);
            long length = fromStdin ? 0 : FileLength(input);
            if (length > 0 && CliConsole.IsTerminal(output))
            {
                await UploadWithProgressAsync(uploader, reader, Path.GetFileName(path), length, output, cancellationToken);
            }
            else
            {
                await uploader.UploadAsync(reader, progress: null, cancellationToken);
            }
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            if (uploader is not null && uploader.Totals.LinesSent > 0)
            {
                await WriteRejectedAsync(uploader.Totals, error);
                await error.WriteLineAsync($"before the error: {Summary(uploader.Totals, started)}");
            }

            return e.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("cancelled");
            if (uploader is not null)
            {
                await WriteRejectedAsync(uploader.Totals, error);
                await error.WriteLineAsync($"before cancelling: {Summary(uploader.Totals, started)}");
            }

            return 130;
        }

        var totals = uploader.Totals;
        await WriteRejectedAsync(totals, error);
        await output.WriteLineAsync(Summary(totals, started));
        return totals.LinesRejected > 0 ? 2 : 0;
    }

    private static async Task UploadWithProgressAsync(
        LineProtocolUploader uploader, LineBatchReader reader, string name, long length, TextWriter output, CancellationToken cancellationToken)
    {
        var console = CliConsole.CreateAnsiConsole(output);
        await console.Progress()
            .AutoClear(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new DownloadedColumn(),
                new TransferSpeedColumn(),
                new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(name), maxValue: length);
                await uploader.UploadAsync(reader, bytes => task.Increment(bytes), cancellationToken);
                task.Value = task.MaxValue;
            });
    }

    private static FileStream OpenFile(string path)
    {
        // Opening a folder fails with "Access to the path is denied", which sends people looking at permissions.
        if (Directory.Exists(path))
        {
            throw new CliException($"{path} is a folder; give a file of line protocol (or - for standard input), e.g. plexus write {Path.Combine(path, "data.lp")}");
        }

        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot open {path}: {e.Message}", e);
        }
    }

    private static long FileLength(Stream input)
    {
        try
        {
            return input.CanSeek ? input.Length : 0;
        }
        catch (IOException)
        {
            return 0; // A pipe or device named on the command line has no length to show progress against.
        }
    }

    private static async Task WriteRejectedAsync(WriteTotals totals, TextWriter error)
    {
        if (totals.LinesRejected == 0)
        {
            return;
        }

        await error.WriteLineAsync($"{Count(totals.LinesRejected, "line")} rejected:");
        foreach (var rejected in totals.FirstRejected)
        {
            string where = rejected.Line > 0 ? $"line {rejected.Line}" : "line ?";
            await error.WriteLineAsync($"  {where}: {rejected.Reason}");
            if (rejected.Text.Length > 0)
            {
                await error.WriteLineAsync($"    {Shorten(rejected.Text)}");
            }
        }

        long hidden = totals.LinesRejected - totals.FirstRejected.Count;
        if (hidden > 0)
        {
            await error.WriteLineAsync($"  ... and {hidden} more");
        }
    }

    private static string Summary(WriteTotals totals, long started)
    {
        var elapsed = TimeProvider.System.GetElapsedTime(started);
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{Count(totals.LinesSent, "line")} sent, {Count(totals.PointsWritten, "point")} written, {Count(totals.LinesRejected, "line")} rejected in {elapsed.TotalSeconds:0.00} s ({totals.LinesSent / seconds:0} lines/s)");
    }

    private static string Count(long count, string noun) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {noun}{(count == 1 ? "" : "s")}");

    private static string Shorten(string text)
    {
        const int Max = 200;
        string oneLine = text.ReplaceLineEndings(" ");
        return oneLine.Length <= Max ? oneLine : string.Concat(oneLine.AsSpan(0, Max), "…");
    }
}
