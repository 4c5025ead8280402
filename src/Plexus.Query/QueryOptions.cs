namespace Plexus.Query;

public sealed class QueryOptions
{
    /// <summary>Default byte budget of one answer: large enough for a dashboard's or a notebook's pull, small enough that a mistaken <c>SELECT *</c> cannot fill memory or the network.</summary>
    public const long DefaultMaxBytes = 64L * 1024 * 1024;

    /// <summary>A query still running after this is interrupted and answered with a timeout error.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Rows returned at most; the result says it was truncated when there were more.</summary>
    public int MaxRows { get; init; } = 100_000;

    /// <summary>Bytes one answer may hold (JSON or CSV as sent); past it the answer ends, flagged truncated.</summary>
    public long MaxBytes { get; init; } = DefaultMaxBytes;

    /// <summary>
    /// Queries running at once. Each runs on its own thread and the engine spreads each over its worker threads, so
    /// more than a few per core only shares the same CPU while holding more memory.
    /// </summary>
    public int MaxConcurrent { get; init; } = DefaultMaxConcurrent;

    /// <summary>How long a query waits for a free slot before it is answered 503 with Retry-After.</summary>
    public TimeSpan QueueWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Two per core, at least four.</summary>
    public static int DefaultMaxConcurrent => Math.Max(4, 2 * Environment.ProcessorCount);
}
