namespace Plexus.Storage;

/// <summary>
/// The loop of a background job over the store (retention, rollups): one run per tick until stopped, where a run that
/// fails is logged and the next tick tries again, since the store may be unavailable for a while (a full disk).
/// </summary>
internal static class BackgroundLoop
{
    public static async Task RunAsync(PeriodicTimer timer, Func<CancellationToken, Task> run,
        Action<StoreUnavailableException> unavailable, Action<Exception> failed, CancellationToken stop)
    {
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                try
                {
                    await run(stop);
                }
                catch (StoreUnavailableException error)
                {
                    unavailable(error);
                }
                catch (Exception error) when (error is not OperationCanceledException)
                {
                    failed(error);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }
}
