using System.Text;
using Plexus.Core;
using Plexus.TestKit;

namespace Plexus.Pipeline.Tests;

public sealed class ReservedMeasurementGuardTests
{
    private readonly ReservedMeasurementGuard _guard = new();

    [Fact]
    public void Batch_without_the_reserved_name_is_passed_on_as_it_is()
    {
        var batch = new PointBuilder().Point("env", 1, null, ("v", 1.0)).Batch;
        List<LineError>? refused = [];

        Assert.Same(batch, _guard.Check("main", batch, ref refused));
        Assert.Empty(refused!);
    }

    [Fact]
    public void Reserved_points_are_refused_and_the_others_copied_with_every_field_type()
    {
        var batch = new PointBuilder()
            .Point("devices", 1, null, ("v", 1.0))
            .Point("env", 2, [("device", "d1")], ("f", 1.5), ("i", 7L), ("u", 8UL), ("b", true), ("s", "text"))
            .Point("DEVICES", 3, null, ("v", 1.0))
            .Batch;
        List<LineError>? refused = [];

        var kept = _guard.Check("main", batch, ref refused);

        Assert.Equal(2, refused!.Count);
        Assert.Contains("reserved for the device registry", refused[0].Reason, StringComparison.Ordinal);
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
    public void Other_namespaces_may_use_the_name()
    {
        var batch = new PointBuilder().Point("devices", 1, null, ("v", 1.0)).Batch;
        List<LineError>? refused = [];

        Assert.Same(batch, _guard.Check("fleet", batch, ref refused));
        Assert.Empty(refused!);
    }
}
