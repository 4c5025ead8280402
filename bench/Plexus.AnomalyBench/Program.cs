using System.Diagnostics;
using System.Globalization;
using Plexus.Core;
using Plexus.Rules.Anomalies;
using Plexus.Rules.Expressions;

namespace Plexus.AnomalyBench;

/// <summary>
/// How well the anomaly detectors of rules and SQL (<see cref="AnomalyWindow"/>) find anomalies injected into simulated
/// fleet data: per detector, kind and threshold, the precision (flagged points that are about an injected anomaly) and
/// recall (injected anomalies with at least one flagged point), and the cost per point (docs/benchmarks.md#anomaly-detection).
/// </summary>
internal static class Program
{
    private const string Usage = "usage: Plexus.AnomalyBench [--devices 100] [--points 4000] [--window 60] [--seed 1] [--thresholds 3.5,4,5]";

    public static int Main(string[] args)
    {
        int devices = 100, points = 4000, window = AnomalyWindow.DefaultPoints, seed = 1;
        double[] thresholds = [3.5, 4, 5];
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : string.Empty;
            switch (args[i])
            {
                case "--devices": devices = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--points": points = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--window": window = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--seed": seed = int.Parse(value, CultureInfo.InvariantCulture); i++; break;
                case "--thresholds": thresholds = [.. value.Split(',').Select(t => double.Parse(t, CultureInfo.InvariantCulture))]; i++; break;
                default:
                    Console.Error.WriteLine($"unknown argument '{args[i]}'");
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fleet: {devices} devices × {points} points (one a minute; level, daily cycle, noise σ = {FleetSimulation.Noise}); window {window} points; seed {seed}"));
        Console.WriteLine();
        Console.WriteLine("| detector | kind | anomalies | threshold | flagged | precision | recall | mean delay (points) |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
        var cost = new Dictionary<AnomalyMethod, (long Points, TimeSpan Time)>();
        foreach (var method in new[] { AnomalyMethod.ZScore, AnomalyMethod.Ewma, AnomalyMethod.Mad, AnomalyMethod.Seasonal })
        {
            foreach (var kind in Enum.GetValues<AnomalyKind>())
            {
                var fleet = FleetSimulation.Generate(kind, devices, points, window, seed);
                var started = Stopwatch.GetTimestamp();
                var scores = fleet.Select(series => Score(method, window, series.Values)).ToArray();
                var elapsed = Stopwatch.GetElapsedTime(started);
                var (counted, total) = cost.GetValueOrDefault(method);
                cost[method] = (counted + ((long)devices * points), total + elapsed);
                foreach (double threshold in thresholds)
                {
                    var result = Evaluate(fleet, scores, threshold);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {Name(method)} | {Name(kind)} | {result.Anomalies} | {threshold} | {result.Flagged} | {Ratio(result.Precision)} | {result.Recall:F3} | {result.MeanDelay:F1} |"));
                }
            }
        }

        // A stuck sensor is not unusual in value, only in not changing: a rule over counts finds it.
        foreach (var kind in Enum.GetValues<AnomalyKind>())
        {
            var fleet = FleetSimulation.Generate(kind, devices, points, window, seed);
            var result = Evaluate(fleet, [.. fleet.Select(series => RuleFlags(StuckRule, series.Values))], 0.5);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| rule: `{StuckRule}` | {Name(kind)} | {result.Anomalies} | true | {result.Flagged} | {Ratio(result.Precision)} | {result.Recall:F3} | {result.MeanDelay:F1} |"));
        }

        Console.WriteLine();
        foreach (var (method, (counted, time)) in cost)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Name(method)}: {time.TotalNanoseconds / counted:F0} ns per point (window {window})"));
        }

        return 0;
    }

    private const string StuckRule = "count_within('30m') >= 30 AND count_within('30m', changed(value)) = 0";

    /// <summary>Evaluates a compiled rule condition over one device's readings (one a minute), as the engine does: 1 where true.</summary>
    private static double[] RuleFlags(string condition, double[] values)
    {
        var symbols = new RuleSymbols();
        var compiled = RuleCompiler.CompileCondition(condition, new RuleCompileOptions { Symbols = symbols });
        var batch = new PointBatch();
        var measurement = "telemetry"u8.ToArray();
        var field = "value"u8.ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            batch.BeginPoint(measurement, i + 1);
            batch.AddFloat(batch.AppendText(field), values[i]);
            batch.EndPoint(i * 60_000_000_000L);
        }

        var row = new RuleRow(symbols) { Memory = new RuleMemory(compiled.EndSlot) };
        var flags = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            row.Bind(batch, i, null);
            flags[i] = compiled.IsTrue(row) ? 1 : 0;
        }

        return flags;
    }

    private static double[] Score(AnomalyMethod method, int window, double[] values)
    {
        var detector = method == AnomalyMethod.Seasonal ? null : new AnomalyWindow(method, window);
        var seasonal = new SeasonalAnomalyWindow(window);
        var scores = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            scores[i] = detector?.Score(values[i]) ?? seasonal.Score(values[i], i * 60_000_000_000L);
        }

        return scores;
    }

    private readonly record struct Result(int Anomalies, int Flagged, double Precision, double Recall, double MeanDelay);

    private static Result Evaluate(SimulatedSeries[] fleet, double[][] scores, double threshold)
    {
        int anomalies = 0, detected = 0, flagged = 0, relevant = 0;
        long delays = 0;
        for (int d = 0; d < fleet.Length; d++)
        {
            var series = fleet[d];
            var about = new bool[series.Values.Length];
            foreach (var anomaly in series.Anomalies)
            {
                anomalies++;
                int end = Math.Min(anomaly.End, about.Length);
                for (int i = anomaly.Start; i < end; i++)
                {
                    about[i] = true;
                }

                for (int i = anomaly.Start; i < Math.Min(anomaly.DetectBy, about.Length); i++)
                {
                    if (scores[d][i] > threshold)
                    {
                        detected++;
                        delays += i - anomaly.Start;
                        break;
                    }
                }
            }

            for (int i = 0; i < about.Length; i++)
            {
                if (scores[d][i] > threshold)
                {
                    flagged++;
                    relevant += about[i] ? 1 : 0;
                }
            }
        }

        return new Result(anomalies, flagged, flagged == 0 ? double.NaN : (double)relevant / flagged, anomalies == 0 ? 0 : (double)detected / anomalies, detected == 0 ? 0 : (double)delays / detected);
    }

    /// <summary>A precision, or a dash when nothing was flagged (no flag is neither right nor wrong).</summary>
    private static string Ratio(double value) => double.IsNaN(value) ? "–" : value.ToString("F3", CultureInfo.InvariantCulture);

    private static string Name(AnomalyMethod method) => method switch
    {
        AnomalyMethod.ZScore => "zscore",
        AnomalyMethod.Ewma => "ewma",
        AnomalyMethod.Seasonal => "seasonal",
        _ => "mad",
    };

    private static string Name(AnomalyKind kind) => kind switch
    {
        AnomalyKind.Spike => "spike",
        AnomalyKind.LevelShift => "level shift",
        AnomalyKind.Stuck => "stuck",
        _ => "drift",
    };
}
