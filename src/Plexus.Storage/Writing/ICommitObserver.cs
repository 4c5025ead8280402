using Plexus.Core;

namespace Plexus.Storage.Writing;

/// <summary>
/// Sees every write the store made durable, once, in commit order: on the writer's thread, after the commit or the
/// write-log sync and before the writer answers the write's caller. The batch is the caller's and is only valid during
/// the call; whatever outlives it must be copied. See <c>Plexus.Pipeline.ObserverStage</c> for the contract observers
/// of the pipeline follow.
/// </summary>
public interface ICommitObserver
{
    void Committed(in CommittedWrite write);
}

/// <summary>One durable write: its namespace, its points (some of which the store may have refused), and where it came from.</summary>
public readonly ref struct CommittedWrite
{
    private readonly IReadOnlyList<int>? _refused;

    internal CommittedWrite(string ns, PointBatch batch, IngestOrigin origin, IReadOnlyList<int>? refused, long sequence)
    {
        Namespace = ns;
        Batch = batch;
        Origin = origin;
        _refused = refused;
        Sequence = sequence;
    }

    public string Namespace { get; }

    public PointBatch Batch { get; }

    public IngestOrigin Origin { get; }

    /// <summary>Increases by one per durable write, across restarts of nothing: only the order within a run counts.</summary>
    public long Sequence { get; }

    /// <summary>Points of the batch the store refused (type conflicts, limits, reserved names); ascending indices.</summary>
    public int RefusedCount => _refused?.Count ?? 0;

    /// <summary>False for a point the store refused; true for every durable one.</summary>
    public bool IsStored(int index)
    {
        if (_refused is null)
        {
            return true;
        }

        // Refusals are few and ascending: a binary search, no allocation.
        int low = 0;
        int high = _refused.Count - 1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            int value = _refused[middle];
            if (value == index)
            {
                return false;
            }

            if (value < index)
            {
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return true;
    }
}
