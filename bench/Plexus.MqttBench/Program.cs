using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Plexus.Compare;
using Plexus.MqttBench;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(MqttBenchOptions.Usage);
    return 0;
}

MqttBenchOptions options;
try
{
    options = MqttBenchOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(MqttBenchOptions.Usage);
    return 2;
}

// Whatever happens (Ctrl+C, SIGTERM, a crash), the servers we started are stopped by PID.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; cancellation.Cancel(); });
AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
AppDomain.CurrentDomain.UnhandledException += (_, _) => ChildProcess.KillAll();

var startedAt = TimeProvider.System.GetUtcNow();
using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(2) };
Directory.CreateDirectory(options.WorkDirectory);
var targets = new Targets(options, http);
var results = new List<RunResult>();

// One certificate for the whole run, in the run's temp folder: both servers' TLS listeners present it and the
// clients trust exactly it.
string certificateFolder = Path.Combine(options.WorkDirectory, "tls");
var transports = options.Transports
    .Select(name => name == BenchTransport.Tls ? BenchTransport.WithTls(BenchCertificate.Create(certificateFolder)) : BenchTransport.PlainTcp)
    .ToList();
Console.WriteLine($"{options.Devices} devices × {options.MessagesPerDevice:N0} messages, QoS {string.Join(",", options.QosLevels)}, {options.Runs} runs, {options.Generator} generator, {Environment.ProcessorCount} cores");
Console.WriteLine($"cases: transport {string.Join(",", options.Transports)} × subscriber {string.Join(",", options.Subscribers)}; targets {string.Join(",", options.Targets)}");
try
{
    // Interleaved (run 1 of every case and target, then run 2 ...) so a noisy neighbour hits all of them, not one.
    for (int run = 1; run <= options.Runs; run++)
    {
        foreach (int qos in options.QosLevels)
        {
            foreach (var transport in transports)
            {
                // The generator alone has no subscriber by definition: once per transport, not per subscriber case.
                if (options.Targets.Contains("generator"))
                {
                    Print(await targets.GeneratorAsync(qos, run, transport, cancellation.Token));
                }

                foreach (string subscriber in options.Subscribers)
                {
                    foreach (string target in options.Targets.Where(t => t != "generator"))
                    {
                        Print(target == "mosquitto"
                            ? await targets.MosquittoAsync(qos, run, transport, subscriber, cancellation.Token)
                            : await targets.PlexusAsync(qos, run, transport, subscriber, cancellation.Token));
                    }
                }
            }
        }
    }
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
finally
{
    ChildProcess.KillAll();
    if (!options.KeepData && Directory.Exists(certificateFolder))
    {
        Directory.Delete(certificateFolder, recursive: true);
    }
}

string markdown = Report(results, options);
Console.WriteLine();
Console.WriteLine(markdown);
Directory.CreateDirectory(Path.GetDirectoryName(options.OutFile)!);
await File.WriteAllTextAsync(options.OutFile, JsonSerializer.Serialize(new
{
    started = startedAt,
    machine = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
    parameters = new { options.Devices, options.MessagesPerDevice, options.QosLevels, options.Runs, payloadBytes = PayloadBytes(), options.WarmupMessages, options.Generator, options.Transports, options.Subscribers },
    runs = results.Select(r => new { r.Target, r.Qos, r.Run, r.Published, r.Failed, r.Delivered, r.PublishSeconds, r.Seconds, rate = r.Rate, r.GeneratorCpuSeconds, r.ServerCpuSeconds, r.ServerPeakRssBytes, r.Transport, r.Subscriber, lost = r.Lost, r.Forwarded, r.ForwardSeconds, forwardRate = r.ForwardRate, serverCpuMicrosecondsPerMessage = r.ServerCpuMicrosecondsPerMessage }),
}, new JsonSerializerOptions { WriteIndented = true }));
await File.WriteAllTextAsync(Path.ChangeExtension(options.OutFile, ".md"), markdown);
Console.WriteLine($"results: {options.OutFile}");
return 0;

void Print(RunResult result)
{
    results.Add(result);
    // The case that was the only one before (TCP, no subscriber) keeps its line as it was; the others name theirs.
    string label = result.Transport == BenchTransport.Tcp && result.Subscriber == MqttBenchOptions.NoSubscriber ? "" : $" [{result.Case}]";
    string forwarded = result.Target == "plexus" && result.Forwarded is { } received
        ? string.Create(CultureInfo.InvariantCulture, $"; subscriber received {received:N0} ({result.ForwardRate:N0} msgs/s)")
        : "";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"run {result.Run} QoS {result.Qos} {result.Target,-9}{label}: {result.Rate,9:N0} msgs/s delivered ({result.Delivered:N0} of {result.Published:N0} published, {result.Failed:N0} failed) in {result.Seconds:0.00} s (publishing {result.PublishSeconds:0.00} s); CPU s generator {result.GeneratorCpuSeconds:0.0}, server {result.ServerCpuSeconds:0.0}; server peak RSS {result.ServerPeakRssBytes / 1048576.0:0} MiB; lost {result.Lost:N0}{forwarded}"));
}

static int PayloadBytes()
{
    Span<byte> buffer = stackalloc byte[512];
    return DeviceFleet.FormatPayload(buffer, 1234, 500);
}

static string Report(List<RunResult> results, MqttBenchOptions options)
{
    var text = new StringBuilder();
    var inv = CultureInfo.InvariantCulture;
    text.AppendLine(inv, $"{options.Devices} devices, one MQTT 5 connection each ({options.Generator} generator), {options.MessagesPerDevice:N0} messages of {PayloadBytes()} B JSON per device and load; median (min–max) of {options.Runs} runs.");
    foreach (var inCase in results.GroupBy(r => r.Case))
    {
        text.AppendLine();
        text.AppendLine(inv, $"**{inCase.Key}**");
        text.AppendLine();
        text.AppendLine("| QoS | target | delivered msgs/s | delivered / published | CPU s per 100k msgs (server / generator) | server peak RSS MiB | sent | lost | subscriber received msgs/s (lost) |");
        text.AppendLine("|---|---|---:|---:|---|---:|---:|---:|---:|");
        foreach (var group in inCase.GroupBy(r => (r.Qos, r.Target)))
        {
            var rates = group.Select(r => r.Rate).Order().ToList();
            double delivered = group.Sum(r => (double)r.Delivered);
            double published = group.Sum(r => (double)r.Published);
            double server = group.Sum(r => r.ServerCpuSeconds) / delivered * 100_000;
            double generator = group.Sum(r => r.GeneratorCpuSeconds) / published * 100_000;
            string what = group.Key.Target switch
            {
                "generator" => "generator only (Mosquitto, no subscriber)",
                "mosquitto" => "Mosquitto → 1 subscriber (received)",
                _ => "Plexus (stored durably)",
            };
            string forwarded = "–";
            if (group.Key.Target == "plexus" && group.All(r => r.Forwarded is not null))
            {
                var forwardRates = group.Select(r => r.ForwardRate!.Value).Order().ToList();
                forwarded = string.Create(inv, $"{Median(forwardRates):N0} ({group.Sum(r => r.Published - r.Forwarded!.Value):N0})");
            }

            text.AppendLine(inv, $"| {group.Key.Qos} | {what} | {Median(rates):N0} ({rates[0]:N0}–{rates[^1]:N0}) | {delivered / published:P1} | {server:0.00} / {generator:0.00} | {group.Max(r => r.ServerPeakRssBytes) / 1048576.0:0} | {published:N0} | {group.Sum(r => r.Lost):N0} | {forwarded} |");
        }

        text.AppendLine();
        foreach (int qos in inCase.Select(r => r.Qos).Distinct())
        {
            var ratios = Paired(inCase, qos, "mosquitto");
            var ofGenerator = Paired(results.Where(r => r.Transport == inCase.First().Transport), qos, "generator");
            if (ratios.Count > 0)
            {
                text.AppendLine(inv, $"QoS {qos}: Plexus ÷ Mosquitto = **{Median(ratios):0.00}** ({ratios[0]:0.00}–{ratios[^1]:0.00}), paired by run.");
            }

            if (ofGenerator.Count > 0 && inCase.Any(r => r.Target == "plexus"))
            {
                text.AppendLine(inv, $"QoS {qos}: Plexus ÷ generator-only = {Median(ofGenerator):0.00} ({ofGenerator[0]:0.00}–{ofGenerator[^1]:0.00}).");
            }
        }

        // Plexus ÷ the other target of the same QoS and run, sorted; the Plexus loads are those of this case.
        List<double> Paired(IEnumerable<RunResult> pool, int qos, string other) =>
            [.. inCase.Where(r => r.Qos == qos && r.Target == "plexus")
                .Select(plexus => (plexus, reference: pool.FirstOrDefault(r => r.Qos == qos && r.Run == plexus.Run && r.Target == other)))
                .Where(pair => pair.reference is not null)
                .Select(pair => pair.plexus.Rate / pair.reference!.Rate)
                .Order()];
    }

    text.AppendLine();
    text.AppendLine("Targets, in every run of every case:");
    text.AppendLine();
    text.AppendLine("| case | QoS | target | median (lowest run) | met in every run? |");
    text.AppendLine("|---|---|---|---|---|");
    var caseOrder = results.Select(r => r.Case).Distinct().ToList();
    foreach (var plexusRuns in results.Where(r => r.Target == "plexus").GroupBy(r => (r.Case, r.Qos)).OrderBy(g => caseOrder.IndexOf(g.Key.Case)).ThenBy(g => g.Key.Qos))
    {
        var (name, qos) = plexusRuns.Key;
        long lost = plexusRuns.Sum(r => r.Lost);
        text.AppendLine(inv, $"| {name} | {qos} | every sent message stored | {lost:N0} lost | {(lost == 0 && plexusRuns.All(r => r.Failed == 0) ? "yes" : "**no**")} |");
        if (qos == 1)
        {
            var rates = plexusRuns.Select(r => r.Rate).Order().ToList();
            text.AppendLine(inv, $"| {name} | 1 | stored ≥ 35,000 msgs/s | {Median(rates):N0} ({rates[0]:N0}) msgs/s | {(rates[0] >= 35_000 ? "yes" : "**no**")} |");
        }
        else
        {
            var ratios = plexusRuns
                .Select(plexus => (plexus, mosquitto: results.FirstOrDefault(r => r.Target == "mosquitto" && r.Case == name && r.Qos == qos && r.Run == plexus.Run)))
                .Where(pair => pair.mosquitto is not null)
                .Select(pair => pair.plexus.Rate / pair.mosquitto!.Rate)
                .Order()
                .ToList();
            text.AppendLine(ratios.Count == 0
                ? $"| {name} | 0 | stored ≥ Mosquitto forwarding | no Mosquitto load to pair with | – |"
                : string.Create(inv, $"| {name} | 0 | stored ≥ Mosquitto forwarding | {Median(ratios):0.00}× ({ratios[0]:0.00}×) | {(ratios[0] >= 1 ? "yes" : "**no**")} |"));
        }
    }

    return text.ToString();
}

static double Median(List<double> sorted) => sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
