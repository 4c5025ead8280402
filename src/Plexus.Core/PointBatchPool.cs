using System.Collections.Concurrent;

namespace Plexus.Core;

/// <summary>
/// Reused <see cref="PointBatch"/>es: a batch keeps the arrays it grew, so a warm pool costs no allocation per
/// request or message. Thread-safe; <see cref="Rent"/> and <see cref="Return"/> are a pair.
/// </summary>
/// <remarks>
/// Policy. A returned batch is reset and kept unless
/// <list type="bullet">
/// <item>its arrays hold more than <see cref="MaxBatchBytes"/> (16 MiB): one unusual request or message must not pin
/// its arrays for the life of the process;</item>
/// <item>the pool already holds <see cref="MaxBatches"/> batches (4,352), or keeping it would take the bytes all
/// pooled batches hold past <see cref="MaxRetainedBytes"/> (64 MiB).</item>
/// </list>
/// Sizes are what the arrays hold (<see cref="PointBatch.RetainedBytes"/>: text arena and entries), not what the last
/// user filled. The two pools this replaces measured only the text in use when the batch came back, so a batch
/// grown by one huge request stayed whenever its last request was small; and neither bounded the pool as a whole
/// (16 batches of up to 32 MiB of text each in the HTTP write path, 4,352 of up to 1 MiB each for devices).
/// The numbers: 4,352 is one batch for each of the 4,096 MQTT QoS 0 messages that may wait for a commit plus the
/// ones awaited (fewer would allocate per message under load); 16 MiB holds the batch of a 10,000-line HTTP write
/// (the load benchmark's, about 9 MiB), which the device path's 1 MiB would have dropped and regrown every
/// request; 64 MiB total holds all 4,352 small device batches (about 5 KiB each) or a handful of large HTTP ones.
/// </remarks>
public sealed class PointBatchPool
{
    public const int DefaultMaxBatches = 4_352;
    public const long DefaultMaxRetainedBytes = 64L << 20;
    public const long DefaultMaxBatchBytes = 16L << 20;

    private readonly ConcurrentQueue<PointBatch> _batches = new();
    private readonly int _pointCapacity;
    private int _count;
    private long _retainedBytes;

    /// <param name="pointCapacity">Points a new batch has room for (see <see cref="PointBatch(int, int, int, int)"/>).</param>
    public PointBatchPool(int pointCapacity = 1024, int maxBatches = DefaultMaxBatches, long maxRetainedBytes = DefaultMaxRetainedBytes, long maxBatchBytes = DefaultMaxBatchBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pointCapacity);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatches);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBatchBytes);
        _pointCapacity = pointCapacity;
        MaxBatches = maxBatches;
        MaxRetainedBytes = maxRetainedBytes;
        MaxBatchBytes = maxBatchBytes;
    }

    public int MaxBatches { get; }

    public long MaxRetainedBytes { get; }

    public long MaxBatchBytes { get; }

    /// <summary>Batches waiting to be rented.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Bytes the waiting batches hold.</summary>
    public long RetainedBytes => Volatile.Read(ref _retainedBytes);

    /// <summary>An empty batch: a pooled one, or a new one when none is waiting.</summary>
    public PointBatch Rent()
    {
        if (_batches.TryDequeue(out PointBatch? batch))
        {
            Interlocked.Decrement(ref _count);
            Interlocked.Add(ref _retainedBytes, -batch.RetainedBytes);
            return batch;
        }

        return new PointBatch(_pointCapacity);
    }

    /// <summary>Gives a batch back (reset here); the policy above decides whether it is kept. Do not use it afterwards.</summary>
    public void Return(PointBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long size = batch.RetainedBytes;
        if (size > MaxBatchBytes)
        {
            return;
        }

        if (Interlocked.Increment(ref _count) > MaxBatches)
        {
            Interlocked.Decrement(ref _count);
            return;
        }

        if (Interlocked.Add(ref _retainedBytes, size) > MaxRetainedBytes)
        {
            Interlocked.Add(ref _retainedBytes, -size);
            Interlocked.Decrement(ref _count);
            return;
        }

        batch.Reset();
        _batches.Enqueue(batch);
    }
}
