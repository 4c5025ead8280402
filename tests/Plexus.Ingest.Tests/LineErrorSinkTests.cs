using Plexus.Core;

namespace Plexus.Ingest.Tests;

public sealed class LineErrorSinkTests
{
    [Fact]
    public void Sink_keeps_the_first_errors_up_to_its_capacity_and_counts_all()
    {
        var sink = new LineErrorSink(capacity: 2);
        sink.Add(1, "a"u8, "first");
        sink.Add(new LineError(2, "b", "second"));
        Assert.True(sink.IsFull);
        Assert.False(sink.IsTruncated);

        sink.Add(3, "c"u8, "third");
        sink.AddCountOnly();

        Assert.Equal(4, sink.Count);
        Assert.Equal(["first", "second"], sink.Errors.Select(e => e.Reason));
        Assert.True(sink.IsTruncated);
    }

    [Fact]
    public void Reset_forgets_errors_and_count()
    {
        var sink = new LineErrorSink();
        sink.Add(1, "a"u8, "bad");
        sink.Reset();

        Assert.Equal(0, sink.Count);
        Assert.Empty(sink.Errors);
        Assert.Equal(LineErrorSink.DefaultCapacity, sink.Capacity);
    }

    [Fact]
    public void Sink_with_no_capacity_only_counts()
    {
        var sink = new LineErrorSink(capacity: 0);
        sink.Add(1, "a"u8, "bad");
        Assert.True(sink.IsFull);
        Assert.Equal(1, sink.Count);
        Assert.Empty(sink.Errors);
    }
}
