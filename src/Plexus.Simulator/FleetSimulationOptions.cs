namespace Plexus.Simulator;

/// <summary>
/// What to simulate: how many trucks, over which time range, at which interval, from which seed, with how much
/// chaos. As in TSBS, the run has <c>floor((End − Start) / Interval)</c> ticks; tick k carries the timestamp
/// <c>Start + k·Interval</c>, so <see cref="End"/> itself is never a row's timestamp.
/// </summary>
public sealed record FleetSimulationOptions
{
    /// <summary>2016-01-01T00:00:00Z, TSBS's default <c>--timestamp-start</c>.</summary>
    public static readonly DateTimeOffset DefaultStart = new(2016, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The latest instant whose Unix nanoseconds fit in a long (2262-04-11T23:47:16.854775807Z).</summary>
    public static readonly DateTimeOffset MaxTimestamp = DateTimeOffset.UnixEpoch.AddTicks(long.MaxValue / 100);

    public int Trucks { get; init; } = 100;

    public DateTimeOffset Start { get; init; } = DefaultStart;

    public DateTimeOffset End { get; init; } = DefaultStart.AddHours(1);

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    public ulong Seed { get; init; } = 1;

    public FleetChaosOptions Chaos { get; init; } = FleetChaosOptions.Tsbs;

    /// <summary>Ticks in the run: <c>floor((End − Start) / Interval)</c> (TSBS <c>calculateEpochs</c>).</summary>
    public long Epochs => End <= Start || Interval <= TimeSpan.Zero ? 0 : (End - Start).Ticks / Interval.Ticks;

    /// <summary>Rows before any chaos: every truck, both measurements, every tick.</summary>
    public long TotalEntries => Epochs * Trucks * 2;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that is out of range.</summary>
    public void Validate()
    {
        if (Trucks < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Trucks), Trucks, "at least one truck is needed");
        }

        if (Interval <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "the interval must be positive");
        }

        if (End < Start)
        {
            throw new ArgumentException($"the end ({End:O}) is before the start ({Start:O})", nameof(End));
        }

        if (Start < DateTimeOffset.UnixEpoch || End > MaxTimestamp)
        {
            throw new ArgumentOutOfRangeException(nameof(Start), Start, "timestamps must lie between 1970-01-01 and 2262-04-11 (Unix nanoseconds in 64 bits)");
        }

        if (Epochs > long.MaxValue / 2 / Trucks)
        {
            throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "the run has more rows than a 64-bit count holds: use a longer interval or a shorter run");
        }

        ArgumentNullException.ThrowIfNull(Chaos);
        Chaos.Validate();
    }
}
