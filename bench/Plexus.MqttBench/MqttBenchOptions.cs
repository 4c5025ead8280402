using System.Globalization;

namespace Plexus.MqttBench;

internal sealed class MqttBenchOptions
{
    public const string Usage = """
        Plexus.MqttBench: MQTT device ingest, Plexus (stored durably) beside Mosquitto (forwarding), same run.
          --plexus PATH        the plexus executable (default: src/Plexus.Cli/bin/Release/net10.0/plexus)
          --mosquitto PATH     the mosquitto broker (default: /usr/sbin/mosquitto)
          --devices N          concurrent devices, one MQTT connection each (default 100)
          --messages N         messages per device per load (default 2000)
          --warmup N           messages per device published before each timed load, not counted (default 1000)
          --qos LIST           0,1 (default)
          --runs N             loads per target and QoS, interleaved (default 3)
          --targets LIST       generator,mosquitto,plexus (default: all)
          --transport LIST     tcp,tls (default: both): devices and subscriber connect over plain TCP, or over TLS to
                               each server's TLS listener (a self-signed certificate made for the run)
          --subscriber LIST    none,devices (default: both): with devices, an application subscribed to devices/#
                               (same QoS, same transport) is connected to Plexus while the devices publish, and
                               Mosquitto forwards to a devices/# subscriber; with none, Plexus has no subscriber and
                               Mosquitto forwards to its one devices/+/telemetry subscriber, as before
          --generator KIND     raw (default: each device a socket speaking MQTT 5 directly, the leanest load) or
                               mqttnet (one MQTTnet client per device); the subscriber is an MQTTnet client either way
          --out FILE           JSON results (default bench/results/mqtt-<UTC>.json, a .md table beside it)
          --keep-data          keep the data folders (under $TMPDIR/plexus-mqttbench)
        """;

    public string PlexusExecutable { get; private set; } = "";

    public string MosquittoExecutable { get; private set; } = "/usr/sbin/mosquitto";

    public int Devices { get; private set; } = 100;

    public int MessagesPerDevice { get; private set; } = 2000;

    public int WarmupMessages { get; private set; } = 1000;

    public IReadOnlyList<int> QosLevels { get; private set; } = [0, 1];

    public int Runs { get; private set; } = 3;

    public IReadOnlyList<string> Targets { get; private set; } = ["generator", "mosquitto", "plexus"];

    public string Generator { get; private set; } = "raw";

    public IReadOnlyList<string> Transports { get; private set; } = [BenchTransport.Tcp, BenchTransport.Tls];

    public IReadOnlyList<string> Subscribers { get; private set; } = [NoSubscriber, DevicesSubscriber];

    /// <summary>No application subscribed to Plexus; Mosquitto forwards to the one subscriber that stands in for a store.</summary>
    public const string NoSubscriber = "none";

    /// <summary>An application subscribed to <c>devices/#</c> on either server while the devices publish.</summary>
    public const string DevicesSubscriber = "devices";

    public string OutFile { get; private set; } = "";

    public bool KeepData { get; private set; }

    public string Root { get; private set; } = "";

    public string WorkDirectory { get; } = Path.Combine(Path.GetTempPath(), "plexus-mqttbench");

    public static MqttBenchOptions Parse(string[] args)
    {
        var options = new MqttBenchOptions { Root = FindRoot() };
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--plexus": options.PlexusExecutable = Next(); break;
                case "--mosquitto": options.MosquittoExecutable = Next(); break;
                case "--devices": options.Devices = Positive(args[i], Next()); break;
                case "--messages": options.MessagesPerDevice = Positive(args[i], Next()); break;
                case "--warmup": options.WarmupMessages = int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out int w) ? w : throw new ArgumentException("--warmup needs a number"); break;
                case "--runs": options.Runs = Positive(args[i], Next()); break;
                case "--out": options.OutFile = Next(); break;
                case "--keep-data": options.KeepData = true; break;
                case "--generator":
                    options.Generator = Next() is "raw" or "mqttnet" ? args[i] : throw new ArgumentException($"--generator: \"{args[i]}\" is not raw or mqttnet");
                    break;
                case "--qos":
                    options.QosLevels = [.. Next().Split(',').Select(q => q.Trim() is "0" or "1" ? int.Parse(q, CultureInfo.InvariantCulture) : throw new ArgumentException($"--qos: \"{q}\" is not 0 or 1"))];
                    break;
                case "--targets":
                    options.Targets = [.. Next().Split(',').Select(t => t.Trim() is "generator" or "mosquitto" or "plexus" ? t.Trim() : throw new ArgumentException($"--targets: unknown target \"{t}\""))];
                    break;
                case "--transport":
                    options.Transports = List(args[i], Next(), BenchTransport.Tcp, BenchTransport.Tls);
                    break;
                case "--subscriber":
                    options.Subscribers = List(args[i], Next(), NoSubscriber, DevicesSubscriber);
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (options.PlexusExecutable.Length == 0)
        {
            options.PlexusExecutable = Path.Combine(options.Root, "src", "Plexus.Cli", "bin", "Release", "net10.0", "plexus");
        }

        if (options.OutFile.Length == 0)
        {
            string stamp = TimeProvider.System.GetUtcNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            options.OutFile = Path.Combine(options.Root, "bench", "results", $"mqtt-{stamp}.json");
        }

        return options;
    }

    /// <summary>A comma-separated choice from <paramref name="allowed"/>, in the order given, each once.</summary>
    private static string[] List(string name, string text, params string[] allowed) =>
        [.. text.Split(',').Select(item => item.Trim()).Distinct().Select(item => allowed.Contains(item)
            ? item
            : throw new ArgumentException($"{name}: \"{item}\" is not one of {string.Join(", ", allowed)}"))];

    private static int Positive(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new ArgumentException($"{name}: \"{text}\" is not a positive integer");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Plexus.slnx")))
            {
                return dir.FullName;
            }
        }

        return Environment.CurrentDirectory;
    }
}
