using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline.Observers;

/// <summary>
/// An observer whose work is slow: <see cref="Extract"/> takes what it needs from a durable write on the writer's thread
/// and queues items; <see cref="ProcessAsync"/> handles them one at a time on a task of its own. The queue is bounded:
/// when it is full a new item is dropped, counted in <see cref="Dropped"/> and logged (the first time, then every
/// 1,000th). A processing failure is logged and the next item is processed.
/// </summary>
public abstract partial class QueuedObserver<T> : IIngestObserver, IAsyncDisposable
{
    private readonly Channel<T> _queue;
    private readonly ILogger _logger;
    private readonly Task _worker;
    private long _dropped;

    protected QueuedObserver(string name, int capacity, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        Name = name;
        Capacity = capacity;
        _logger = logger ?? NullLogger.Instance;
        _queue = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _worker = Task.Run(RunAsync);
    }

    public string Name { get; }

    /// <summary>Items the queue holds at most.</summary>
    public int Capacity { get; }

    /// <summary>Items dropped because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Items waiting now.</summary>
    public int Waiting => _queue.Reader.Count;

    public void OnStored(in CommittedWrite write) => Extract(in write);

    /// <summary>Reads what is needed from the durable write and <see cref="Enqueue"/>s it; runs on the writer's thread.</summary>
    protected abstract void Extract(in CommittedWrite write);

    /// <summary>Handles one item off the writer's thread.</summary>
    protected abstract ValueTask ProcessAsync(T item);

    protected void Enqueue(T item)
    {
        if (_queue.Writer.TryWrite(item))
        {
            return;
        }

        long dropped = Interlocked.Increment(ref _dropped);
        if (dropped == 1 || dropped % 1000 == 0)
        {
            Log.Dropped(_logger, Name, Capacity, dropped);
        }
    }

    /// <summary>Processes what is queued, then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _worker;
        GC.SuppressFinalize(this);
    }

    private async Task RunAsync()
    {
        await foreach (var item in _queue.Reader.ReadAllAsync())
        {
            try
            {
                await ProcessAsync(item);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                Log.ProcessFailed(_logger, error, Name);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Observer {Observer} fell behind: its queue of {Capacity} items is full, a stored write's item was dropped ({Dropped} so far)")]
        public static partial void Dropped(ILogger logger, string observer, int capacity, long dropped);

        [LoggerMessage(EventId = 3102, Level = LogLevel.Error, Message = "Observer {Observer} failed to process an item")]
        public static partial void ProcessFailed(ILogger logger, Exception error, string observer);
    }
}
