using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Observers;

/// <summary>
/// The pipeline's one place where "a point was stored" can be observed: every durable write reaches every registered
/// observer once, in commit order, whatever source it came from.
/// </summary>
/// <remarks>
/// The contract an observer follows, and why:
/// <list type="bullet">
/// <item>It runs on the store's writer thread, after the commit (or the write-log sync) and before the writer answers
/// the write's caller. So it sees exactly what is durable (refused points are marked, see
/// <see cref="CommittedWrite.IsStored"/>), in the order it became durable, once — and the batch it reads is the
/// writer's own, not a copy.</item>
/// <item>It must be quick: it reads what it needs and returns. Anything slow — SQL, a webhook, a disk write — goes to
/// a bounded queue of its own (<see cref="QueuedObserver{T}"/>) and runs off the writer's thread. A full queue drops the
/// new item, counts it and logs it (once, then every 1,000th): the data itself is stored, only that observer's view of
/// it is incomplete, and it says so.</item>
/// <item>It must never wait for the store (a read connection, a write): the writer would wait for itself.</item>
/// <item>It cannot lose or refuse data: the write is durable before it is called. An exception is caught here, counted
/// and logged (once, then every 1,000th), and the other observers and the acknowledgement go on.</item>
/// <item>Points replayed from the write log at start (written before a crash) are not observed again.</item>
/// </list>
/// </remarks>
public sealed partial class ObserverStage : ICommitObserver
{
    private readonly ILogger _logger;
    private readonly Lock _changes = new();
    private volatile Entry[] _observers = [];

    public ObserverStage(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The observers in the order they are called, with their statistics.</summary>
    public IReadOnlyList<ObserverStatistics> Statistics => [.. _observers.Select(e => new ObserverStatistics(e.Observer.Name, Interlocked.Read(ref e.Calls), Interlocked.Read(ref e.Failures)))];

    /// <summary>Adds an observer after the ones already added; from the next durable write on it sees every one.</summary>
    public void Add(IIngestObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        lock (_changes)
        {
            _observers = [.. _observers, new Entry(observer)];
        }
    }

    /// <summary>Removes an observer (a console's live feed that closed).</summary>
    public void Remove(IIngestObserver observer)
    {
        lock (_changes)
        {
            _observers = [.. _observers.Where(e => !ReferenceEquals(e.Observer, observer))];
        }
    }

    public void Committed(in CommittedWrite write)
    {
        foreach (var entry in _observers)
        {
            Interlocked.Increment(ref entry.Calls);
            try
            {
                entry.Observer.OnStored(in write);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                long failures = Interlocked.Increment(ref entry.Failures);
                if (failures == 1 || failures % 1000 == 0)
                {
                    Log.ObserverFailed(_logger, error, entry.Observer.Name, failures, write.Origin.ToString());
                }
            }
        }
    }

    private sealed class Entry(IIngestObserver observer)
    {
        public readonly IIngestObserver Observer = observer;
        public long Calls;
        public long Failures;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "Observer {Observer} failed on a stored write from {Origin} ({Failures} failures so far); the data is stored, this observer's view of it is incomplete")]
        public static partial void ObserverFailed(ILogger logger, Exception error, string observer, long failures, string origin);
    }
}

/// <summary>How often an observer was called and how often it failed.</summary>
public sealed record ObserverStatistics(string Name, long Calls, long Failures);
