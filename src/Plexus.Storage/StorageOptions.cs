namespace Plexus.Storage;

public sealed class StorageOptions
{
    public const string DatabaseFileName = "plexus.duckdb";

    /// <summary>The data folder: the database file, its write-ahead log and the hashed admin token live here.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Most points one group commit takes; bounds commit latency and the writer's memory.</summary>
    public int MaxPointsPerCommit { get; init; } = 250_000;

    /// <summary>Requests waiting for the writer before callers are made to wait (back-pressure).</summary>
    public int MaxQueuedWrites { get; init; } = 256;

    /// <summary>DuckDB memory limit, e.g. "2GB"; null leaves DuckDB's default (80 % of RAM).</summary>
    public string? MemoryLimit { get; init; }

    /// <summary>DuckDB worker threads; null means one per core.</summary>
    public int? Threads { get; init; }

    /// <summary>
    /// Acknowledge writes once they are synced to Plexus's write log (`plexus.log`) and apply them to DuckDB
    /// in larger transactions behind it; false commits every group to DuckDB before acknowledging it.
    /// </summary>
    public bool WriteLog { get; init; } = true;

    /// <summary>Longest time a logged write waits before it is applied to DuckDB (readers never wait for it: a query applies the log first).</summary>
    public TimeSpan LogApplyInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Logged points that trigger an apply before <see cref="LogApplyInterval"/> is up.</summary>
    public int MaxPointsPerApply { get; init; } = 20_000;

    /// <summary>
    /// Groups of at least this many points skip the write log and are committed to DuckDB directly: a
    /// commit's fixed cost (~1.5 ms) is small beside theirs, and logging would only add copying.
    /// </summary>
    public int MinPointsForDirectCommit { get; init; } = 2_000;

    /// <summary>How far writes may grow the schema (namespaces, measurements, columns, series); see <see cref="Storage.SchemaLimits"/>.</summary>
    public SchemaLimits SchemaLimits { get; init; } = SchemaLimits.Default;

    /// <summary>
    /// Longest time a new read connection waits for acknowledged writes to be applied; past it, it is refused
    /// (<see cref="StoreUnavailableException"/>) rather than reading without them. While applying fails (a full
    /// disk) it is refused at once.
    /// </summary>
    public TimeSpan ReadWaitTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When closed time partitions are compacted into Parquet files (the cold tier).</summary>
    public Cold.ColdTierOptions ColdTier { get; init; } = new();

    /// <summary>The write log's file operations; tests replace them to make a write, a sync or a truncation fail.</summary>
    internal Writing.LogFileOperations LogFile { get; init; } = Writing.LogFileOperations.Real;

    /// <summary>Bytes free on the disk that holds a folder; tests replace it to make a backup find the disk full.</summary>
    internal Func<string, long> FreeSpace { get; init; } = folder => new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace;

    public string DatabasePath => Path.Combine(DataDirectory, DatabaseFileName);

    /// <summary>The writer's clock: when the log is applied, when a failing store is retried, how long a reader waits.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
