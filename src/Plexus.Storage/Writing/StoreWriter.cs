// One file on purpose (about 800 lines): the store's single writer loop. Logging a group, applying the log, committing
// directly, the two faults and their retries, and replaying the log at open all read and move the same loop-owned
// state (log sequence numbers, pending records, faults) on one thread; split apart, the ordering argument that makes
// acknowledgements safe (docs/architecture.md, the write path) could no longer be checked in one place. Hot path.
using System.Threading.Channels;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Core;
using Plexus.Storage.Cold;
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
public sealed partial class StoreWriter : IPointWriter, IAsyncDisposable
{
    // Wakes the loop so that it applies the log now (a reader waits for it); carries no points.
    private static readonly WriteRequest ApplyNow = new("", new PointBatch(1));

    // The batch of a request that only creates its namespace; never written to.
    private static readonly PointBatch NoPoints = new(1);

    private readonly Channel<WriteRequest> _queue;
    private readonly DuckDBConnection _connection;
    private readonly GroupCommitter _committer;
    private readonly StorageOptions _options;
    private readonly TimeProvider _time;
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
    private long _observedWrites;

    // Log sequence numbers: the last record synced (and so acknowledged), the last one in DuckDB, and the last
    // one handed out, acknowledged or not: the number of a record whose append failed is never used again.
    private long _loggedLsn;
    private long _appliedLsn;
    private long _lastIssuedLsn;
    private int _pendingPoints;
    private long _applyDueAt;
    private volatile bool _applyRequested;

    // What keeps the store from writing, if anything: appends to the write log fail, or DuckDB commits do. Set by
    // the failure, cleared by the next success of the same kind; while one is set, the loop retries once a second.
    private volatile StoreFault? _logFault;
    private volatile StoreFault? _databaseFault;
    private long _retryDueAt;
    private int _failedAppendBytes;

    internal StoreWriter(DuckDBConnection connection, StorageOptions options, ILogger logger, ColdStore? cold = null)
    {
        Cold = cold;
        _connection = connection;
        _options = options;
        _time = options.Time;
        _logger = logger;
        _committer = new GroupCommitter(connection, Catalog.Load(connection, cold), options.SchemaLimits);
        if (cold is not null)
        {
            // Views name cold files by absolute path: a data folder moved since the last run still finds them.
            RefreshColdViews();
        }

        WithoutSchemaLimits = new UnlimitedWriter(this);
        if (options.WriteLog)
        {
            _log = WriteLog.Open(Path.Combine(options.DataDirectory, WriteLog.FileName), options.LogFile);
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

    /// <summary>Per write, the time from <see cref="WriteAsync(string, PointBatch, CancellationToken)"/> to its durable commit: queueing, the group's encoding and the sync or commit.</summary>
    public LatencyHistogram CommitLatency { get; } = new();

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
        WriteAsync(ns, batch, limitsApply: true, default, cancellationToken);

    /// <summary>As <see cref="WriteAsync(string, PointBatch, CancellationToken)"/>, naming where the points came from for the <see cref="CommitObserver"/>.</summary>
    public Task<WriteResult> WriteAsync(string ns, PointBatch batch, IngestOrigin origin, CancellationToken cancellationToken = default) =>
        WriteAsync(ns, batch, limitsApply: origin.Source != IngestSource.Internal, origin, cancellationToken);

    /// <summary>
    /// Sees every durable write, on this writer's thread, before its caller is answered (the ingest pipeline's
    /// observer stage). Set once, before the first write; null observes nothing.
    /// </summary>
    public ICommitObserver? CommitObserver { get; set; }

    private async Task<WriteResult> WriteAsync(string ns, PointBatch batch, bool limitsApply, IngestOrigin origin, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return WriteResult.Empty;
        }

        var request = new WriteRequest(ns, batch, limitsApply, origin) { QueuedAt = _time.GetTimestamp() };
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new StoreUnavailableException("the store is shutting down and takes no more writes; nothing of this write was stored");
        }

        // Once queued, the request is committed or failed as a whole even if the caller stops waiting,
        // because the batch stays referenced until then.
        return await request.Completion.Task;
    }

    /// <summary>
    /// Creates namespace <paramref name="ns"/> (a SQL schema), empty, unless it exists: InfluxQL's <c>CREATE DATABASE</c>.
    /// It goes through the writer's queue like a write, and is committed in DuckDB directly (after the write log is
    /// applied), so it is ordered with the writes around it and the catalog learns of it in the writer's own thread.
    /// </summary>
    /// <param name="ns">A name already checked by <see cref="Namespaces.TryNormalize"/>.</param>
    /// <exception cref="StoreUnavailableException">The store cannot write now, or is shutting down.</exception>
    public async Task CreateNamespaceAsync(string ns, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(ns);
        var request = new WriteRequest(ns, NoPoints) { CreatesNamespace = true };
        try
        {
            await _queue.Writer.WriteAsync(request, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new StoreUnavailableException($"the store is shutting down; namespace \"{ns}\" was not created");
        }

        await request.Completion.Task;
    }

    /// <summary>
    /// Why the store cannot write right now (a full disk, an I/O error, a database that refuses commits), or null
    /// while it can. Set by the failing append or commit, cleared by the next one that succeeds; while it is set,
    /// the writer retries once a second by itself.
    /// </summary>
    public StoreFault? Fault => _logFault is { RestartRequired: true } log ? log : _databaseFault ?? _logFault;

    /// <summary>
    /// Blocks until every write acknowledged before the call is in DuckDB, so that a query sees it. A reader never
    /// goes on without them: while the writer cannot apply them (<see cref="Fault"/>) this throws at once, and an
    /// ordinary backlog that has not cleared within <paramref name="timeout"/> throws too.
    /// </summary>
    /// <exception cref="StoreUnavailableException">Acknowledged writes are not in the database and cannot be waited for.</exception>
    public void WaitForAcknowledgedWrites(TimeSpan timeout)
    {
        long target = Volatile.Read(ref _loggedLsn);
        if (Volatile.Read(ref _appliedLsn) >= target)
        {
            return;
        }

        // Failing fast instead of asking for an apply: the loop retries once a second anyway, and a query must not
        // turn into another doomed DuckDB transaction over the whole backlog.
        if (_databaseFault is { } failing)
        {
            throw Behind(failing.Reason, failing.RestartRequired);
        }

        _applyRequested = true;
        _queue.Writer.TryWrite(ApplyNow);
        long deadline = NowMs() + (long)timeout.TotalMilliseconds;

        // The deadline is on the writer's clock, which tests drive: its timer wakes this wait when it passes.
        using var wake = _time.CreateTimer(_ => PulseReaders(), null, timeout, Timeout.InfiniteTimeSpan);
        lock (_applyGate)
        {
            while (Volatile.Read(ref _appliedLsn) < target)
            {
                if (_databaseFault is { } fault)
                {
                    throw Behind(fault.Reason, fault.RestartRequired);
                }

                long left = deadline - NowMs();
                if (left <= 0)
                {
                    _logger.LogWarning("A reader waited {Timeout} for acknowledged writes to reach the database and was refused", timeout);
                    throw Behind($"applying them has not finished within {timeout.TotalSeconds:0.#} s", restartRequired: false);
                }

                Monitor.Wait(_applyGate);
            }
        }
    }

    private void PulseReaders()
    {
        lock (_applyGate)
        {
            Monitor.PulseAll(_applyGate);
        }
    }

    // Milliseconds on the writer's clock; only differences are used. (Multiplying the timestamp by 1,000 first
    // would overflow after about 100 days of a nanosecond clock.)
    private long NowMs() => (long)(_time.GetTimestamp() * (1000.0 / _time.TimestampFrequency));

    private static StoreUnavailableException Behind(string reason, bool restartRequired) => new(
        $"the store is behind: writes it has acknowledged are not in the database yet because {reason}; " +
        $"the query was not run, so that it cannot answer without them ({(restartRequired ? "the server must be restarted" : "retry in a moment")})",
        StoreUnavailableException.DefaultRetryAfter);

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        Task<bool>? waiting = null;
        while (true)
        {
            // While DuckDB refuses commits, only the once-a-second retry: not one doomed apply of the whole backlog per request.
            if (_pending.Length > 0 && (NowMs() >= _applyDueAt || (_databaseFault is null && (_applyRequested || _pendingPoints >= _options.MaxPointsPerApply))))
            {
                ApplyLog();
            }

            if (RetryDue() && NowMs() >= _retryDueAt)
            {
                RetryAfterFault();
            }

            if (!reader.TryPeek(out _))
            {
                waiting ??= reader.WaitToReadAsync().AsTask();
                long wakeAt = Math.Min(_pending.Length > 0 ? _applyDueAt : long.MaxValue, RetryDue() ? _retryDueAt : long.MaxValue);
                if (wakeAt != long.MaxValue && !waiting.IsCompleted)
                {
                    long left = wakeAt - NowMs();
                    if (left > 0)
                    {
                        await Task.WhenAny(waiting, Task.Delay(TimeSpan.FromMilliseconds(left), _time));
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

                if (request.Delete is { } delete)
                {
                    // Ordered with the writes around it: those queued before it are committed first, those after it later.
                    if (_group.Count > 0)
                    {
                        WriteGroup(_group, points);
                        _group.Clear();
                        points = 0;
                    }

                    RunDelete(delete);
                    continue;
                }

                if (request.Job is { } job)
                {
                    if (_group.Count > 0)
                    {
                        WriteGroup(_group, points);
                        _group.Clear();
                        points = 0;
                    }

                    job.Run();
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
        // A log given up after a failed sync: nothing more may be acknowledged before a restart replays it.
        if (_logFault is { RestartRequired: true } broken)
        {
            Refuse(group, broken, null);
            return;
        }

        // DuckDB refuses commits: what the log could still take would only pile up in memory, unreadable (queries
        // are refused until it is applied). The loop's retry clears the fault.
        if (_databaseFault is { } failing)
        {
            Refuse(group, failing, null);
            return;
        }

        if (_log is not null && points < _options.MinPointsForDirectCommit && CanLog(group))
        {
            LogGroup(group, points);
            return;
        }

        // The group may be refused in part or change the schema: it must meet DuckDB after everything logged.
        if (!ApplyLog())
        {
            Refuse(group, _databaseFault ?? new StoreFault("the database refuses to commit", false), null);
            return;
        }

        CommitGroup(group);
    }

    private static void Refuse(List<WriteRequest> group, StoreFault fault, Exception? error)
    {
        foreach (var request in group)
        {
            request.Completion.TrySetException(new StoreUnavailableException(
                fault.Describe() + "; nothing of this write was stored", StoreUnavailableException.DefaultRetryAfter, error));
        }
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
        _pending.Skip(WriteLog.RecordHeaderSize);
        foreach (var request in group)
        {
            _pending.Encode(request.Namespace, request.Batch);
        }

        // Taken before the append and never given back: see WriteLog.AppendAndSync.
        long lsn = ++_lastIssuedLsn;
        var record = _pending.Span(start, _pending.Length - start);
        WriteLog.SealRecord(record, lsn);
        try
        {
            _log!.AppendAndSync(record);
        }
        catch (Exception error)
        {
            _pending.Truncate(start);
            _failedAppendBytes = record.Length;
            var fault = StoreFault.Of(error, restartRequired: _log!.IsBroken);
            if (_logFault is null)
            {
                _logger.LogError(error, "Appending {Points} points to the write log failed ({Reason}); writes are refused until an append succeeds again, checked once a second", points, fault.Reason);
            }
            else
            {
                _logger.LogDebug(error, "Appending {Points} points to the write log failed again", points);
            }

            if (fault.RestartRequired)
            {
                _logger.LogCritical("The write log could not be rolled back after a failed append: the store takes no more writes until the server is restarted, which replays the log");
            }

            SetLogFault(fault);
            Refuse(group, fault, error);
            return;
        }

        SetLogFault(null);

        if (start == 0)
        {
            _applyDueAt = NowMs() + (long)_options.LogApplyInterval.TotalMilliseconds;
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
            var fault = StoreFault.Of(error);
            if (_databaseFault is null)
            {
                _logger.LogError(error, "Applying the write log to the database failed ({Reason}); retrying every second, and queries that need those writes are refused meanwhile", fault.Reason);
            }
            else
            {
                _logger.LogDebug(error, "Applying the write log to the database failed again");
            }

            _committer.Abandon();
            _committer.ReloadCatalog();
            _applyDueAt = NowMs() + RetryIntervalMs;
            SetDatabaseFault(fault);
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

        SetDatabaseFault(null);
        return true;
    }

    private const int RetryIntervalMs = 1000;

    // A fault without a backlog to retry still needs a retry of its own, or /health would wait for the next write.
    private bool RetryDue() =>
        (_logFault is { RestartRequired: false } && _log is { IsBroken: false })
        || (_databaseFault is not null && _pending.Length == 0);

    /// <summary>Once a second while the store is faulted: tries what failed, without points, to see whether it works again.</summary>
    private void RetryAfterFault()
    {
        _retryDueAt = NowMs() + RetryIntervalMs;
        if (_logFault is { RestartRequired: false })
        {
            try
            {
                _log!.Probe(_failedAppendBytes);
                SetLogFault(null);
            }
            catch (Exception error)
            {
                SetLogFault(StoreFault.Of(error, restartRequired: _log!.IsBroken));
            }
        }

        if (_databaseFault is not null && _pending.Length == 0)
        {
            try
            {
                // An empty commit that records the applied position again: the smallest write DuckDB can be asked for.
                _committer.Commit([], Volatile.Read(ref _appliedLsn));
                SetDatabaseFault(null);
            }
            catch (Exception error)
            {
                _committer.Abandon();
                _committer.ReloadCatalog();
                SetDatabaseFault(StoreFault.Of(error));
            }
        }
    }

    private void SetLogFault(StoreFault? fault)
    {
        if (fault is null)
        {
            if (_logFault is null)
            {
                return;
            }

            _logger.LogInformation("The write log takes appends again");
        }
        else if (_logFault is null)
        {
            _retryDueAt = NowMs() + RetryIntervalMs;
        }

        _logFault = fault;
    }

    private void SetDatabaseFault(StoreFault? fault)
    {
        if (fault is null)
        {
            if (_databaseFault is null)
            {
                return;
            }

            _logger.LogInformation("The database takes commits again");
        }
        else if (_databaseFault is null)
        {
            _retryDueAt = NowMs() + RetryIntervalMs;
        }

        // Readers waiting for an apply learn at once that it failed, instead of at their timeout.
        lock (_applyGate)
        {
            _databaseFault = fault;
            Monitor.PulseAll(_applyGate);
        }
    }

    /// <summary>Decodes the valid records after <paramref name="appliedLsn"/> into the apply segments; returns the last valid sequence number.</summary>
    private long DecodeRecords(ReadOnlySpan<byte> log, long appliedLsn) => DecodeRecords(log, appliedLsn, out _, out _);

    /// <summary>As above, and where the valid records end and why (<see cref="RecordStatus.End"/> when the bytes do).</summary>
    private long DecodeRecords(ReadOnlySpan<byte> log, long appliedLsn, out int validLength, out RecordStatus stop)
    {
        _segments.Clear();
        long previous = 0;
        int offset = 0;
        while ((stop = WriteLog.ReadRecord(log, offset, previous, out long lsn, out int payloadOffset, out int payloadLength)) == RecordStatus.Whole)
        {
            if (lsn > appliedLsn)
            {
                LogBuffer.Decode(log.Slice(payloadOffset, payloadLength), _segments);
            }

            previous = lsn;
            offset = payloadOffset + payloadLength;
        }

        validLength = offset;
        return Math.Max(previous, appliedLsn);
    }

    // At open: records after the applied position were acknowledged but never reached DuckDB.
    private void ReplayLog()
    {
        var log = _log!;
        if (log.Version is not WriteLog.FormatVersion and not WriteLog.LegacyFormatVersion)
        {
            _logger.LogWarning("The write log {Path} is in format version {Version} of a newer Plexus but holds no records; it is replaced by an empty log of version {Current}",
                log.Path, log.Version, WriteLog.FormatVersion);
        }

        long applied = Catalog.ReadAppliedLsn(_connection);
        byte[] file = log.ReadAll();
        _pending.Load(file.AsSpan(log.RecordsStart));
        long last = DecodeRecords(_pending.Written, applied, out int validLength, out var stop);
        if (stop != RecordStatus.End)
        {
            KeepDiscarded(file, log.RecordsStart + validLength, stop, last);
        }

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
        if (log.Version == WriteLog.LegacyFormatVersion && file.Length > 0)
        {
            _logger.LogInformation("The write log {Path} was in the header-less format of an earlier Plexus; after its replay it is rewritten in format version {Version}", log.Path, WriteLog.FormatVersion);
        }

        log.StartEmpty();
        _loggedLsn = last;
        _appliedLsn = last;
        _lastIssuedLsn = last;
    }

    /// <summary>
    /// Replay stops at the first record that is not whole; the bytes from there on are never applied. They are
    /// not thrown away silently either: they are copied beside the log and the copy, offset and size are logged.
    /// </summary>
    private void KeepDiscarded(byte[] file, int offset, RecordStatus stop, long lastLsn)
    {
        var log = _log!;
        var discarded = file.AsSpan(offset);
        string copy = DiscardedCopyPath(log.Path);
        try
        {
            _options.LogFile.Replace(copy, discarded);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new StorageException(
                $"The write log {log.Path} has {discarded.Length} bytes from offset {offset} on that cannot be replayed, and keeping a copy of them in {copy} failed ({error.Message}). " +
                "The log is left as it is; free space in the data folder (or make it writable) and start again.", error);
        }

        string what = stop switch
        {
            RecordStatus.Torn => "a torn last record (a write the process died in, never acknowledged)",
            RecordStatus.Corrupt => "a record that fails its checksum (damaged on disk)",
            _ => "records left over from before the log was last emptied (already applied)",
        };
        var records = file.AsSpan(log.RecordsStart);
        int next = WriteLog.FindWholeRecordAfter(records, offset - log.RecordsStart, lastLsn);
        if (next >= 0)
        {
            _logger.LogError("The write log {Path} holds {What} at offset {Offset}, and whole records follow it from offset {Next}: they may be acknowledged writes. " +
                "Replay stops at the damage, so these {Size} bytes are not in the database; they are kept in {Copy}",
                log.Path, what, offset, log.RecordsStart + next, discarded.Length, copy);
        }
        else
        {
            _logger.LogWarning("The write log {Path} ends in {What} at offset {Offset}: those {Size} bytes are not replayed; they are kept in {Copy}",
                log.Path, what, offset, discarded.Length, copy);
        }
    }

    private string DiscardedCopyPath(string logPath)
    {
        string stamp = _time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        string path = $"{logPath}.discarded-{stamp}";
        for (int n = 2; File.Exists(path); n++)
        {
            path = $"{logPath}.discarded-{stamp}-{n}";
        }

        return path;
    }

    private void CommitGroup(List<WriteRequest> group)
    {
        try
        {
            _committer.Commit(group);
            SetDatabaseFault(null);
            Complete(group);
            return;
        }
        catch (Exception error)
        {
            Recover(error);

            // The disk, not a request: committing the requests one by one would fail each the same way.
            if (StoreFault.IsIo(error))
            {
                var fault = StoreFault.Of(error);
                _logger.LogError(error, "Committing {Requests} writes to the database failed ({Reason}); writes are refused until a commit succeeds again, checked once a second", group.Count, fault.Reason);
                SetDatabaseFault(fault);
                Refuse(group, fault, error);
                return;
            }

            if (group.Count == 1)
            {
                // The message reaches clients: the engine's own (which may name files) stays in the log.
                _logger.LogError(error, "Write of {Points} points to namespace {Namespace} failed", group[0].Batch.Count, group[0].Namespace);
                group[0].Completion.TrySetException(new StorageException("The write could not be stored: the database refused the commit (the server log has the details).", error));
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
        var observer = CommitObserver;

        // One clock read for the group; the writes in it differ only in how long each waited in the queue.
        long committedAt = _time.GetTimestamp();
        foreach (var request in group)
        {
            CommitLatency.Observe(_time.GetElapsedTime(request.QueuedAt, committedAt));
            if (observer is not null && request.Written > 0)
            {
                Observe(observer, request);
            }

            request.Completion.TrySetResult(request.ToResult());
        }
    }

    private void Observe(ICommitObserver observer, WriteRequest request)
    {
        try
        {
            observer.Committed(new CommittedWrite(request.Namespace, request.Batch, request.Origin, request.RefusedIndices, ++_observedWrites));
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            // The write is durable whatever an observer does; the observer stage catches its observers' failures, so
            // this is a failure of the stage itself.
            _logger.LogError(error, "The commit observer failed on a durable write of {Points} points to {Namespace}", request.Written, request.Namespace);
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
            writer.WriteAsync(ns, batch, limitsApply: false, IngestOrigin.Internal, cancellationToken);
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
