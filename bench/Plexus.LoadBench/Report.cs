using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Plexus.LoadBench;

/// <summary>Median (min–max) per target and writer count, as Markdown tables, and the JSON file of everything.</summary>
internal static class Report
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    };

    public static List<Summary> Summarize(IReadOnlyList<RunResult> runs)
    {
        var summaries = new List<Summary>();
        foreach (var group in runs.GroupBy(r => (r.Target, r.Writers)).OrderBy(g => TargetOrder(g.Key.Target)).ThenBy(g => g.Key.Writers))
        {
            var list = group.ToList();
            Stat? versusHttp = null;
            Stat? versusDuckDb = null;
            if (group.Key.Target == Targets.Plexus)
            {
                // Paired by run: each Plexus run against the floor measured just before it.
                versusHttp = Stat.Of(list
                    .Select(p => (p, floor: runs.FirstOrDefault(f => f.Target == Targets.HttpFloor && f.Writers == p.Writers && f.Run == p.Run)))
                    .Where(x => x.floor is not null)
                    .Select(x => x.p.RowsPerSecond / x.floor!.RowsPerSecond));
                versusDuckDb = Stat.Of(list
                    .Select(p => (p, floor: runs.FirstOrDefault(f => f.Target == Targets.DuckDbAppender && f.Run == p.Run)))
                    .Where(x => x.floor is not null)
                    .Select(x => x.p.RowsPerSecond / x.floor!.RowsPerSecond));
            }

            summaries.Add(new Summary(
                group.Key.Target,
                group.Key.Writers,
                list.Count,
                Stat.Of(list.Select(r => r.RowsPerSecond))!,
                Stat.Of(list.Select(r => r.FieldValuesPerSecond))!,
                versusHttp,
                versusDuckDb,
                Stat.Of(list.Select(r => r.CpuSecondsPerMillionRows))!,
                Stat.Of(list.Select(r => r.CoresBusy))!,
                Stat.Of(list.Select(r => r.AllocatedBytesPerRow))!,
                Stat.Of(list.Select(r => r.GcPauseSeconds))!,
                Stat.Of(list.Select(r => r.JitSeconds * 1000))!,
                Stat.Of(list.Select(r => r.WorkingSetBeforeBytes / 1048576.0))!,
                Stat.Of(list.Select(r => r.PeakWorkingSetBytes / 1048576.0))!,
                Stat.Of(list.Where(r => r.RequestLatencyP50Ms is not null).Select(r => r.RequestLatencyP50Ms!.Value)),
                Stat.Of(list.Where(r => r.RequestLatencyP99Ms is not null).Select(r => r.RequestLatencyP99Ms!.Value)),
                Stat.Of(list.Where(r => r.Commits is not null).Select(r => (double)r.Commits!.Value)),
                Stat.Of(list.Where(r => r.LateRows is not null).Select(r => (double)r.LateRows!.Value)),
                Stat.Of(list.Where(r => r.CheckpointSeconds is not null).Select(r => r.CheckpointSeconds!.Value)),
                Stat.Of(list.Where(r => r.DatabaseBytes is not null).Select(r => (double)(r.DatabaseBytes!.Value + r.WalBytes!.Value))),
                Stat.Of(list.Where(r => r.BytesPerFieldValue is not null).Select(r => r.BytesPerFieldValue!.Value)),
                Stat.Of(list.Where(r => r.UsedBytesPerFieldValue is not null).Select(r => r.UsedBytesPerFieldValue!.Value))));
        }

        return summaries;
    }

    public static string Tables(IReadOnlyList<Summary> summaries)
    {
        var text = new StringBuilder();
        text.AppendLine("Throughput, median (min–max) over runs; ratios are paired per run");
        text.AppendLine();
        text.AppendLine("| target | writers | rows/s | field values/s | × HTTP floor | × DuckDB appender |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var s in summaries)
        {
            text.AppendLine(Invariant($"| {s.Target} | {s.Writers} | {s.RowsPerSecond.Format("N0")} | {s.FieldValuesPerSecond.Median:N0} | {Format(s.VersusHttpFloor, "F2")} | {Format(s.VersusDuckDbAppender, "F2")} |"));
        }

        text.AppendLine();
        text.AppendLine("Cost, median (min–max) over runs; CPU, memory and allocations are the whole process (clients, server, GC)");
        text.AppendLine();
        text.AppendLine("| target | writers | CPU s / M rows | cores busy | alloc B/row | GC pause s | JIT ms | WS before MiB | peak WS MiB | request p50 / p99 ms | commits | late rows | file MiB | file B/value | used B/value | checkpoint s |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var s in summaries)
        {
            string latency = s.RequestLatencyP50Ms is null ? "–" : Invariant($"{s.RequestLatencyP50Ms.Median:F1} / {s.RequestLatencyP99Ms!.Median:F1}");
            string disk = s.DataBytes is null ? "–" : Invariant($"{s.DataBytes.Median / 1048576.0:F2}");
            text.AppendLine(Invariant(
                $"| {s.Target} | {s.Writers} | {s.CpuSecondsPerMillionRows.Format("F2")} | {s.CoresBusy.Median:F2} | {s.AllocatedBytesPerRow.Median:N0} | {s.GcPauseSeconds.Median:F3} | {s.JitMilliseconds.Median:F0} | {s.WorkingSetBeforeMiB.Median:F0} | {s.PeakWorkingSetMiB.Format("F0")} | {latency} | {Median(s.Commits, "F0")} | {Format(s.LateRows, "N0")} | {disk} | {Format(s.BytesPerFieldValue, "F2")} | {Format(s.UsedBytesPerFieldValue, "F2")} | {Median(s.CheckpointSeconds, "F3")} |"));
        }

        return text.ToString();
    }

    public static async Task WriteJsonAsync(string path, LoadBenchOptions options, TsbsIotDataSet data, DateTimeOffset startedUtc, string duckDbVersion, IReadOnlyList<RunResult> runs, IReadOnlyList<Summary> summaries)
    {
        var document = new
        {
            Tool = "Plexus.LoadBench",
            StartedUtc = startedUtc,
            Machine = new
            {
                Environment.ProcessorCount,
                Os = RuntimeInformation.OSDescription,
                OsArchitecture = RuntimeInformation.OSArchitecture.ToString(),
                Framework = RuntimeInformation.FrameworkDescription,
                RuntimeInformation.RuntimeIdentifier,
                GCSettings.IsServerGC,
                ConcurrentGc = AppContext.TryGetSwitch("System.GC.Concurrent", out bool concurrent) ? concurrent : (bool?)null,
                DuckDbVersion = duckDbVersion,
            },
            Parameters = new
            {
                options.Trucks,
                options.Hours,
                IntervalSeconds = TsbsIotDataSet.Interval.TotalSeconds,
                Start = TsbsIotDataSet.Start,
                options.BatchSize,
                options.Writers,
                options.Runs,
                options.Seed,
                options.DuckDbFloor,
                data.Ticks,
                data.Rows,
                data.FieldValues,
                Batches = data.Batches.Length,
                data.BodyBytes,
                BytesPerLine = (double)data.BodyBytes / data.Rows,
                Chaos = "none: no dropped, missing, nil or out-of-order entries",
                NumericTags = "load_capacity, fuel_capacity, nominal_fuel_consumption sent as tags (TSBS's Influx serializer sends them as fields)",
            },
            Summary = summaries,
            Runs = runs,
        };

        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
        }

        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, document, JsonOptions);
    }

    private static int TargetOrder(string target) => target switch
    {
        Targets.HttpFloor => 0,
        Targets.Plexus => 1,
        Targets.DuckDbAppender => 2,
        _ => 3,
    };

    private static string Format(Stat? stat, string format) => stat is null ? "–" : stat.Format(format);

    private static string Median(Stat? stat, string format) => stat is null ? "–" : stat.Median.ToString(format, CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

internal sealed record Stat(double Median, double Min, double Max)
{
    public static Stat? Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        int middle = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new Stat(median, sorted[0], sorted[^1]);
    }

    public string Format(string format) =>
        Min == Max
            ? Median.ToString(format, CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{Median.ToString(format, CultureInfo.InvariantCulture)} ({Min.ToString(format, CultureInfo.InvariantCulture)}–{Max.ToString(format, CultureInfo.InvariantCulture)})");
}

internal sealed record Summary(
    string Target,
    int Writers,
    int Runs,
    Stat RowsPerSecond,
    Stat FieldValuesPerSecond,
    Stat? VersusHttpFloor,
    Stat? VersusDuckDbAppender,
    Stat CpuSecondsPerMillionRows,
    Stat CoresBusy,
    Stat AllocatedBytesPerRow,
    Stat GcPauseSeconds,
    Stat JitMilliseconds,
    Stat WorkingSetBeforeMiB,
    Stat PeakWorkingSetMiB,
    Stat? RequestLatencyP50Ms,
    Stat? RequestLatencyP99Ms,
    Stat? Commits,
    Stat? LateRows,
    Stat? CheckpointSeconds,
    Stat? DataBytes,
    Stat? BytesPerFieldValue,
    Stat? UsedBytesPerFieldValue);
