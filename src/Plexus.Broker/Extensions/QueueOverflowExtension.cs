using Microsoft.Extensions.Logging;
using MQTTnet.Server;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Counts (and logs now and then) the messages MQTTnet drops for a subscriber that fell
/// <see cref="PlexusBrokerOptions.MaxPendingMessagesPerClient"/> behind.
/// </summary>
internal sealed class QueueOverflowExtension(int maxPendingMessagesPerClient, ILogger logger) : IEnqueuedOrDroppedHook
{
    private const int DropLogInterval = 10_000;
    private long _dropped;

    public long Dropped => Interlocked.Read(ref _dropped);

    public Task ApplicationMessageEnqueuedOrDroppedAsync(ApplicationMessageEnqueuedEventArgs e)
    {
        if (e.IsDropped)
        {
            long total = Interlocked.Increment(ref _dropped);
            if (total == 1 || total % DropLogInterval == 0)
            {
                BrokerLog.MessageDropped(logger, e.ReceiverClientId, maxPendingMessagesPerClient, e.ApplicationMessage.Topic, total);
            }
        }

        return Task.CompletedTask;
    }
}
