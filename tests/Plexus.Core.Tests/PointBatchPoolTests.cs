using System.Text;

namespace Plexus.Core.Tests;

public sealed class PointBatchPoolTests
{
    [Fact]
    public void Returned_batch_comes_back_reset_with_the_arrays_it_grew()
    {
        var pool = new PointBatchPool(pointCapacity: 16);
        PointBatch batch = pool.Rent();
        Fill(batch, points: 200);
        long grown = batch.RetainedBytes;

        pool.Return(batch);

        Assert.Equal(1, pool.Count);
        Assert.Equal(grown, pool.RetainedBytes);
        PointBatch again = pool.Rent();
        Assert.Same(batch, again);
        Assert.Equal(0, again.Count);
        Assert.Equal(0, again.TextBytes);
        Assert.Equal(grown, again.RetainedBytes);
        Assert.Equal(0, pool.Count);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.NotSame(batch, pool.Rent());
    }

    [Fact]
    public void Batch_whose_arrays_outgrew_the_per_batch_limit_is_dropped_even_when_its_last_use_was_small()
    {
        var pool = new PointBatchPool(pointCapacity: 16, maxBatchBytes: 64 * 1024);
        PointBatch batch = pool.Rent();
        Fill(batch, points: 2_000);
        Assert.True(batch.RetainedBytes > pool.MaxBatchBytes);

        // The policies this pool replaced measured the text in use at return: a batch that once grew, then served a
        // small request, was kept with all its arrays.
        batch.Reset();
        Fill(batch, points: 1);
        pool.Return(batch);

        Assert.Equal(0, pool.Count);
        Assert.Equal(0, pool.RetainedBytes);
        Assert.NotSame(batch, pool.Rent());
    }

    [Fact]
    public void Batches_beyond_the_count_limit_are_dropped()
    {
        var pool = new PointBatchPool(pointCapacity: 16, maxBatches: 2);
        PointBatch[] batches = [pool.Rent(), pool.Rent(), pool.Rent()];

        foreach (PointBatch batch in batches)
        {
            pool.Return(batch);
        }

        Assert.Equal(2, pool.Count);
        Assert.Same(batches[0], pool.Rent());
        Assert.Same(batches[1], pool.Rent());
        Assert.NotSame(batches[2], pool.Rent());
    }

    [Fact]
    public void Batches_past_the_total_byte_limit_are_dropped_and_renting_one_makes_room_again()
    {
        long one = new PointBatch(16).RetainedBytes;
        var pool = new PointBatchPool(pointCapacity: 16, maxRetainedBytes: (2 * one) + (one / 2));
        PointBatch[] batches = [pool.Rent(), pool.Rent(), pool.Rent()];

        foreach (PointBatch batch in batches)
        {
            pool.Return(batch);
        }

        Assert.Equal(2, pool.Count);
        Assert.Equal(2 * one, pool.RetainedBytes);
        Assert.Same(batches[0], pool.Rent());
        pool.Return(batches[2]);
        Assert.Equal(2, pool.Count);
        Assert.Same(batches[1], pool.Rent());
        Assert.Same(batches[2], pool.Rent());
    }

    /// <summary>The numbers the policy is argued from (see <see cref="PointBatchPool"/>'s remarks), checked.</summary>
    [Fact]
    public void Default_policy_keeps_a_ten_thousand_line_write_and_every_small_device_batch()
    {
        var http = new PointBatchPool();
        PointBatch write = http.Rent();
        for (int i = 0; i < 10_000; i++)
        {
            // A TSBS readings line: eight tags, seven float fields.
            BatchText.Add(
                write,
                "readings",
                i + 1,
                i,
                [("name", $"truck_{i % 200}"), ("fleet", "South"), ("driver", "Trish"), ("model", "H-2"), ("device_version", "v2.3"), ("load_capacity", "1500"), ("fuel_capacity", "150"), ("nominal_fuel_consumption", "12")],
                ("latitude", 72.45), ("longitude", 68.83), ("elevation", 1239.0), ("velocity", 0.0), ("heading", 221.0), ("grade", 0.0), ("fuel_consumption", 25.0));
        }

        http.Return(write);
        Assert.Equal(1, http.Count);

        long device = new PointBatch(pointCapacity: 16).RetainedBytes;
        Assert.True(device * PointBatchPool.DefaultMaxBatches <= PointBatchPool.DefaultMaxRetainedBytes, $"{PointBatchPool.DefaultMaxBatches} device batches of {device} bytes");
    }

    [Fact]
    public void Concurrent_renters_never_get_the_same_batch_and_the_counts_add_up()
    {
        var pool = new PointBatchPool(pointCapacity: 16, maxBatches: 8);
        var inUse = new HashSet<PointBatch>(ReferenceEqualityComparer.Instance);
        var sync = new Lock();
        Parallel.For(0, 10_000, new ParallelOptions { MaxDegreeOfParallelism = 4 }, _ =>
        {
            PointBatch batch = pool.Rent();
            lock (sync)
            {
                Assert.True(inUse.Add(batch), "a batch was rented twice");
            }

            Fill(batch, points: 1);
            lock (sync)
            {
                inUse.Remove(batch);
            }

            pool.Return(batch);
        });

        Assert.InRange(pool.Count, 1, 8);
        Assert.Equal(pool.Count * new PointBatch(16).RetainedBytes, pool.RetainedBytes);
    }

    private static void Fill(PointBatch batch, int points)
    {
        for (int i = 0; i < points; i++)
        {
            BatchText.Add(batch, "m", i + 1, i, [("host", $"h{i}")], ("v", (double)i), ("s", Encoding.UTF8.GetString(new byte[32])));
        }
    }
}
