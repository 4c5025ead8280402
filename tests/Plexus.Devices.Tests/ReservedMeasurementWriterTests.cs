using System.Text;
using Plexus.Core;
using Plexus.Storage.Writing;
using Plexus.TestKit;

namespace Plexus.Devices.Tests;

public sealed class ReservedMeasurementWriterTests
{
    [Fact]
    public async Task Batch_without_the_reserved_name_is_passed_on_as_it_is()
    {
        var inner = new CapturingWriter();
        var batch = new PointBuilder().Point("env", 1, null, ("v", 1.0)).Batch;

        await new ReservedMeasurementWriter(inner).WriteAsync("main", batch);

        Assert.Same(batch, inner.Batch);
    }

    [Fact]
    public async Task Reserved_points_are_refused_and_the_others_copied_with_every_field_type()
    {
        var inner = new CapturingWriter();
        var batch = new PointBuilder()
            .Point("devices", 1, null, ("v", 1.0))
            .Point("env", 2, [("device", "d1")], ("f", 1.5), ("i", 7L), ("u", 8UL), ("b", true), ("s", "text"))
            .Point("DEVICES", 3, null, ("v", 1.0))
            .Batch;

        var result = await new ReservedMeasurementWriter(inner).WriteAsync("main", batch);

        Assert.Equal(2, result.Rejected.Count);
        var kept = inner.Batch!;
        Assert.Equal(1, kept.Count);
        var point = kept[0];
        Assert.Equal("env", Encoding.UTF8.GetString(kept.Text(point.Measurement)));
        Assert.Equal(2, point.Timestamp);
        Assert.Equal("d1", Encoding.UTF8.GetString(kept.Text(kept.Tags(point)[0].Value)));
        var fields = kept.Fields(point).ToArray();
        Assert.Equal([FieldType.Float, FieldType.Integer, FieldType.UInteger, FieldType.Boolean, FieldType.String], fields.Select(f => f.Type));
        Assert.Equal(1.5, fields[0].FloatValue);
        Assert.Equal(7, fields[1].Bits);
        Assert.Equal(8UL, fields[2].UIntegerValue);
        Assert.True(fields[3].BooleanValue);
        Assert.Equal("text", Encoding.UTF8.GetString(kept.Text(fields[4].Text)));
    }

    [Fact]
    public async Task Other_namespaces_may_use_the_name()
    {
        var inner = new CapturingWriter();
        var batch = new PointBuilder().Point("devices", 1, null, ("v", 1.0)).Batch;

        var result = await new ReservedMeasurementWriter(inner).WriteAsync("fleet", batch);

        Assert.Same(batch, inner.Batch);
        Assert.Empty(result.Rejected);
    }

    private sealed class CapturingWriter : IPointWriter
    {
        public PointBatch? Batch { get; private set; }

        public Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default)
        {
            Batch = batch;
            return Task.FromResult(new WriteResult(batch.Count, []));
        }
    }
}
