using System.Globalization;

namespace Plexus.LoadBench;

/// <summary>The command line of the load benchmark; see bench/README.md, "Ingest load benchmark".</summary>
internal sealed class LoadBenchOptions
{
    public const string Usage = """
        Plexus.LoadBench: ingest throughput and bytes on disk for a TSBS-IoT-like data set, as ratios to floors
        measured in the same run.

        dotnet run -c Release --project bench/Plexus.LoadBench -- [options]

          --trucks N          trucks (TSBS --scale), default 200
          --hours H           hours of data at one reading every 10 s, default 1 (fractions allowed)
          --batch-size N      lines per HTTP request, default 10000
          --writers LIST      concurrent HTTP writers, comma-separated, default 1,2
          --runs N            runs per writer count, default 3
          --seed N            random seed of the generator, default 123
          --out PATH          JSON results file, default bench/results/load-<UTC timestamp>.json
          --rules LIST        rule counts, comma-separated, default 0: each run loads Plexus once per count, interleaved
                              (--rules 0,1000 compares the same run with and without); the rules are the mix of
                              docs/benchmarks.md#rules, and webhook latency is measured when there are any
          --rollups LIST      rollups of readings added before the load, windows comma-separated (e.g. 1m,1h), default
                              none; compare runs with and without for the rollups' cost
          --rollup-interval D how often the rollup maintainer runs during the load (e.g. 10s, the server's default)
          --no-duckdb-floor   skip the direct DuckDB appender baseline
          --keep-data         keep each run's data folder (printed) instead of deleting it
          --help              this text
        """;

    public int Trucks { get; private set; } = 200;

    public double Hours { get; private set; } = 1;

    public int BatchSize { get; private set; } = 10_000;

    public IReadOnlyList<int> Writers { get; private set; } = [1, 2];

    public int Runs { get; private set; } = 3;

    public int Seed { get; private set; } = 123;

    public string? OutputPath { get; private set; }

    public bool DuckDbFloor { get; private set; } = true;

    public IReadOnlyList<int> Rules { get; private set; } = [0];

    public IReadOnlyList<string> Rollups { get; private set; } = [];

    public TimeSpan? RollupInterval { get; private set; }

    public bool KeepData { get; private set; }

    public bool Help { get; private set; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> with a message fit for the user.</summary>
    public static LoadBenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadBenchOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i];
            switch (name)
            {
                case "--trucks":
                    options.Trucks = PositiveInt(name, Value(args, ref i));
                    break;
                case "--hours":
                    options.Hours = PositiveDouble(name, Value(args, ref i));
                    break;
                case "--batch-size":
                    options.BatchSize = PositiveInt(name, Value(args, ref i));
                    break;
                case "--writers":
                    options.Writers = Value(args, ref i)
                        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(w => PositiveInt(name, w))
                        .ToArray();
                    if (options.Writers.Count == 0)
                    {
                        throw new ArgumentException("--writers needs at least one count, e.g. --writers 1,2");
                    }

                    break;
                case "--runs":
                    options.Runs = PositiveInt(name, Value(args, ref i));
                    break;
                case "--seed":
                    options.Seed = int.Parse(Value(args, ref i), NumberStyles.Integer, CultureInfo.InvariantCulture);
                    break;
                case "--out":
                    options.OutputPath = Value(args, ref i);
                    break;
                case "--no-duckdb-floor":
                    options.DuckDbFloor = false;
                    break;
                case "--rules":
                    options.Rules = Value(args, ref i)
                        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(r => int.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out int rules) ? rules : throw new ArgumentException($"--rules takes whole numbers, comma-separated, not \"{r}\""))
                        .ToArray();
                    if (options.Rules.Count == 0)
                    {
                        throw new ArgumentException("--rules needs at least one count, e.g. --rules 0,1000");
                    }

                    break;
                case "--rollups":
                    options.Rollups = Value(args, ref i).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    break;
                case "--rollup-interval":
                    options.RollupInterval = TimeSpan.FromSeconds(PositiveDouble(name, Value(args, ref i).TrimEnd('s')));
                    break;
                case "--keep-data":
                    options.KeepData = true;
                    break;
                case "--help" or "-h" or "-?":
                    options.Help = true;
                    break;
                default:
                    throw new ArgumentException($"unknown option \"{name}\"; --help lists the options");
            }
        }

        return options;
    }

    private static string Value(IReadOnlyList<string> args, ref int i)
    {
        if (i + 1 >= args.Count)
        {
            throw new ArgumentException($"{args[i]} needs a value");
        }

        return args[++i];
    }

    private static int PositiveInt(string name, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new ArgumentException($"{name} takes a positive whole number, not \"{text}\"");

    private static double PositiveDouble(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0 && double.IsFinite(value)
            ? value
            : throw new ArgumentException($"{name} takes a positive number, not \"{text}\"");
}
