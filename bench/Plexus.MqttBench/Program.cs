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
Console.WriteLine($"{options.Devices} devices × {options.MessagesPerDevice:N0} messages, QoS {string.Join(",", options.QosLevels)}, {options.Runs} runs, {options.Generator} generator, {Environment.ProcessorCount} cores");
try
{
    // Interleaved (run 1 of every target, then run 2 ...) so a noisy neighbour hits all of them, not one.
    for (int run = 1; run <= options.Runs; run++)
    {
        foreach (int qos in options.QosLevels)
        {
            foreach (string target in options.Targets)
            {
                var result = target switch
                {
                    "generator" => await targets.GeneratorAsync(qos, run, cancellation.Token),
                    "mosquitto" => await targets.MosquittoAsync(qos, run, subscriber: true, cancellation.Token),
                    _ => await targets.PlexusAsync(qos, run, cancellation.Token),
                };
                results.Add(result);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"run {run} QoS {qos} {target,-9}: {result.Rate,9:N0} msgs/s delivered ({result.Delivered:N0} of {result.Published:N0} published, {result.Failed:N0} failed) in {result.Seconds:0.00} s (publishing {result.PublishSeconds:0.00} s); CPU s generator {result.GeneratorCpuSeconds:0.0}, server {result.ServerCpuSeconds:0.0}; server peak RSS {result.ServerPeakRssBytes / 1048576.0:0} MiB"));
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
}

string markdown = Report(results, options);
Console.WriteLine();
Console.WriteLine(markdown);
Directory.CreateDirectory(Path.GetDirectoryName(options.OutFile)!);
await File.WriteAllTextAsync(options.OutFile, JsonSerializer.Serialize(new
{
    started = startedAt,
    machine = new { cores = Environment.ProcessorCount, os = RuntimeInformation.OSDescription, runtime = RuntimeInformation.FrameworkDescription },
    parameters = new { options.Devices, options.MessagesPerDevice, options.QosLevels, options.Runs, payloadBytes = PayloadBytes() },
    runs = results.Select(r => new { r.Target, r.Qos, r.Run, r.Published, r.Failed, r.Delivered, r.PublishSeconds, r.Seconds, rate = r.Rate, r.GeneratorCpuSeconds, r.ServerCpuSeconds, r.ServerPeakRssBytes }),
}, new JsonSerializerOptions { WriteIndented = true }));
await File.WriteAllTextAsync(Path.ChangeExtension(options.OutFile, ".md"), markdown);
Console.WriteLine($"results: {options.OutFile}");
return 0;

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
    text.AppendLine();
    text.AppendLine("| QoS | target | delivered msgs/s | delivered / published | CPU s per 100k msgs (server / generator) | server peak RSS MiB |");
    text.AppendLine("|---|---|---:|---:|---|---:|");
    foreach (var group in results.GroupBy(r => (r.Qos, r.Target)))
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
        text.AppendLine(inv, $"| {group.Key.Qos} | {what} | {Median(rates):N0} ({rates[0]:N0}–{rates[^1]:N0}) | {delivered / published:P1} | {server:0.00} / {generator:0.00} | {group.Max(r => r.ServerPeakRssBytes) / 1048576.0:0} |");
    }

    text.AppendLine();
    foreach (int qos in results.Select(r => r.Qos).Distinct())
    {
        var ratios = new List<double>();
        var ofGenerator = new List<double>();
        foreach (var plexus in results.Where(r => r.Qos == qos && r.Target == "plexus"))
        {
            var mosquitto = results.FirstOrDefault(r => r.Qos == qos && r.Run == plexus.Run && r.Target == "mosquitto");
            var generator = results.FirstOrDefault(r => r.Qos == qos && r.Run == plexus.Run && r.Target == "generator");
            if (mosquitto is not null)
            {
                ratios.Add(plexus.Rate / mosquitto.Rate);
            }

            if (generator is not null)
            {
                ofGenerator.Add(plexus.Rate / generator.Rate);
            }
        }

        if (ratios.Count > 0)
        {
            ratios.Sort();
            text.AppendLine(inv, $"QoS {qos}: Plexus ÷ Mosquitto = **{Median(ratios):0.00}** ({ratios[0]:0.00}–{ratios[^1]:0.00}), paired by run.");
        }

        if (ofGenerator.Count > 0)
        {
            ofGenerator.Sort();
            text.AppendLine(inv, $"QoS {qos}: Plexus ÷ generator-only = {Median(ofGenerator):0.00} ({ofGenerator[0]:0.00}–{ofGenerator[^1]:0.00}).");
        }
    }

    return text.ToString();
}

static double Median(List<double> sorted) => sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
