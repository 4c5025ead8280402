using System.IO.Pipelines;
using System.Text.Json;
using DuckDB.NET.Data;
using Plexus.Query.ReadOnly;
using Plexus.Query.Results;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Query;

/// <summary>A query whose first rows are ready: its columns, and the end of its answer.</summary>
public sealed record RunningQuery(IReadOnlyList<QueryColumn> Columns, Task<QueryOutcome> Completion);

/// <summary>
/// Runs read-only SQL against the store. Each query gets its own read-only connection, its own thread, a time limit,
/// a row limit and a byte budget, and waits for one of a fixed number of slots; its answer streams out as the engine
/// produces it.
/// </summary>
/// <remarks>
/// Why a thread of its own: the engine's calls block (planning, fetching a chunk, a long aggregate), and on the
/// request pool they would hold workers that HTTP writes and MQTT acknowledgements need. A query's thread lives as
/// long as the query, and the number of them is the number of slots.
/// </remarks>
public sealed partial class SqlQueryService : IDisposable
{
    private readonly PlexusStore _store;
    private readonly QueryOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly TimeProvider _time;

    /// <param name="time">The clock the timeout and the wait for a slot are measured on (the real one when null).</param>
    public SqlQueryService(PlexusStore store, QueryOptions options, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxConcurrent);
        _store = store;
        _options = options;
        _slots = new SemaphoreSlim(options.MaxConcurrent, options.MaxConcurrent);
        _time = time ?? TimeProvider.System;
    }

    public QueryOptions Options => _options;

    /// <summary>Queries running now (holding a slot).</summary>
    public int Running => _options.MaxConcurrent - _slots.CurrentCount;

    /// <summary>
    /// Plans and starts a query, and returns once its first rows are ready; the answer is written to
    /// <paramref name="output"/> (completed when the answer ends) while the caller drains it. Errors found before the
    /// first row (refusal, syntax, timeout, no slot) are thrown, with nothing written.
    /// </summary>
    /// <exception cref="QueryRefusedException">Not a read, or beyond the caller's namespaces.</exception>
    /// <exception cref="QueryFailedException">The engine rejected the statement.</exception>
    /// <exception cref="QueryTimeoutException">It ran past the timeout before its first row.</exception>
    /// <exception cref="QueryBusyException">Every slot stayed taken for <see cref="QueryOptions.QueueWait"/>.</exception>
    public Task<RunningQuery> StartAsync(QueryRequest request, QueryResultFormat format, PipeWriter output, JsonWriterOptions jsonOptions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        RowSink sink = format == QueryResultFormat.Csv
            ? new CsvRowSink(output, _options.MaxBytes, cancellationToken)
            : new JsonRowSink(output, _options.MaxBytes, jsonOptions, cancellationToken);
        return StartAsync(request, sink, cancellationToken);
    }

    /// <summary>
    /// As above, in an answer format of the caller's (<see cref="QueryAnswerFormat"/>), under the same checks, timeout,
    /// row limit and byte budget; <paramref name="maxBytes"/> may lower the budget (what a request of several statements
    /// has left), never raise it.
    /// </summary>
    public Task<RunningQuery> StartAsync(QueryRequest request, QueryAnswerFormat format, PipeWriter output, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(output);
        var sink = new FormattedRowSink(format, output, Math.Min(maxBytes, _options.MaxBytes), cancellationToken);
        return StartAsync(request, sink, cancellationToken);
    }

    /// <summary>Call once the HTTP server has stopped: no query may be running.</summary>
    public void Dispose() => _slots.Dispose();

    /// <summary>Runs a query and keeps its whole result (up to the row limit), for callers inside the server and tests.</summary>
    public async Task<QueryResult> ExecuteAsync(string sql, string? defaultNamespace, CancellationToken cancellationToken)
    {
        var sink = new CollectingRowSink();
        var running = await StartAsync(new QueryRequest(sql, defaultNamespace), sink, cancellationToken);
        var outcome = await running.Completion;
        if (outcome.End == QueryEnd.Timeout)
        {
            throw new QueryTimeoutException(_options.Timeout);
        }

        if (outcome.End is QueryEnd.Failed)
        {
            throw new QueryFailedException(outcome.Error ?? "the query failed");
        }

        cancellationToken.ThrowIfCancellationRequested();
        return new QueryResult(sink.Columns, sink.Rows, outcome.Truncated);
    }

    private async Task<RunningQuery> StartAsync(QueryRequest request, RowSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Sql))
        {
            throw new QueryFailedException("the request has no SQL: send {\"sql\": \"SELECT ...\"}");
        }

        if (!await WaitForSlotAsync(cancellationToken))
        {
            throw new QueryBusyException(
                $"{_options.MaxConcurrent} queries are running, as many as --query-concurrency allows; try again in a moment",
                TimeSpan.FromSeconds(1));
        }

        var run = new QueryRun(this, request, sink, cancellationToken);
        try
        {
            var thread = new Thread(run.Run) { IsBackground = true, Name = "plexus-query" };
            thread.Start();
        }
        catch
        {
            _slots.Release();
            throw;
        }

        var columns = await run.Started.Task;
        return new RunningQuery(columns, run.Done.Task);
    }

    private async Task<bool> WaitForSlotAsync(CancellationToken cancellationToken)
    {
        if (_slots.Wait(0, CancellationToken.None))
        {
            return true;
        }

        using var queueWait = new CancellationTokenSource(_options.QueueWait, _time);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, queueWait.Token);
        try
        {
            await _slots.WaitAsync(waiting.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>One query on its own thread: plan, check, run, hand rows to the sink, and give the slot back.</summary>
    private sealed class QueryRun(SqlQueryService service, QueryRequest request, RowSink sink, CancellationToken aborted)
    {
        public TaskCompletionSource<IReadOnlyList<QueryColumn>> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<QueryOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Run()
        {
            var options = service._options;
            long rows = 0;
            var end = QueryEnd.Complete;
            string? error = null;
            bool begun = false;
            using var deadline = new CancellationTokenSource(options.Timeout, service._time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted, deadline.Token);
            try
            {
                using var connection = service._store.OpenReadConnection();
                using var interrupt = timeout.Token.Register(() => connection.NativeConnection.Interrupt());
                UseNamespace(connection, request.Namespace);
                string sql = ReadOnlyQuery.Check(connection, request.Sql, request.Namespaces, service._store.Cold.Directory);
                timeout.Token.ThrowIfCancellationRequested();
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                command.UseStreamingMode = true;
                using var reader = command.ExecuteReader();
                bool hasRow = reader.Read();
                var columns = Columns(reader);
                sink.Begin(reader, columns);
                begun = true;
                Started.TrySetResult(columns);
                while (hasRow)
                {
                    if (rows == options.MaxRows)
                    {
                        end = QueryEnd.RowLimit;
                        break;
                    }

                    if (!sink.TryAdd(reader))
                    {
                        end = sink.StopReason;
                        break;
                    }

                    rows++;
                    hasRow = reader.Read();
                }
            }
            catch (Exception failure) when (failure is not OutOfMemoryException)
            {
                var mapped = Map(failure, timeout.Token);
                if (!begun)
                {
                    Started.TrySetException(mapped);
                }
                else
                {
                    end = aborted.IsCancellationRequested ? QueryEnd.Cancelled : mapped is QueryTimeoutException ? QueryEnd.Timeout : QueryEnd.Failed;
                    error = mapped.Message;
                }
            }
            finally
            {
                var outcome = new QueryOutcome(rows, sink.Bytes, end, error);
                if (begun)
                {
                    try
                    {
                        sink.End(outcome);
                    }
                    catch (Exception failure) when (failure is not OutOfMemoryException)
                    {
                        // This thread is the query's own: nothing may escape it, or the process ends.
                        outcome = outcome with { End = QueryEnd.Cancelled };
                    }
                }

                sink.Dispose();
                service._slots.Release();
                Done.TrySetResult(outcome);
            }
        }

        private Exception Map(Exception failure, CancellationToken timeout)
        {
            if (aborted.IsCancellationRequested)
            {
                return new OperationCanceledException("the client went away", failure, aborted);
            }

            if (timeout.IsCancellationRequested)
            {
                return new QueryTimeoutException(service._options.Timeout);
            }

            // Neither the client nor the timeout: the engine interrupted its streaming thread because another of its
            // threads failed, and the driver reports that as a bare cancellation, the real error's text lost.
            if (failure is OperationCanceledException)
            {
                return new QueryFailedException("the engine stopped the query while its rows were streaming, without giving the error (one of its parallel threads failed, e.g. on a bad cast or error()); run it again, with a LIMIT or a narrower filter, to see the error", failure);
            }

            // The disk failing under a query (a spill to a full temp folder, say) is the store's trouble, not the
            // statement's, and the engine's message names server files: the client gets a 503 without them.
            if (failure is not StorageException && StoreFault.IsIo(failure))
            {
                return new StoreUnavailableException("the store cannot read or write its files (an I/O error; see the server log); try again later", failure);
            }

            if (failure is DuckDBException engine)
            {
                // The engine's own refusals: a write in the read-only transaction, a file outside SQL's reach.
                return engine.Message.Contains("read-only mode", StringComparison.Ordinal) || engine.Message.StartsWith("Permission Error", StringComparison.Ordinal)
                    ? new QueryRefusedException(ReadOnly.ReadOnlyQuery.ReadOnlyRule + " (" + engine.Message + ")")
                    : new QueryFailedException(engine.Message, engine);
            }

            return failure;
        }

        private static void UseNamespace(DuckDBConnection connection, string? name)
        {
            if (string.IsNullOrEmpty(name))
            {
                return;
            }

            if (!Namespaces.TryNormalize(name, out string ns, out string? error))
            {
                throw new QueryFailedException(error!);
            }

            try
            {
                using var command = connection.CreateCommand();
                command.CommandText = $"USE {SqlNames.Quote(ns)}";
                command.ExecuteNonQuery();
            }
            catch (DuckDBException failure)
            {
                throw new QueryFailedException($"namespace \"{ns}\" does not exist", failure);
            }
        }

        private static QueryColumn[] Columns(DuckDBDataReader reader)
        {
            var columns = new QueryColumn[reader.FieldCount];
            for (int i = 0; i < columns.Length; i++)
            {
                columns[i] = new QueryColumn(reader.GetName(i), SqlTypeName(reader.GetDataTypeName(i)));
            }

            return columns;
        }
    }

    /// <summary>DuckDB.NET names types after its enum (TimestampNs); users know them by their SQL names (TIMESTAMP_NS).</summary>
    private static string SqlTypeName(string duckDbNetName) => duckDbNetName switch
    {
        "TinyInt" => "TINYINT",
        "SmallInt" => "SMALLINT",
        "UnsignedTinyInt" => "UTINYINT",
        "UnsignedSmallInt" => "USMALLINT",
        "UnsignedInteger" => "UINTEGER",
        "UnsignedBigInt" => "UBIGINT",
        "BigInt" => "BIGINT",
        "HugeInt" => "HUGEINT",
        "UnsignedHugeInt" => "UHUGEINT",
        "TimestampS" => "TIMESTAMP_S",
        "TimestampMs" => "TIMESTAMP_MS",
        "TimestampNs" => "TIMESTAMP_NS",
        "TimestampTz" => "TIMESTAMPTZ",
        "TimeTz" => "TIMETZ",
        "VarInt" => "VARINT",
        "SqlNull" => "NULL",
        _ => duckDbNetName.ToUpperInvariant(),
    };
}
