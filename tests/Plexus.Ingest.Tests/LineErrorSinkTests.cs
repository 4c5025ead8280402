using Plexus.Core;

namespace Plexus.Ingest.Tests;

public sealed class LineErrorSinkTests
{
    [Fact]
    public void Sink_keeps_the_first_errors_up_to_its_capacity_and_counts_all()
    {
        var sink = new LineErrorSink(capacity: 2);
        sink.Add(Error(1, "first"), "a"u8);
        sink.Add(Error(2, "second"), "b"u8);
        Assert.True(sink.IsFull);
        Assert.False(sink.IsTruncated);

        sink.Add(Error(3, "third"), "c"u8);
        sink.AddCountOnly();

        Assert.Equal(4, sink.Count);
        Assert.Equal(["first", "second"], sink.Errors.Select(e => e.Reason));
        Assert.Equal([new LineError(1, "a", "first"), new LineError(2, "b", "second")], sink.Errors);
        Assert.Equal(Error(1, "first"), sink.First);
        Assert.True(sink.IsTruncated);
    }

    [Fact]
    public void Reset_forgets_errors_and_count()
    {
        var sink = new LineErrorSink();
        sink.Add(Error(1, "bad"), "a"u8);
        sink.Reset();

        Assert.Equal(0, sink.Count);
        Assert.Equal(default, sink.First);
        Assert.Empty(sink.Errors);
        Assert.Equal(LineErrorSink.DefaultCapacity, sink.Capacity);
    }

    [Fact]
    public void Sink_with_no_capacity_only_counts()
    {
        var sink = new LineErrorSink(capacity: 0);
        sink.Add(Error(1, "bad"), "a"u8);
        Assert.True(sink.IsFull);
        Assert.Equal(1, sink.Count);
        Assert.Empty(sink.Errors);
    }

    private static IngestError Error(int line, string reason) => new(IngestErrorKind.Syntax, null, line, reason);
}
