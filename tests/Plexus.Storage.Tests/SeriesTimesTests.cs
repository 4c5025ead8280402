using Plexus.Storage.Schema;

namespace Plexus.Storage.Tests;

public sealed class SeriesTimesTests
{
    [Fact]
    public void A_new_series_holds_nothing_until_times_are_recorded()
    {
        var times = new SeriesTimes(long.MinValue);
        Assert.False(times.MayHold(5));

        times.Record(5);

        Assert.True(times.MayHold(5));
        Assert.False(times.MayHold(4));
        Assert.False(times.MayHold(6));
    }

    [Fact]
    public void A_series_read_back_from_disk_may_hold_anything_up_to_its_newest_time()
    {
        var times = new SeriesTimes(100);

        Assert.True(times.MayHold(100));
        Assert.True(times.MayHold(-5));
        Assert.False(times.MayHold(101));
    }

    [Fact]
    public void Out_of_order_times_inside_the_window_are_known_exactly()
    {
        var times = new SeriesTimes(long.MinValue);
        foreach (long t in new long[] { 10, 30, 20, 50 })
        {
            times.Record(t);
        }

        Assert.True(times.MayHold(20));
        Assert.False(times.MayHold(40));
        Assert.False(times.MayHold(25));
    }

    [Fact]
    public void When_the_window_overflows_older_times_become_maybe_but_never_wrongly_absent()
    {
        var times = new SeriesTimes(long.MinValue);
        var stored = new HashSet<long>();
        var random = new Random(7);
        for (int i = 0; i < 5_000; i++)
        {
            long t = (i * 10) + random.Next(-300, 300);
            times.Record(t);
            stored.Add(t);
        }

        // The one property that matters: a stored time is never reported absent.
        for (long t = -400; t < 50_400; t++)
        {
            if (stored.Contains(t))
            {
                Assert.True(times.MayHold(t), $"time {t} is stored but was reported absent");
            }
        }

        Assert.False(times.MayHold(times.Max + 1));
    }

    [Fact]
    public void A_window_that_slid_far_still_knows_its_last_times_exactly_and_covers_the_rest()
    {
        // In-order times (the device case) slide the window through its array many times over; out-of-order ones
        // in between exercise insertion after the window moved.
        var times = new SeriesTimes(long.MinValue);
        var stored = new List<long>();
        for (long t = 1; t <= 1_000; t++)
        {
            long time = t * 10;
            times.Record(time);
            stored.Add(time);
            if (t % 7 == 0)
            {
                times.Record(time - 5);
                stored.Add(time - 5);
            }
        }

        stored.Sort();
        long[] recent = [.. stored.TakeLast(SeriesTimes.WindowSize)];
        Assert.Equal(10_000, times.Max);
        Assert.True(times.CoveredAbove < recent[0], $"covered above {times.CoveredAbove}, oldest in the window {recent[0]}");
        foreach (long t in stored)
        {
            Assert.True(times.MayHold(t), $"time {t} is stored but was reported absent");
        }

        // Inside the window, times never recorded are known to be absent.
        for (long t = recent[0] + 1; t < 10_000; t++)
        {
            if (Array.BinarySearch(recent, t) < 0 && t > times.CoveredAbove)
            {
                Assert.False(times.MayHold(t), $"time {t} was never stored but may be held");
            }
        }

        Assert.False(times.MayHold(10_001));
    }
}
