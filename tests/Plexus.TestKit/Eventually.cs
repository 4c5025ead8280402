namespace Plexus.TestKit;

/// <summary>Polls a condition with back-off until it holds or a deadline passes: the only way tests wait.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string? because = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var deadline = TimeProvider.System.GetTimestamp() + (long)((timeout ?? TimeSpan.FromSeconds(15)).TotalSeconds * TimeProvider.System.TimestampFrequency);
        int delay = 5;
        while (true)
        {
            if (await condition())
            {
                return;
            }

            if (TimeProvider.System.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"Condition not met in time{(because is null ? "" : ": " + because)}.");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(delay), TimeProvider.System, CancellationToken.None);
            delay = Math.Min(delay * 2, 200);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan? timeout = null, string? because = null) =>
        TrueAsync(() => Task.FromResult(condition()), timeout, because);
}
