using System.Globalization;

namespace Plexus.Compare;

internal sealed class CompareOptions
{
    public string DataFile { get; private set; } = "";

    public string DataLabel { get; private set; } = "";

    public string PlexusExecutable { get; private set; } = "";

    public string PlexusVersion { get; private set; } = "dev";

    public List<string> Systems { get; private set; } = ["plexus", "influxdb", "victoriametrics", "clickhouse"];

    public List<int> Writers { get; private set; } = [1, 2];

    public int Runs { get; private set; } = 3;

    public int BatchSize { get; private set; } = 10_000;

    public int QueryRuns { get; private set; } = 5;

    public string Fleet { get; private set; } = "East";

    public string AdminToken { get; private set; } = "bench-admin-token";

    public string WorkDirectory { get; private set; } = Path.Combine(Path.GetTempPath(), "plexus-compare");

    public string? Output { get; private set; }

    public bool KeepData { get; private set; }

    public string InfluxdExecutable { get; private set; } = "/usr/bin/influxd";

    public string VictoriaMetricsExecutable { get; private set; } = "/usr/bin/victoria-metrics";

    public string ClickHouseExecutable { get; private set; } = "/usr/sbin/clickhouse-server";

    public const string Usage = """
        Plexus.Compare --data <fleet.lp> --plexus <path to plexus executable> [options]

          --data <file>            TSBS-iot line protocol written by 'plexus simulate' (required)
          --data-label <text>      how the data set was made, for the report (e.g. the simulate command)
          --plexus <file>          the plexus executable (Release build) (required when plexus is measured)
          --plexus-version <text>  shown in the report (default: dev)
          --systems <list>         comma-separated: plexus,influxdb,victoriametrics,clickhouse (default: all);
                                   plexus-tsbs: Plexus with all twelve TSBS IoT queries of docs/cross-data.md
          --writers <list>         concurrent HTTP writers per load (default: 1,2)
          --runs <n>               loads per writer count, each on a fresh empty data folder (default: 3)
          --batch-size <n>         lines (rows) per write request (default: 10000)
          --query-runs <n>         timed runs per query after one warm-up; the median is reported (default: 5)
          --fleet <name>           fleet for the per-fleet queries (default: East)
          --admin-token <token>    token passed to 'plexus serve --admin-token' (default: bench-admin-token)
          --work <dir>             temp root for data folders (default: $TMPDIR/plexus-compare)
          --out <file>             JSON results (default: bench/results/compare-<UTC time>.json)
          --keep-data              leave the data folders behind
          --influxd <file>, --victoria-metrics <file>, --clickhouse-server <file>   peer executables
        """;

    public static CompareOptions Parse(string[] args)
    {
        var o = new CompareOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--data": o.DataFile = Next(); break;
                case "--data-label": o.DataLabel = Next(); break;
                case "--plexus": o.PlexusExecutable = Next(); break;
                case "--plexus-version": o.PlexusVersion = Next(); break;
                case "--systems": o.Systems = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
                case "--writers": o.Writers = [.. Next().Split(',').Select(s => PositiveInt(s, "--writers"))]; break;
                case "--runs": o.Runs = PositiveInt(Next(), "--runs"); break;
                case "--batch-size": o.BatchSize = PositiveInt(Next(), "--batch-size"); break;
                case "--query-runs": o.QueryRuns = PositiveInt(Next(), "--query-runs"); break;
                case "--fleet": o.Fleet = Next(); break;
                case "--admin-token": o.AdminToken = Next(); break;
                case "--work": o.WorkDirectory = Next(); break;
                case "--out": o.Output = Next(); break;
                case "--keep-data": o.KeepData = true; break;
                case "--influxd": o.InfluxdExecutable = Next(); break;
                case "--victoria-metrics": o.VictoriaMetricsExecutable = Next(); break;
                case "--clickhouse-server": o.ClickHouseExecutable = Next(); break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }

        if (o.DataFile.Length == 0)
        {
            throw new ArgumentException("--data is required");
        }

        foreach (var system in o.Systems)
        {
            if (system is not ("plexus" or "plexus-tsbs" or "influxdb" or "victoriametrics" or "clickhouse"))
            {
                throw new ArgumentException($"--systems: unknown system '{system}'");
            }
        }

        if ((o.Systems.Contains("plexus") || o.Systems.Contains("plexus-tsbs")) && o.PlexusExecutable.Length == 0)
        {
            throw new ArgumentException("--plexus is required to measure plexus");
        }

        if (o.Fleet.Contains('\'', StringComparison.Ordinal) || o.Fleet.Contains('"', StringComparison.Ordinal))
        {
            throw new ArgumentException("--fleet: quotes are not allowed");
        }

        return o;
    }

    private static int PositiveInt(string text, string option) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new ArgumentException($"{option}: '{text}' is not a positive integer");
}
