namespace Plexus.Core;

/// <summary>
/// Durations counted into fixed buckets, as a Prometheus histogram reports them: lock-free, no allocation per
/// observation (a scan of 13 bounds and three interlocked adds), safe from any thread.
/// </summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds, from half a millisecond to ten seconds; a last bucket takes the rest.</summary>
    public static readonly double[] BoundsSeconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

    private readonly long[] _counts = new long[BoundsSeconds.Length + 1];
    private long _count;
    private long _sumTicks;

    public void Observe(TimeSpan duration)
    {
        double seconds = duration.TotalSeconds;
        int bucket = 0;
        while (bucket < BoundsSeconds.Length && seconds > BoundsSeconds[bucket])
        {
            bucket++;
        }

        Interlocked.Increment(ref _counts[bucket]);
        Interlocked.Increment(ref _count);
        Interlocked.Add(ref _sumTicks, duration.Ticks);
    }

    public long Count => Interlocked.Read(ref _count);

    public double SumSeconds => TimeSpan.FromTicks(Interlocked.Read(ref _sumTicks)).TotalSeconds;

    /// <summary>Observations at or below each bound, cumulative as Prometheus's <c>le</c> buckets; the last is +Inf.</summary>
    public long[] Cumulative()
    {
        var cumulative = new long[_counts.Length];
        long running = 0;
        for (int i = 0; i < _counts.Length; i++)
        {
            running += Interlocked.Read(ref _counts[i]);
            cumulative[i] = running;
        }

        return cumulative;
    }
}
