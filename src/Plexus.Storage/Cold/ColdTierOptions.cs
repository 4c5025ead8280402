namespace Plexus.Storage.Cold;

/// <summary>When closed time partitions move from the hot store (DuckDB tables) to Parquet files (docs/storage.md#hot-and-cold-tiers).</summary>
public sealed class ColdTierOptions
{
    public static readonly TimeSpan DefaultPartitionSpan = TimeSpan.FromDays(1);

    public static readonly TimeSpan DefaultGrace = TimeSpan.FromHours(1);

    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromMinutes(10);

    /// <summary>The smallest span: a partition per minute already makes thousands of files a week per measurement.</summary>
    public static readonly TimeSpan MinPartitionSpan = TimeSpan.FromMinutes(1);

    /// <summary>False keeps every row in the hot store; partitions already compacted stay cold and readable.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The time range of one partition, aligned to the Unix epoch (UTC): a day by default.</summary>
    public TimeSpan PartitionSpan { get; init; } = DefaultPartitionSpan;

    /// <summary>How long after its end a partition still takes late points in the hot store before it is compacted.</summary>
    public TimeSpan Grace { get; init; } = DefaultGrace;

    /// <summary>
    /// How often closed partitions are looked for; the first look is one interval after the start, so a server that
    /// runs for less than that never compacts.
    /// </summary>
    public TimeSpan CheckInterval { get; init; } = DefaultCheckInterval;

    /// <summary>A description of what is wrong with these options, or null.</summary>
    public string? Validate()
    {
        if (PartitionSpan < MinPartitionSpan || PartitionSpan.Ticks % TimeSpan.TicksPerSecond != 0)
        {
            return $"the partition span {PartitionSpan} must be whole seconds and at least {MinPartitionSpan} (--partition-span)";
        }

        if (Grace < TimeSpan.Zero)
        {
            return $"the compaction grace {Grace} must not be negative (--compaction-grace)";
        }

        if (CheckInterval <= TimeSpan.Zero)
        {
            return $"the compaction check interval {CheckInterval} must be positive (--compaction-check-interval)";
        }

        return null;
    }

    internal long PartitionSpanNs => PartitionSpan.Ticks * 100;

    /// <summary>The start of the partition that holds <paramref name="timeNs"/> (floor, also before 1970).</summary>
    internal long PartitionStart(long timeNs)
    {
        long span = PartitionSpanNs;
        long remainder = ((timeNs % span) + span) % span;
        return timeNs - remainder;
    }
}
