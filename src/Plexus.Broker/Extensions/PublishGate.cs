namespace Plexus.Broker.Extensions;

/// <summary>
/// The graceful stop of device publishes: the ingest and the fast path enter the gate for each message they store;
/// once the broker stops, nothing more enters and the stop waits for those inside to be stored and acknowledged.
/// </summary>
internal sealed class PublishGate
{
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _stopping;

    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    public bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _stopping) == 0)
        {
            return true;
        }

        Exit();
        return false;
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _stopping) != 0)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Closes the gate; false when it was closed already. <paramref name="inFlight"/>: messages still inside.</summary>
    public bool TryClose(out int inFlight)
    {
        inFlight = 0;
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return false;
        }

        inFlight = Volatile.Read(ref _inFlight);
        if (inFlight == 0)
        {
            _drained.TrySetResult();
        }

        return true;
    }

    /// <summary>Completes once the gate is closed and the last message inside left it.</summary>
    public Task Drained => _drained.Task;
}
