using System.Text;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Auth;

/// <summary>The device tag of HTTP writes with a device token: replaced on every point, and no allocation per point.</summary>
public sealed class DeviceAttributionTests
{
    private const int Points = 10_000;

    [Fact]
    public void Every_point_gets_the_device_tag_and_a_device_tag_of_the_line_is_replaced()
    {
        var source = new PointBatch();
        var builder = new PointBuilder(source);
        builder.Point("env", 1, [("DEVICE", "spoofed"), ("room", "cab")], ("temp", 20.5));
        builder.Point("env", 2, [], ("ok", true));
        var target = new PointBatch();

        DeviceAttribution.CopyWithDevice(source, "truck-7"u8, target);

        Assert.Equal(2, target.Count);
        for (int i = 0; i < target.Count; i++)
        {
            var tags = target.Tags(target[i]).ToArray().Select(t => (Encoding.UTF8.GetString(target.Text(t.Key)), Encoding.UTF8.GetString(target.Text(t.Value)))).ToList();
            Assert.Equal(1, tags.Count(t => string.Equals(t.Item1, "device", StringComparison.OrdinalIgnoreCase)));
            Assert.Contains(("device", "truck-7"), tags);
            Assert.Equal(source[i].Timestamp, target[i].Timestamp);
            Assert.Equal(source[i].FieldCount, target[i].FieldCount);
        }

        Assert.Equal(20.5, target.Fields(target[0])[0].FloatValue);
    }

    [Fact]
    public void Copying_ten_thousand_points_into_a_warm_batch_allocates_less_than_a_byte_per_point()
    {
        var source = new PointBatch(Points);
        var builder = new PointBuilder(source);
        for (int i = 0; i < Points; i++)
        {
            builder.Point("readings", i, [("name", "truck_" + (i % 100)), ("device", "x")], ("velocity", i * 0.5), ("status", (long)(i % 4)));
        }

        var target = new PointBatch();
        DeviceAttribution.CopyWithDevice(source, "truck-7"u8, target);
        target.Reset();

        long before = GC.GetAllocatedBytesForCurrentThread();
        DeviceAttribution.CopyWithDevice(source, "truck-7"u8, target);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Points, target.Count);
        Assert.True(allocated < Points, $"copying {Points} points allocated {allocated} bytes");
    }
}
