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

    public string DatabasePath => Path.Combine(DataDirectory, DatabaseFileName);
}
