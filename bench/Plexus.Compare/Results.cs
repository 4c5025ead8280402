namespace Plexus.Compare;

internal sealed record IngestRun(string System, int Writers, int Run, long Rows, double Seconds, double RowsPerSecond, double ValuesPerSecond, double CpuSeconds, long PeakRssBytes, int Requests);

internal sealed record QueryResult(string Name, string? Text, string Note, int? Rows, double? MedianMs, double? MinMs, double? MaxMs, IReadOnlyList<double> SamplesMs, string? Error);

internal sealed class SystemResult
{
    public required string Name { get; init; }

    public required string Version { get; init; }

    public string SettleDefinition { get; set; } = "";

    public List<IngestRun> Runs { get; } = [];

    public long? StoredRows { get; set; }

    public long? DiskBytes { get; set; }

    public long? DiskApparentBytes { get; set; }

    public double? BytesPerValue { get; set; }

    public long? PeakRssBytesWithQueries { get; set; }

    public double? QueryPhaseCpuSeconds { get; set; }

    public List<QueryResult> Queries { get; } = [];

    public List<string> Errors { get; } = [];
}

internal sealed record Summary(double Median, double Min, double Max)
{
    public static Summary? Of(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        return new Summary(median, sorted[0], sorted[^1]);
    }
}
