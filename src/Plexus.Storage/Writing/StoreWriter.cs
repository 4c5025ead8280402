using System.Threading.Channels;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Writing;

/// <summary>
/// The one writer of the database. Requests queue in a bounded channel; the loop takes everything that is
/// waiting (up to a point budget), commits it as one transaction and completes every request of the group
/// after the commit is durable. Writers that arrive while a commit runs form the next group, so many
/// concurrent clients share each sync: durability costs latency, not throughput.
/// </summary>
public sealed class StoreWriter : IPointWriter, IAsyncDisposable
{
    private readonly Channel<WriteRequest> _queue;
    private readonly DuckDBConnection _connection;
    private readonly GroupCommitter _committer;
    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly Task _loop;
    private readonly List<WriteRequest> _group = [];
    private long _commits;
    private long _pointsCommitted;
    private long _pointsMergedSnapshot;

    internal StoreWriter(DuckDBConnection connection, StorageOptions options, ILogger logger)
    {
        _connection = connection;
        _options = options;
        _logger = logger;
        _committer = new GroupCommitter(connection, Catalog.Load(connection));
        _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(options.MaxQueuedWrites)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public long Commits => Interlocked.Read(ref _commits);

    public long PointsCommitted => Interlocked.Read(ref _pointsCommitted);

    /// <summary>Points that were checked against stored rows (late, out of order or rewrites) rather than appended.</summary>
    public long PointsMerged => Volatile.Read(ref _pointsMergedSnapshot);

    public async Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return WriteResult.Empty;
        }

        var request = new WriteRequest(ns, batch);
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new StorageException("The store is shutting down and takes no more writes.");
        }

        // Once queued, the request is committed or failed as a whole even if the caller stops waiting,
        // because the batch stays referenced until then.
        return await request.Completion.Task;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync())
        {
            _group.Clear();
            int points = 0;
            while (points < _options.MaxPointsPerCommit && reader.TryRead(out var request))
            {
                _group.Add(request);
                points += request.Batch.Count;
            }

            CommitGroup(_group);
        }
    }

    private void CommitGroup(List<WriteRequest> group)
    {
        try
        {
            _committer.Commit(group);
            Complete(group);
            return;
        }
        catch (Exception error)
        {
            Recover(error);
            if (group.Count == 1)
            {
                _logger.LogError(error, "Write of {Points} points to namespace {Namespace} failed", group[0].Batch.Count, group[0].Namespace);
                group[0].Completion.TrySetException(new StorageException("The write could not be stored: " + error.Message, error));
                return;
            }
        }

        // One request spoiled the shared commit: commit each alone, so the others are not refused with it.
        foreach (var request in group)
        {
            request.ResetOutcome();
            var single = new List<WriteRequest>(1) { request };
            CommitGroup(single);
        }
    }

    private void Complete(List<WriteRequest> group)
    {
        long points = 0;
        foreach (var request in group)
        {
            points += request.Written;
            request.Completion.TrySetResult(request.ToResult());
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _pointsCommitted, points);
        Volatile.Write(ref _pointsMergedSnapshot, _committer.PointsMerged);
    }

    // The transaction is gone, and with it every schema and series change the group made: drop the cache
    // and read the truth back from the database.
    private void Recover(Exception error)
    {
        _logger.LogWarning(error, "A commit failed; reloading the catalog");
        _committer.Abandon();
        _committer.ReloadCatalog();
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
        _connection.Dispose();
        _logger.LogInformation("Store writer closed: {Commits} commits, {Points} points stored, {Merged} of them merged as possible duplicates",
            Commits, PointsCommitted, PointsMerged);
    }
}
