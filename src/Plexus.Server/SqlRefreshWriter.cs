using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Writing;

namespace Plexus.Server;

/// <summary>
/// Passes writes on and, after a write of a measurement that a generated SQL object waits for (a declared position
/// source that does not exist yet, <c>state_history</c> before the first report), regenerates that object, so that the
/// data is in <c>main.device_positions</c> and <c>device_state_asof</c> as soon as the write is acknowledged.
/// </summary>
/// <remarks>
/// Nothing waits in the usual case: then the cost is one volatile read per batch. While something waits, one scan of
/// the batch (no allocation), and catalog queries only when a point creates a waited-for measurement or carries a
/// waited-for column.
/// </remarks>
internal sealed class SqlRefreshWriter(IPointWriter inner, IReadOnlyList<SqlRefreshWriter.Watch> watches, ILogger logger) : IPointWriter
{
    public delegate bool WaitingFor(string ns, PointBatch batch, int index);

    public sealed record Watch(Func<bool> IsWaiting, WaitingFor Matches, Action Refresh);

    public async Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        List<Watch>? due = null;
        foreach (var watch in watches)
        {
            if (watch.IsWaiting() && Contains(watch, ns, batch))
            {
                (due ??= []).Add(watch);
            }
        }

        var result = await inner.WriteAsync(ns, batch, cancellationToken);
        if (due is not null && result.PointsWritten > 0)
        {
            foreach (var watch in due)
            {
                try
                {
                    watch.Refresh();
                }
                catch (Exception error) when (error is not OperationCanceledException)
                {
                    // The write is stored; a view that is not refreshed now is at the next change, listing or start.
                    logger.LogWarning(error, "Could not refresh a generated SQL view after a write to {Namespace}", ns);
                }
            }
        }

        return result;
    }

    private static bool Contains(Watch watch, string ns, PointBatch batch)
    {
        for (int i = 0; i < batch.Count; i++)
        {
            if (watch.Matches(ns, batch, i))
            {
                return true;
            }
        }

        return false;
    }
}
