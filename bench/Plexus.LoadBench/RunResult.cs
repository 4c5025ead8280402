namespace Plexus.LoadBench;

/// <summary>One timed load of one target; written to the JSON file as is.</summary>
internal sealed record RunResult(
    string Target,
    int Writers,
    int Run,
    long Rows,
    long FieldValues,
    double WallSeconds,
    double RowsPerSecond,
    double FieldValuesPerSecond,
    double CpuSeconds,
    double CpuSecondsPerMillionRows,
    double CoresBusy,
    long WorkingSetBeforeBytes,
    long PeakWorkingSetBytes,
    bool PeakIsKernelHighWaterMark,
    long AllocatedBytes,
    double AllocatedBytesPerRow,
    double GcPauseSeconds,
    double JitSeconds,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections,
    double? RequestLatencyP50Ms,
    double? RequestLatencyP99Ms,
    double? RequestLatencyMaxMs,
    long? Commits,
    double? CheckpointSeconds,
    long? DatabaseBytes,
    long? WalBytes,
    long? OtherFileBytes,
    double? BytesPerFieldValue,
    long? UsedBlockBytes,
    double? UsedBytesPerFieldValue,
    string? DataDirectory)
{
    /// <summary>Plexus only: rows that took the store's merge path because a newer row of their series was stored first.</summary>
    public long? LateRows { get; init; }

    /// <summary>Plexus only: the rules defined during the run (the mix of RuleMix).</summary>
    public int Rules { get; init; }

    /// <summary>With rules: seconds from the last acknowledgement until the engine had evaluated every point.</summary>
    public double? EngineCatchUpSeconds { get; init; }

    /// <summary>With rules: alarms open when the engine caught up.</summary>
    public int? OpenAlarms { get; init; }

    /// <summary>With rules: webhook calls received, and from the acknowledgement of the batch holding the triggering point to the call's arrival.</summary>
    public int? WebhookCalls { get; init; }

    public double? WebhookLatencyP50Ms { get; init; }

    public double? WebhookLatencyP99Ms { get; init; }

    public double? WebhookLatencyMaxMs { get; init; }

    public static RunResult Create(string target, int writers, int run, long rows, long fieldValues, TimeSpan wall, ResourceUsage usage,
        HttpLoadResult? load, long? commits, TimeSpan? checkpoint, DiskUsage? bytes, string? dataDirectory)
    {
        double seconds = wall.TotalSeconds;
        return new RunResult(
            target, writers, run, rows, fieldValues, seconds,
            RowsPerSecond: rows / seconds,
            FieldValuesPerSecond: fieldValues / seconds,
            usage.CpuSeconds,
            CpuSecondsPerMillionRows: usage.CpuSeconds / (rows / 1e6),
            CoresBusy: usage.CpuSeconds / seconds,
            usage.WorkingSetBeforeBytes,
            usage.PeakWorkingSetBytes,
            usage.PeakIsKernelHighWaterMark,
            usage.AllocatedBytes,
            AllocatedBytesPerRow: (double)usage.AllocatedBytes / rows,
            usage.GcPauseSeconds,
            usage.JitSeconds,
            usage.Gen0Collections,
            usage.Gen1Collections,
            usage.Gen2Collections,
            load?.LatencyP50Ms,
            load?.LatencyP99Ms,
            load?.LatencyMaxMs,
            commits,
            checkpoint?.TotalSeconds,
            bytes?.DatabaseBytes,
            bytes?.WalBytes,
            bytes?.OtherBytes,
            BytesPerFieldValue: bytes is null ? null : (double)bytes.DataBytes / fieldValues,
            bytes?.UsedBlockBytes,
            UsedBytesPerFieldValue: bytes?.UsedBlockBytes is { } used ? (double)used / fieldValues : null,
            dataDirectory);
    }
}
