using Plexus.Simulator.Tests.TestSupport;

namespace Plexus.Simulator.Tests.Output;

/// <summary>Allocation budget: once warm, simulating and formatting rows allocates nothing per row (bytes are deterministic, timings are not).</summary>
public sealed class AllocationTests
{
    [Theory]
    [InlineData(FleetFormat.LineProtocol)]
    [InlineData(FleetFormat.Csv)]
    [InlineData(FleetFormat.JsonLines)]
    public void A_hundred_thousand_rows_with_chaos_allocate_almost_nothing(FleetFormat format)
    {
        var simulator = new FleetSimulator(Fleet.Options(trucks: 100, TimeSpan.FromHours(24)));
        using var writer = new FleetRowWriter(Stream.Null, FleetFormatters.Create(format, simulator.Trucks));

        // Warm up: queues reach their working size, every path is compiled.
        for (int i = 0; i < 200_000 && simulator.TryRead(out var row); i++)
        {
            writer.Write(row);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000 && simulator.TryRead(out var row); i++)
        {
            writer.Write(row);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(300_000, writer.Rows);
        // A parked-batch array (10 rows, ~750 B) may still be added to the pool once in a while; per row it is nothing.
        Assert.True(allocated < 8 * 1024, $"{allocated} bytes allocated for 100,000 rows");
    }
}
