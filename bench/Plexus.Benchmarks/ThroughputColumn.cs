using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Plexus.Benchmarks;

/// <summary>
/// Turns a benchmark's mean time per operation into a rate (lines/s or MB/s) for a payload of known size, so
/// that results read as throughput and not only as nanoseconds.
/// </summary>
public sealed class ThroughputColumn(string name, double unitsPerOperation, double divisor) : IColumn
{
    public static ThroughputColumn LinesPerSecond(int lines) => new("Lines/s", lines, 1);

    public static ThroughputColumn MegabytesPerSecond(int bytes) => new("MB/s", bytes, 1_000_000);

    public string Id => nameof(ThroughputColumn) + name;

    public string ColumnName => name;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => $"{name} for the whole payload, from the mean time per operation";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        ArgumentNullException.ThrowIfNull(summary);
        BenchmarkReport? report = summary[benchmarkCase];
        double? meanNanoseconds = report?.ResultStatistics?.Mean;
        if (meanNanoseconds is not > 0)
        {
            return "-";
        }

        double perSecond = unitsPerOperation / (meanNanoseconds.Value / 1e9) / divisor;
        return perSecond.ToString("N0", CultureInfo.InvariantCulture);
    }

    public bool IsAvailable(Summary summary) => true;

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public override string ToString() => ColumnName;
}
