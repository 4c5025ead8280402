using DuckDB.NET.Data;
using Plexus.Core;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

/// <summary>The commit path allocates per commit, never per point: bytes are deterministic, so this is a test, not a benchmark.</summary>
public sealed class AllocationBudgetTests : IDisposable
{
    private const int Points = 10_000;
    private readonly TempDirectory _dir = new("plexus-alloc");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Committing_ten_thousand_points_of_known_series_allocates_less_than_a_byte_per_point()
    {
        using var connection = new DuckDBConnection($"DataSource={Path.Combine(_dir.Path, "alloc.duckdb")}");
        connection.Open();
        Catalog.EnsureCreated(connection);
        var committer = new GroupCommitter(connection, Catalog.Load(connection), SchemaLimits.Default);
        var batch = new PointBatch(Points);

        // Warm-up: creates the measurement, its columns and series, and JIT-compiles the path.
        Fill(batch, 0);
        committer.Commit([new WriteRequest("main", batch)]);
        Fill(batch, 1);
        committer.Commit([new WriteRequest("main", batch)]);

        Fill(batch, 2);
        var request = new WriteRequest("main", batch);
        long before = GC.GetAllocatedBytesForCurrentThread();
        committer.Commit([request]);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Points, request.Written);
        Assert.True(allocated < Points, $"commit of {Points} points allocated {allocated} bytes");
    }

    [Fact]
    public void Logging_and_decoding_ten_thousand_points_allocates_less_than_a_byte_per_point()
    {
        var batch = new PointBatch(Points);
        var log = new LogBuffer();
        var segments = new ApplySegments();

        // Warm-up: grows the buffers and the decoded batch to size, and JIT-compiles the path.
        Fill(batch, 0);
        for (int round = 0; round < 2; round++)
        {
            log.Clear();
            log.Encode("main", batch);
            segments.Clear();
            LogBuffer.Decode(log.Written, segments);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        log.Clear();
        log.Encode("main", batch);
        segments.Clear();
        LogBuffer.Decode(log.Written, segments);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        var decoded = Assert.Single(segments.Requests).Batch;
        Assert.Equal(Points, decoded.Count);
        Assert.Equal(batch[Points - 1].Timestamp, decoded[Points - 1].Timestamp);
        Assert.Equal(batch.Fields(batch[7])[0].FloatValue, decoded.Fields(decoded[7])[0].FloatValue);
        Assert.True(allocated < Points, $"logging and decoding {Points} points allocated {allocated} bytes");
    }

    private static void Fill(PointBatch batch, int round)
    {
        batch.Reset();
        var builder = new PointBuilder(batch);
        for (int i = 0; i < Points; i++)
        {
            builder.Point("readings", ((long)round * Points) + i, [("name", "truck_" + (i % 100)), ("fleet", "East")], ("velocity", i * 0.5), ("fuel", 0.25), ("status", (long)(i % 4)));
        }
    }
}
