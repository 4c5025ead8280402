using Plexus.Core;

namespace Plexus.Storage.Writing;

/// <summary>What became of a batch: how many points are now durable, and why the others were refused.</summary>
public sealed record WriteResult(int PointsWritten, IReadOnlyList<LineError> Rejected)
{
    public static readonly WriteResult Empty = new(0, []);
}

/// <summary>Accepts batches of points and completes once they are durable on disk.</summary>
public interface IPointWriter
{
    /// <summary>
    /// Stores the points of <paramref name="batch"/> in namespace <paramref name="ns"/>. The task completes
    /// after the commit that holds them is synced; the caller must not touch the batch until then.
    /// </summary>
    Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default);
}

internal sealed class WriteRequest
{
    public WriteRequest(string ns, PointBatch batch, bool limitsApply = true, IngestOrigin origin = default)
    {
        Namespace = ns;
        Batch = batch;
        LimitsApply = limitsApply;
        Origin = origin;
    }

    /// <summary>Where the points came from, for the commit observer.</summary>
    public IngestOrigin Origin { get; }

    /// <summary>Indices of the points refused, ascending; null when none was.</summary>
    public List<int>? RefusedIndices { get; private set; }

    public string Namespace { get; }

    public PointBatch Batch { get; }

    /// <summary>False for Plexus's own device data, whose schema is fixed (<see cref="StoreWriter.WithoutSchemaLimits"/>).</summary>
    public bool LimitsApply { get; }

    /// <summary>A request without points that creates its namespace (CREATE DATABASE); never logged, always committed directly.</summary>
    public bool CreatesNamespace { get; init; }

    /// <summary>A request without points that deletes data (<see cref="StoreWriter.DeleteAsync"/>); never logged, always committed directly.</summary>
    public DeleteOperation? Delete { get; init; }

    /// <summary>A request without points that runs a step of the cold tier on the writer's thread, ordered with the writes around it.</summary>
    internal WriterJob? Job { get; init; }

    /// <summary>The writer's clock (<see cref="TimeProvider.GetTimestamp"/>) when the write was handed to the store, for the commit latency.</summary>
    public long QueuedAt { get; init; }

    public TaskCompletionSource<WriteResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public List<LineError>? Rejected { get; private set; }

    public int Written { get; set; }

    public void Reject(int index, in PointEntry point, string reason)
    {
        (Rejected ??= []).Add(LineError.ForPoint(Batch, point, reason));
        (RefusedIndices ??= []).Add(index);
    }

    /// <summary>
    /// Answers the whole request with a limit's refusal at once: nothing of it is staged, so it need not wait for the
    /// group's commit (completing the group later does not change the answer).
    /// </summary>
    public void Refuse(SchemaLimitException refusal) => Completion.TrySetException(refusal);

    public void ResetOutcome()
    {
        Rejected = null;
        RefusedIndices = null;
        Written = 0;
    }

    public WriteResult ToResult() => Rejected is null && Written == 0 ? WriteResult.Empty : new WriteResult(Written, (IReadOnlyList<LineError>?)Rejected ?? []);
}
