using System.Text;
using Plexus.Broker.Devices;
using Plexus.Core;

namespace Plexus.Devices.Tests;

public sealed class LocationDecoderTests
{
    [Fact]
    public void Decoding_positions_allocates_nothing_once_the_batch_has_grown()
    {
        byte[] single = Encoding.UTF8.GetBytes("""{"lat": 52.52, "lon": 13.405, "alt": 34.5, "speed": 12.5, "heading": 270, "accuracy": 5, "ts": "2026-01-02T03:04:05.123+01:00"}""");
        byte[] many = Encoding.UTF8.GetBytes("""[{"lat": -33.86, "lon": 151.2, "ts": 1767323046000}, {"lat": 0, "lon": -180, "time": 1767323047000.5}]""");
        var batch = new PointBatch(16);
        for (int i = 0; i < 10; i++)
        {
            Decode(single, many, batch);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Decode(single, many, batch);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Times_are_epoch_milliseconds_or_iso_8601_with_an_offset_and_the_newest_position_is_reported()
    {
        var batch = new PointBatch(4);
        Assert.True(LocationDecoder.TryDecode(
            """[{"lat": 1, "lon": 2, "ts": "2026-01-02T04:04:05.5+01:00"}, {"lat": 3, "lon": 4, "ts": 1767323044000}]"""u8, "d1", 7, batch, out var newest, out string? error), error);

        Assert.Equal(1_767_323_045_500_000_000, batch[0].Timestamp);
        Assert.Equal(1_767_323_044_000_000_000, batch[1].Timestamp);
        Assert.Equal(new LocationFix(1, 2, 1_767_323_045_500_000_000), newest);
        Assert.True(LocationDecoder.TryDecode("""{"lat": 1, "lon": 2}"""u8, "d1", 7, batch, out newest, out _));
        Assert.Equal(7, newest.TimeNs);
    }

    private static void Decode(byte[] single, byte[] many, PointBatch batch)
    {
        batch.Reset();
        Assert.True(LocationDecoder.TryDecode(single, "truck-7", 1, batch, out _, out string? error), error);
        Assert.True(LocationDecoder.TryDecode(many, "truck-7", 1, batch, out _, out error), error);
    }
}
