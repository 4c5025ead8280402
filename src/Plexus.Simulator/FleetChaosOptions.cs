namespace Plexus.Simulator;

/// <summary>
/// The probabilities of TSBS's IoT "chaos" (<c>pkg/data/usecases/iot/batch_config.go</c>), applied per batch of
/// <see cref="BatchSize"/> entries and per entry exactly as <c>simulator.go</c> does. <see cref="Tsbs"/> holds the
/// TSBS values; <see cref="None"/> turns everything off; <see cref="WithoutMissing"/>,
/// <see cref="WithoutOutOfOrder"/> and <see cref="WithoutNulls"/> turn off one kind each.
/// </summary>
public sealed record FleetChaosOptions
{
    /// <summary>Entries per batch (TSBS <c>defaultBatchSize</c>).</summary>
    public const int BatchSize = 10;

    public static FleetChaosOptions Tsbs { get; } = new();

    public static FleetChaosOptions None { get; } = new()
    {
        BatchMissingChance = 0,
        BatchOutOfOrderChance = 0,
        EntryMissingChance = 0,
        EntryOutOfOrderChance = 0,
        ZeroFieldChance = 0,
        ZeroTagChance = 0,
    };

    /// <summary>A whole batch is dropped (<c>bMissingChance</c>).</summary>
    public double BatchMissingChance { get; init; } = 0.01;

    /// <summary>A whole batch is parked and emitted later (<c>bOutOfOrderChance</c>).</summary>
    public double BatchOutOfOrderChance { get; init; } = 0.05;

    /// <summary>When batches are parked, a new batch is the oldest parked one instead (<c>bInsertPreviousChance</c>).</summary>
    public double BatchInsertPreviousChance { get; init; } = 0.5;

    /// <summary>An entry is dropped (<c>eMissingChance</c>).</summary>
    public double EntryMissingChance { get; init; } = 0.1;

    /// <summary>An entry is parked and emitted later (<c>eOutOfOrderChance</c>).</summary>
    public double EntryOutOfOrderChance { get; init; } = 0.3;

    /// <summary>When entries are parked, a slot takes the oldest parked one (<c>eInsertPreviousChance</c>).</summary>
    public double EntryInsertPreviousChance { get; init; } = 0.5;

    /// <summary>An entry gets one field set to NULL (<c>zeroFieldChance</c>).</summary>
    public double ZeroFieldChance { get; init; } = 0.1;

    /// <summary>An entry gets one tag set to NULL (<c>zeroTagChance</c>).</summary>
    public double ZeroTagChance { get; init; } = 0.01;

    /// <summary>False when nothing can be dropped, reordered or nulled: the simulator then skips the batch machinery.</summary>
    public bool IsEnabled =>
        BatchMissingChance > 0 || BatchOutOfOrderChance > 0 || EntryMissingChance > 0 || EntryOutOfOrderChance > 0
        || ZeroFieldChance > 0 || ZeroTagChance > 0;

    public FleetChaosOptions WithoutMissing() => this with { BatchMissingChance = 0, EntryMissingChance = 0 };

    public FleetChaosOptions WithoutOutOfOrder() => this with { BatchOutOfOrderChance = 0, EntryOutOfOrderChance = 0 };

    public FleetChaosOptions WithoutNulls() => this with { ZeroFieldChance = 0, ZeroTagChance = 0 };

    internal void Validate()
    {
        Check(BatchMissingChance, nameof(BatchMissingChance));
        Check(BatchOutOfOrderChance, nameof(BatchOutOfOrderChance));
        Check(BatchInsertPreviousChance, nameof(BatchInsertPreviousChance));
        Check(EntryMissingChance, nameof(EntryMissingChance));
        Check(EntryOutOfOrderChance, nameof(EntryOutOfOrderChance));
        Check(EntryInsertPreviousChance, nameof(EntryInsertPreviousChance));
        Check(ZeroFieldChance, nameof(ZeroFieldChance));
        Check(ZeroTagChance, nameof(ZeroTagChance));
        if (BatchMissingChance >= 1 || EntryMissingChance >= 1)
        {
            throw new ArgumentException("a missing chance of 1 would drop every row", nameof(FleetSimulationOptions.Chaos));
        }

        if ((BatchOutOfOrderChance >= 1 && BatchInsertPreviousChance <= 0) || (EntryOutOfOrderChance >= 1 && EntryInsertPreviousChance <= 0))
        {
            throw new ArgumentException("everything parked and nothing re-inserted would hold the whole run in memory", nameof(FleetSimulationOptions.Chaos));
        }

        static void Check(double value, string name)
        {
            if (!(value >= 0 && value <= 1))
            {
                throw new ArgumentOutOfRangeException(name, value, "a chance must be between 0 and 1");
            }
        }
    }
}
