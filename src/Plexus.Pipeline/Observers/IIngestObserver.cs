using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Observers;

/// <summary>
/// A component that reacts to stored data (live state, rules and alarms, rollups, live feeds): it sees every durable
/// write once, in commit order. See <see cref="ObserverStage"/> for what it may and may not do.
/// </summary>
public interface IIngestObserver
{
    /// <summary>Names the observer in logs and statistics.</summary>
    string Name { get; }

    /// <summary>
    /// Called once per durable write, on the store's writer thread, before the write is acknowledged. Read what is needed
    /// from <paramref name="write"/> (valid during the call only), hand slow work to a queue of your own
    /// (<see cref="QueuedObserver{T}"/>), and return: never block, never wait for the store, never throw.
    /// </summary>
    void OnStored(in CommittedWrite write);
}
