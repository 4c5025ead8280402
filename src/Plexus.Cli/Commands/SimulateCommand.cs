using System.CommandLine;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Plexus.Cli.Client;
using Plexus.Simulator;
using Spectre.Console;

namespace Plexus.Cli.Commands;

/// <summary>
/// `plexus simulate`: a deterministic TSBS-IoT truck fleet, written as line protocol, CSV or JSON lines to a file or
/// standard output, or sent live to a server's write API (as fast as possible or in real time). docs/simulate.md.
/// </summary>
internal static class SimulateCommand
{
    public const int DefaultTrucks = 100;
    public const int DefaultBatchSize = WriteCommand.DefaultBatchSize;

    // Generation runs ahead of the upload by at most this much line protocol.
    private const int PipePauseBytes = 16 << 20;

    public static Command Create()
    {
        var trucks = new Option<int>("--trucks")
        {
            Description = "Number of trucks (TSBS --scale)",
            DefaultValueFactory = _ => DefaultTrucks,
        };
        CommandSupport.RequireRange(trucks, 1, int.MaxValue);
        var start = new Option<string?>("--start")
        {
            Description = "First timestamp, RFC 3339 (default 2016-01-01T00:00:00Z; now, rounded down to the interval, with --realtime)",
        };
        var end = new Option<string?>("--end")
        {
            Description = "End of the run, exclusive, RFC 3339 (instead of --duration)",
        };
        var duration = new Option<string?>("--duration")
        {
            Description = "Length of the run, e.g. 30m, 5h, 1h30m, 3d (default 1h)",
        };
        var interval = new Option<string>("--interval")
        {
            Description = "Time between two rows of a truck, e.g. 10s, 500ms, 1m",
            DefaultValueFactory = _ => "10s",
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the random streams; the same seed and options give byte-identical output",
            DefaultValueFactory = _ => 1,
        };
        var format = new Option<string>("--format")
        {
            Description = "Output format: lp (line protocol), csv or jsonl",
            DefaultValueFactory = _ => "lp",
        };
        format.AcceptOnlyFromAmong("lp", "csv", "jsonl");
        var output = new Option<string?>("--out")
        {
            Description = "File to write; '-' (the default) writes to standard output",
        };
        var noChaos = new Option<bool>("--no-chaos") { Description = "No missing rows, no out-of-order rows, no NULLs: every truck, every tick, in order" };
        var noMissing = new Option<bool>("--no-missing") { Description = "Keep TSBS's other chaos but drop no rows" };
        var noOutOfOrder = new Option<bool>("--no-out-of-order") { Description = "Keep TSBS's other chaos but emit every row in order" };
        var noNulls = new Option<bool>("--no-nulls") { Description = "Keep TSBS's other chaos but leave no field or tag NULL" };
        var url = ClientOptions.Url();
        url.Description = "Send line protocol live to this server's write API (http://host:port) instead of writing a file";
        var token = ClientOptions.Token();
        var caCertificate = ClientOptions.CaCertificate();
        var database = new Option<string?>("--db", "--bucket") { Description = "Namespace to write into when sending (the server's default when omitted)" };
        var batchSize = new Option<int>("--batch-size")
        {
            Description = "Lines per request when sending",
            DefaultValueFactory = _ => DefaultBatchSize,
        };
        CommandSupport.RequireRange(batchSize, 1, int.MaxValue);
        var gzip = new Option<bool>("--gzip") { Description = "Compress each request body with gzip when sending" };
        var concurrency = new Option<int>("--concurrency")
        {
            Description = "Requests in flight at once when sending as fast as possible",
            DefaultValueFactory = _ => 1,
        };
        CommandSupport.RequireRange(concurrency, 1, 64);
        var realtime = new Option<bool>("--realtime") { Description = "Pace the rows by the clock: each tick goes out at its own time, starting now" };
        var positions = new Option<bool>("--positions")
        {
            Description = "Also write each truck reading's position to main.positions (the measurement device locations go to), for the geo functions, tracks and as-of-position queries; needs --url",
        };

        var mqtt = new Option<string?>("--mqtt")
        {
            Arity = ArgumentArity.ZeroOrOne,
            Description = "Send live over MQTT as devices: register each truck (needs --url and an admin --token) and publish its rows and positions over its own connection to this address host:port (default: the host of --url, port 1883); implies --realtime",
        };

        var command = new Command("simulate", "Simulate a TSBS-IoT truck fleet: write it as line protocol, CSV or JSON lines, or send it live to a server over HTTP or MQTT")
        {
            trucks, start, end, duration, interval, seed, format, output, noChaos, noMissing, noOutOfOrder, noNulls,
            url, token, caCertificate, database, batchSize, gzip, concurrency, realtime, positions, mqtt,
        };
        command.SetAction(async (ParseResult parse, CancellationToken cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            bool overMqtt = parse.GetResult(mqtt) is not null;
            SimulateSettings settings;
            try
            {
                settings = SimulateSettings.Resolve(
                    new SimulateArguments(
                        parse.GetValue(trucks),
                        parse.GetValue(start),
                        parse.GetValue(end),
                        parse.GetValue(duration),
                        parse.GetValue(interval) ?? "10s",
                        parse.GetValue(seed),
                        parse.GetValue(format) ?? "lp",
                        parse.GetValue(output),
                        parse.GetValue(noChaos),
                        parse.GetValue(noMissing),
                        parse.GetValue(noOutOfOrder),
                        parse.GetValue(noNulls),
                        parse.GetValue(url),
                        parse.GetValue(realtime) || overMqtt),
                    TimeProvider.System);
            }
            catch (CliException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return e.ExitCode;
            }

            if (parse.GetValue(positions) && (settings.Url is null || settings.Realtime))
            {
                await error.WriteLineAsync("error: --positions sends the positions to main.positions of a server: it needs --url, and does not work with --realtime yet");
                return 1;
            }

            using var termination = CliConsole.CancelOnTermination(cancellationToken);
            if (overMqtt)
            {
                if (settings.Url is null || parse.GetValue(positions) || parse.GetValue(database) is not null)
                {
                    await error.WriteLineAsync("error: --mqtt registers the trucks as devices through the server at --url (give it, with an admin --token); their data goes to main, positions included, so leave out --db and --positions");
                    return 1;
                }

                return await RunOverMqttAsync(settings, parse.GetValue(mqtt), parse.GetValue(token), parse.GetValue(caCertificate), parse.GetValue(concurrency), parse.InvocationConfiguration.Output, error, termination.Token);
            }

            var send = new WriteSettings(parse.GetValue(database), "ns", parse.GetValue(gzip), parse.GetValue(concurrency));
            int exitCode = await RunAsync(
                settings, send, parse.GetValue(batchSize), parse.GetValue(token), parse.GetValue(caCertificate), parse.InvocationConfiguration.Output, error, termination.Token);
            if (exitCode != 0 || !parse.GetValue(positions))
            {
                return exitCode;
            }

            return await SendPositionsAsync(settings, send with { Namespace = "main" }, parse.GetValue(batchSize), parse.GetValue(token), parse.GetValue(caCertificate), error, termination.Token);
        });
        return command;
    }

    private static async Task<int> RunAsync(
        SimulateSettings settings, WriteSettings send, int batchSize, string? token, string? caCertificate, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        long started = TimeProvider.System.GetTimestamp();
        var simulator = new FleetSimulator(settings.Options);
        var formatter = FleetFormatters.Create(settings.Format, simulator.Trucks);
        var run = new RunState(simulator);
        try
        {
            await WithProgressAsync(run, settings, output, error, async progress =>
            {
                if (settings.Url is null)
                {
                    await WriteToOutputAsync(run, formatter, settings, progress, output, cancellationToken);
                }
                else
                {
                    await SendAsync(run, formatter, settings, send, batchSize, token, caCertificate, progress, cancellationToken);
                }
            });
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            if (run.Writer is { Rows: > 0 })
            {
                await error.WriteLineAsync($"before the error: {Summary(run, started)}");
            }

            return e.ExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await error.WriteLineAsync("cancelled");
            await error.WriteLineAsync($"before cancelling: {Summary(run, started)}");
            return 130;
        }

        await error.WriteLineAsync(Summary(run, started));
        await error.WriteLineAsync(ChaosSummary(simulator));
        if (run.Uploader is { } uploader)
        {
            await WriteRejectedAsync(uploader.Totals, error);
            return uploader.Totals.LinesRejected > 0 ? 2 : 0;
        }

        return 0;
    }

    private static async Task<int> RunOverMqttAsync(
        SimulateSettings settings, string? mqtt, string? token, string? caCertificate, int concurrency, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var simulator = new FleetSimulator(settings.Options);
        try
        {
            using var client = PlexusApiClient.Create(settings.Url, token, concurrency, caCertificate);
            (string host, int port) = DemoCommand.MqttAddress(mqtt, client.BaseAddress);
            var sender = new MqttFleetSender(client, host, port, concurrency, error);
            await sender.RegisterAsync(simulator.Trucks, cancellationToken);
            try
            {
                await sender.RunAsync(simulator, TimeProvider.System, progress: null, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                await error.WriteLineAsync("cancelled");
            }

            await output.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"simulate: {sender.Rows} rows published in {sender.Messages} MQTT messages by {simulator.Trucks.Count} trucks; {sender.Failed} publishes failed"));
            return sender.Failed > 0 ? 2 : 0;
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return e.ExitCode;
        }
    }

    /// <summary>
    /// The positions of the run just sent, to <c>main.positions</c>: the simulator is deterministic, so a second pass over
    /// the same options gives the same readings, here written as position rows.
    /// </summary>
    private static async Task<int> SendPositionsAsync(SimulateSettings settings, WriteSettings send, int batchSize, string? token, string? caCertificate, TextWriter error, CancellationToken cancellationToken)
    {
        var simulator = new FleetSimulator(settings.Options);
        var run = new RunState(simulator);
        try
        {
            await SendAsync(run, FleetFormatters.Positions(simulator.Trucks), settings, send, batchSize, token, caCertificate, progress: null, cancellationToken);
        }
        catch (CliException e)
        {
            await error.WriteLineAsync($"error: positions: {e.Message}");
            return e.ExitCode;
        }

        var totals = run.Uploader!.Totals;
        await error.WriteLineAsync($"positions: {totals.PointsWritten} rows written to main.positions");
        await WriteRejectedAsync(totals, error);
        return totals.LinesRejected > 0 ? 2 : 0;
    }

    private static async Task WriteToOutputAsync(
        RunState run, IFleetRowFormatter formatter, SimulateSettings settings, Action? progress, TextWriter output, CancellationToken cancellationToken)
    {
        await using var destination = OpenOutput(settings.OutputPath, output);
        using var writer = new FleetRowWriter(destination, formatter);
        run.Writer = writer;
        var options = new FleetRunOptions { Realtime = settings.Realtime ? TimeProvider.System : null, Progress = progress };
        try
        {
            await FleetRun.RunAsync(run.Simulator, writer, options, cancellationToken);
        }
        catch (IOException e)
        {
            throw new CliException($"cannot write {settings.OutputPath}: {e.Message}", e);
        }
    }

    /// <summary>
    /// As fast as possible: the simulator writes into a pipe on its own task while the write command's uploader reads
    /// batches off the other end, so generation and sending overlap. In real time: each tick's lines are uploaded as
    /// soon as the tick is complete.
    /// </summary>
    private static async Task SendAsync(
        RunState run, IFleetRowFormatter formatter, SimulateSettings settings, WriteSettings send, int batchSize, string? token, string? caCertificate,
        Action? progress, CancellationToken cancellationToken)
    {
        using var client = PlexusApiClient.Create(settings.Url, token, send.Concurrency, caCertificate);
        var uploader = new LineProtocolUploader(client, send);
        run.Uploader = uploader;
        if (settings.Realtime)
        {
            var tick = new MemoryStream();
            using var writer = new FleetRowWriter(tick, formatter);
            run.Writer = writer;
            var options = new FleetRunOptions
            {
                Realtime = TimeProvider.System,
                Progress = progress,
                AfterFlush = async token =>
                {
                    if (tick.Length > 0)
                    {
                        var lines = new MemoryStream(tick.GetBuffer(), 0, (int)tick.Length, writable: false);
                        await uploader.UploadAsync(new LineBatchReader(lines, batchSize), progress: null, token);
                        tick.SetLength(0);
                    }
                },
            };
            await FleetRun.RunAsync(run.Simulator, writer, options, cancellationToken);
            return;
        }

        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: PipePauseBytes, resumeWriterThreshold: PipePauseBytes / 2, useSynchronizationContext: false));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var produce = Task.Run(
            async () =>
            {
                using var writer = new FleetRowWriter(pipe.Writer.AsStream(leaveOpen: true), formatter);
                run.Writer = writer;
                try
                {
                    await FleetRun.RunAsync(run.Simulator, writer, new FleetRunOptions { Progress = progress }, stop.Token);
                    await pipe.Writer.CompleteAsync();
                }
                catch (Exception e)
                {
                    await pipe.Writer.CompleteAsync(e);
                    throw;
                }
            },
            CancellationToken.None);
        try
        {
            await using var lines = pipe.Reader.AsStream();
            await uploader.UploadAsync(new LineBatchReader(lines, batchSize), progress: null, cancellationToken);
        }
        catch
        {
            await stop.CancelAsync(); // The upload failed: stop generating rows nobody will send.
            try
            {
                await produce;
            }
            catch (OperationCanceledException)
            {
                // Expected: it was stopped above.
            }

            throw;
        }

        await produce;
    }

    private static Stream OpenOutput(string path, TextWriter output)
    {
        if (path == "-")
        {
            // Straight to the process's stdout as bytes; a test's writer gets the (ASCII) text instead.
            return ReferenceEquals(output, Console.Out) ? Console.OpenStandardOutput() : new TextWriterStream(output);
        }

        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot create {path}: {e.Message}", e);
        }
    }

    /// <summary>A progress bar on standard error when that is a terminal and the data does not go to the same terminal.</summary>
    private static async Task WithProgressAsync(RunState run, SimulateSettings settings, TextWriter output, TextWriter error, Func<Action?, Task> body)
    {
        bool errorIsTerminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        bool dataOnTerminal = settings.Url is null && settings.OutputPath == "-" && CliConsole.IsTerminal(output);
        if (!errorIsTerminal || dataOnTerminal)
        {
            await body(null);
            return;
        }

        var console = CliConsole.CreateAnsiConsole(error);
        await console.Progress()
            .AutoClear(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask("simulating", maxValue: Math.Max(1, run.Simulator.TotalEntries));
                await body(() => task.Value = run.Simulator.EntriesGenerated);
                task.Value = task.MaxValue;
            });
    }

    private static string Summary(RunState run, long started)
    {
        var elapsed = TimeProvider.System.GetElapsedTime(started);
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-6);
        long rows = run.Writer?.Rows ?? 0;
        long bytes = run.Writer?.Bytes ?? 0;
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{rows} rows, {run.Writer?.FieldValues ?? 0} field values, {bytes / 1e6:0.0} MB in {elapsed.TotalSeconds:0.00} s ");
        text.Append(CultureInfo.InvariantCulture, $"({rows / seconds:0} rows/s, {bytes / 1e6 / seconds:0.0} MB/s)");
        if (run.Uploader is { } uploader)
        {
            var totals = uploader.Totals;
            text.Append(CultureInfo.InvariantCulture, $"; {totals.LinesSent} lines sent in {totals.Requests} requests, {totals.PointsWritten} points written, {totals.LinesRejected} rejected");
        }

        return text.ToString();
    }

    private static string ChaosSummary(FleetSimulator simulator)
    {
        var counters = simulator.Counters;
        double total = Math.Max(1, simulator.TotalEntries);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{simulator.Trucks.Count} trucks × {simulator.Options.Epochs} ticks × 2 = {simulator.TotalEntries} entries; chaos: {counters.EntriesDropped} dropped ({counters.EntriesDropped / total:P2}), {counters.EntriesParked} entries and {counters.BatchesParked} batches sent late, {counters.NullFields} rows with a NULL field, {counters.NullTags} with a NULL tag");
    }

    private static async Task WriteRejectedAsync(WriteTotals totals, TextWriter error)
    {
        if (totals.LinesRejected == 0)
        {
            return;
        }

        await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{totals.LinesRejected} lines rejected by the server, for example:"));
        foreach (var rejected in totals.FirstRejected.Take(5))
        {
            await error.WriteLineAsync($"  {rejected.Reason}: {rejected.Text}");
        }
    }

    /// <summary>What the run produced so far, for the summary (also after an error or Ctrl+C).</summary>
    private sealed class RunState(FleetSimulator simulator)
    {
        public FleetSimulator Simulator { get; } = simulator;

        public FleetRowWriter? Writer { get; set; }

        public LineProtocolUploader? Uploader { get; set; }
    }

    /// <summary>Bytes to a <see cref="TextWriter"/>, for `--out -` when the invocation's output is not the console.</summary>
    private sealed class TextWriterStream(TextWriter writer) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => writer.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => writer.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => writer.Write(Encoding.UTF8.GetString(buffer, offset, count));

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            await writer.WriteAsync(Encoding.UTF8.GetString(buffer.Span).AsMemory(), cancellationToken);
    }
}
