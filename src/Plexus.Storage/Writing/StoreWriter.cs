using System.Threading.Channels;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Writing;

/// <summary>
/// The one writer of the database. Requests queue in a bounded channel; the loop takes everything that is
/// waiting (up to a point budget) as one group and completes every request of the group once it is durable.
/// Writers that arrive while a group is being made durable form the next group, so many concurrent clients
/// share each sync: durability costs latency, not throughput.
/// </summary>
/// <remarks>
/// A group whose points all fit the known schema (the steady state) is made durable by appending it to the
/// write log (<see cref="WriteLog"/>) with one fdatasync, then acknowledged; the logged groups are applied
/// to DuckDB later, many per transaction (every <see cref="StorageOptions.LogApplyInterval"/>, at
/// <see cref="StorageOptions.MaxPointsPerApply"/>, or when a reader needs them), and that transaction also
/// records how far the log is applied. A group that could be refused in part or changes the schema (a new
/// namespace, measurement, tag or field, or a type conflict) first has the log applied, then is committed
/// to DuckDB directly as before, so the validation that decides rejections always runs against the schema
/// the points will meet. See docs/architecture.md for the durability argument.
/// </remarks>
public sealed class StoreWriter : IPointWriter, IAsyncDisposable
{
    // Wakes the loop so that it applies the log now (a reader waits for it); carries no points.
    private static readonly WriteRequest ApplyNow = new("", new PointBatch(1));

    private readonly Channel<WriteRequest> _queue;
    private readonly DuckDBConnection _connection;
    private readonly GroupCommitter _committer;
    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly Task _loop;
    private readonly List<WriteRequest> _group = [];
    private readonly WriteLog? _log;
    private readonly LogBuffer _pending = new();
    private readonly ApplySegments _segments = new();
    private readonly object _applyGate = new();
    private long _commits;
    private long _pointsCommitted;
    private long _pointsMergedSnapshot;
    private long _applies;

    // Log sequence numbers: the last record synced (and so acknowledged), and the last one in DuckDB.
    private long _loggedLsn;
    private long _appliedLsn;
    private int _pendingPoints;
    private long _applyDueAt;
    private volatile bool _applyRequested;

    internal StoreWriter(DuckDBConnection connection, StorageOptions options, ILogger logger)
    {
        _connection = connection;
        _options = options;
        _logger = logger;
        _committer = new GroupCommitter(connection, Catalog.Load(connection), options.SchemaLimits);
        WithoutSchemaLimits = new UnlimitedWriter(this);
        if (options.WriteLog)
        {
            _log = WriteLog.Open(Path.Combine(options.DataDirectory, WriteLog.FileName));
            try
            {
                ReplayLog();
            }
            catch
            {
                _log.Dispose();
                throw;
            }
        }

        _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions(options.MaxQueuedWrites)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _loop = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>Groups made durable: write-log syncs plus direct DuckDB commits.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>
    /// Changes whenever a write created a measurement or a column, by the time that write is acknowledged: whoever
    /// generates SQL from the schema compares it instead of reading the catalog after every write.
    /// </summary>
    public long SchemaVersion => _committer.SchemaVersion;

    /// <summary>DuckDB transactions that applied write-log records.</summary>
    public long LogApplies => Interlocked.Read(ref _applies);

    public long PointsCommitted => Interlocked.Read(ref _pointsCommitted);

    /// <summary>Acknowledged points that the last run left only in the write log and this one applied at open.</summary>
    public long PointsReplayed { get; private set; }

    /// <summary>Points that were checked against stored rows (late, out of order or rewrites) rather than appended.</summary>
    public long PointsMerged => Volatile.Read(ref _pointsMergedSnapshot);

    /// <summary>
    /// The same writer without <see cref="StorageOptions.SchemaLimits"/>, for Plexus's own device data (state history,
    /// dead letters), whose few columns are fixed and which must not be refused because users filled a namespace.
    /// </summary>
    public IPointWriter WithoutSchemaLimits { get; }

    /// <summary>
    /// Stores the points; throws <see cref="SchemaLimitException"/> (nothing stored) when the write would pass a
    /// per-write limit or create a namespace beyond <see cref="SchemaLimits.MaxNamespaces"/>.
    /// </summary>
    public Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default) =>
        WriteAsync(ns, batch, limitsApply: true, cancellationToken);

    private async Task<WriteResult> WriteAsync(string ns, PointBatch batch, bool limitsApply, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return WriteResult.Empty;
        }

        var request = new WriteRequest(ns, batch, limitsApply);
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

    /// <summary>
    /// Blocks until every write acknowledged before the call is in DuckDB, so that a query sees it; true
    /// unless <paramref name="timeout"/> passed first (DuckDB keeps failing to apply the log).
    /// </summary>
    public bool WaitForAcknowledgedWrites(TimeSpan timeout)
    {
        long target = Volatile.Read(ref _loggedLsn);
        if (Volatile.Read(ref _appliedLsn) >= target)
        {
            return true;
        }

        _applyRequested = true;
        _queue.Writer.TryWrite(ApplyNow);
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_applyGate)
        {
            while (Volatile.Read(ref _appliedLsn) < target)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0 || !Monitor.Wait(_applyGate, (int)Math.Min(left, int.MaxValue)) && Environment.TickCount64 >= deadline)
                {
                    return Volatile.Read(ref _appliedLsn) >= target;
                }
            }
        }

        return true;
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        Task<bool>? waiting = null;
        while (true)
        {
            if (_pending.Length > 0 && (_applyRequested || _pendingPoints >= _options.MaxPointsPerApply || Environment.TickCount64 >= _applyDueAt))
            {
                ApplyLog();
            }

            if (!reader.TryPeek(out _))
            {
                waiting ??= reader.WaitToReadAsync().AsTask();
                if (_pending.Length > 0 && !waiting.IsCompleted)
                {
                    long left = _applyDueAt - Environment.TickCount64;
                    if (left > 0)
                    {
                        await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromMilliseconds(left)));
                    }

                    if (!waiting.IsCompleted)
                    {
                        continue;
                    }
                }

                bool open = await waiting;
                waiting = null;
                if (!open)
                {
                    break;
                }

                continue;
            }

            _group.Clear();
            int points = 0;
            while (points < _options.MaxPointsPerCommit && reader.TryRead(out var request))
            {
                if (ReferenceEquals(request, ApplyNow))
                {
                    _applyRequested = true;
                    continue;
                }

                _group.Add(request);
                points += request.Batch.Count;
            }

            if (_group.Count > 0)
            {
                WriteGroup(_group, points);
            }
        }

        ApplyLog();
    }

    private void WriteGroup(List<WriteRequest> group, int points)
    {
        if (_log is not null && points < _options.MinPointsForDirectCommit && CanLog(group))
        {
            LogGroup(group, points);
            return;
        }

        // The group may be refused in part or change the schema: it must meet DuckDB after everything logged.
        if (!ApplyLog())
        {
            foreach (var request in group)
            {
                request.Completion.TrySetException(new StorageException("The write could not be stored: earlier writes in the write log cannot be applied to the database (see the server log)."));
            }

            return;
        }

        CommitGroup(group);
    }

    private bool CanLog(List<WriteRequest> group)
    {
        foreach (var request in group)
        {
            if (!_committer.CanLog(request))
            {
                return false;
            }
        }

        return true;
    }

    private void LogGroup(List<WriteRequest> group, int points)
    {
        int start = _pending.Length;
        _pending.Skip(WriteLog.HeaderSize);
        foreach (var request in group)
        {
            _pending.Encode(request.Namespace, request.Batch);
        }

        long lsn = _loggedLsn + 1;
        var record = _pending.Span(start, _pending.Length - start);
        WriteLog.SealRecord(record, lsn);
        try
        {
            _log!.AppendAndSync(record);
        }
        catch (Exception error)
        {
            _pending.Truncate(start);
            _logger.LogError(error, "Appending {Points} points to the write log failed", points);
            foreach (var request in group)
            {
                request.Completion.TrySetException(new StorageException("The write could not be stored: " + error.Message, error));
            }

            return;
        }

        if (start == 0)
        {
            _applyDueAt = Environment.TickCount64 + (long)_options.LogApplyInterval.TotalMilliseconds;
        }

        _pendingPoints += points;
        Volatile.Write(ref _loggedLsn, lsn);
        foreach (var request in group)
        {
            request.Written = request.Batch.Count;
        }

        Complete(group);
    }

    /// <summary>Applies every logged group to DuckDB in one transaction; false if DuckDB refused (the log keeps them).</summary>
    private bool ApplyLog()
    {
        _applyRequested = false;
        if (_pending.Length == 0)
        {
            return true;
        }

        long last = DecodeRecords(_pending.Written, Volatile.Read(ref _appliedLsn));
        try
        {
            _committer.Commit(_segments.Requests, last);
        }
        catch (Exception error)
        {
            // The points stay in the log (and in memory) and are tried again; a restart replays them too.
            _logger.LogError(error, "Applying the write log to the database failed; retrying in a second");
            _committer.Abandon();
            _committer.ReloadCatalog();
            _applyDueAt = Environment.TickCount64 + 1000;
            return false;
        }
        finally
        {
            _segments.Clear();
        }

        _pending.Clear();
        _pendingPoints = 0;
        try
        {
            _log!.Truncate();
        }
        catch (IOException error)
        {
            // Harmless for correctness: applied records are skipped at replay by their sequence number.
            _logger.LogWarning(error, "Truncating the write log failed");
        }

        Interlocked.Increment(ref _applies);
        Volatile.Write(ref _pointsMergedSnapshot, _committer.PointsMerged);
        lock (_applyGate)
        {
            Volatile.Write(ref _appliedLsn, last);
            Monitor.PulseAll(_applyGate);
        }

        return true;
    }

    /// <summary>Decodes the valid records after <paramref name="appliedLsn"/> into the apply segments; returns the last valid sequence number.</summary>
    private long DecodeRecords(ReadOnlySpan<byte> log, long appliedLsn)
    {
        _segments.Clear();
        long previous = 0;
        int offset = 0;
        while (WriteLog.TryReadRecord(log, offset, previous, out long lsn, out int payloadOffset, out int payloadLength))
        {
            if (lsn > appliedLsn)
            {
                LogBuffer.Decode(log.Slice(payloadOffset, payloadLength), _segments);
            }

            previous = lsn;
            offset = payloadOffset + payloadLength;
        }

        return Math.Max(previous, appliedLsn);
    }

    // At open: records after the applied position were acknowledged but never reached DuckDB.
    private void ReplayLog()
    {
        long applied = Catalog.ReadAppliedLsn(_connection);
        _pending.Load(_log!.ReadAll());
        long last = DecodeRecords(_pending.Written, applied);
        int requests = _segments.Requests.Count;
        if (requests > 0)
        {
            _committer.Commit(_segments.Requests, last);
            int points = 0;
            foreach (var request in _segments.Requests)
            {
                points += request.Written;
            }

            PointsReplayed = points;
            _pointsMergedSnapshot = _committer.PointsMerged;
            _logger.LogInformation("Replayed {Points} acknowledged points from the write log (up to record {Lsn})", points, last);
        }

        _segments.Clear();
        _pending.Clear();
        _log.Truncate();
        _loggedLsn = last;
        _appliedLsn = last;
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
        }

        // Counted before anyone is answered, so that a caller who got its answer sees its commit counted.
        Interlocked.Increment(ref _commits);
        Interlocked.Add(ref _pointsCommitted, points);
        Volatile.Write(ref _pointsMergedSnapshot, _committer.PointsMerged);
        foreach (var request in group)
        {
            request.Completion.TrySetResult(request.ToResult());
        }
    }

    // The transaction is gone, and with it every schema and series change the group made: drop the cache
    // and read the truth back from the database.
    private void Recover(Exception error)
    {
        _logger.LogWarning(error, "A commit failed; reloading the catalog");
        _committer.Abandon();
        _committer.ReloadCatalog();
    }

    private sealed class UnlimitedWriter(StoreWriter writer) : IPointWriter
    {
        public Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default) =>
            writer.WriteAsync(ns, batch, limitsApply: false, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop;
        _log?.Dispose();
        _connection.Dispose();
        _logger.LogInformation("Store writer closed: {Commits} commits, {Points} points stored, {Merged} of them merged as possible duplicates",
            Commits, PointsCommitted, PointsMerged);
    }
}
