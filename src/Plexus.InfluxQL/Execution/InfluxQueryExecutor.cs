using System.Buffers;
using System.IO.Pipelines;
using Plexus.InfluxQL.Results;
using Plexus.InfluxQL.Syntax;
using Plexus.InfluxQL.Translation;
using Plexus.Query;
using Plexus.Storage;
using Plexus.Storage.Deleting;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Execution;

/// <summary>How the statements of a request ended, for what the HTTP layer reports after the body (CSV trailers).</summary>
public sealed record InfluxQueryOutcome(long Rows, long Bytes, bool Truncated, string? LastError);

/// <summary>
/// Runs the statements of one <c>/query</c> request in order and writes InfluxDB's answer as they run: per statement,
/// read the catalog of the databases it names, translate it to SQL, run that through <see cref="SqlQueryService"/>
/// (read-only, timeout, row limit, byte budget) and stream its rows as series. A statement's failure is its result's
/// <c>error</c>; the next statement still runs.
/// </summary>
public sealed class InfluxQueryExecutor
{
    // The window between the query's thread and the response, as for SQL answers.
    private static readonly PipeOptions AnswerPipe = new(pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, minimumSegmentSize: 16 * 1024, useSynchronizationContext: false);

    private readonly SqlQueryService _queries;
    private readonly Func<string, CancellationToken, Task>? _createDatabase;
    private readonly TimeProvider _time;
    private readonly Func<DeleteSelection, CancellationToken, Task<DeleteResult>>? _delete;

    /// <param name="createDatabase">Creates an empty namespace (CREATE DATABASE); null where the server cannot.</param>
    /// <param name="delete">The store's delete (DROP MEASUREMENT, DROP DATABASE, DELETE); null where the server cannot.</param>
    public InfluxQueryExecutor(SqlQueryService queries, Func<string, CancellationToken, Task>? createDatabase, TimeProvider time, Func<DeleteSelection, CancellationToken, Task<DeleteResult>>? delete = null)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(time);
        _queries = queries;
        _createDatabase = createDatabase;
        _time = time;
        _delete = delete;
    }

    /// <summary>Writes the answer to <paramref name="output"/>; the caller has sent the status (200) and the content type.</summary>
    public async Task<InfluxQueryOutcome> RunAsync(IReadOnlyList<Statement> statements, string defaultDatabase, InfluxOutputOptions options, Stream output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(statements);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        long now = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        var state = new InfluxAnswerState();
        var databases = new Dictionary<string, InfluxDatabase>(StringComparer.Ordinal);
        var scratch = new ArrayBufferWriter<byte>();
        long bytes = 0, rows = 0;
        bool truncated = false;
        string? lastError = null;
        bool envelope = !options.Csv && !options.Chunked;
        if (envelope)
        {
            await WriteAsync(output, options.Pretty ? "{\n  \"results\": ["u8.ToArray() : "{\"results\":["u8.ToArray(), cancellationToken);
        }

        for (int id = 0; id < statements.Count; id++)
        {
            if (envelope && id > 0)
            {
                await WriteAsync(output, ","u8.ToArray(), cancellationToken);
            }

            scratch.ResetWrittenCount();
            if (bytes >= options.MaxBytes)
            {
                // Statements that only answer errors must not grow the answer past the budget either.
                InfluxOutput.WriteError(scratch, id, $"not run: the answer already holds {bytes} bytes, as many as one request's answer may (--query-max-bytes); send the remaining statements in another request", options, state);
                await output.WriteAsync(scratch.WrittenMemory, cancellationToken);
                truncated = true;
                break;
            }

            try
            {
                var query = await PrepareAsync(statements[id], defaultDatabase, now, databases, cancellationToken);
                if (query?.Sql is null)
                {
                    InfluxOutput.WriteEmpty(scratch, id, options);
                }
                else
                {
                    var outcome = await StreamAsync(query, id, options, state, options.MaxBytes - bytes, output, cancellationToken);
                    bytes += outcome.Bytes;
                    rows += outcome.Rows;
                    truncated |= outcome.Truncated;
                    lastError = outcome.Error ?? lastError;
                    continue;
                }
            }
            catch (Exception error) when (Message(error) is { } message)
            {
                scratch.ResetWrittenCount();
                InfluxOutput.WriteError(scratch, id, message, options, state);
                lastError = message;
            }

            bytes += scratch.WrittenCount;
            await output.WriteAsync(scratch.WrittenMemory, cancellationToken);
        }

        if (envelope)
        {
            await WriteAsync(output, options.Pretty ? "\n  ]\n}\n"u8.ToArray() : "]}\n"u8.ToArray(), cancellationToken);
        }

        await output.FlushAsync(cancellationToken);
        return new InfluxQueryOutcome(rows, bytes, truncated, lastError);
    }

    /// <summary>The SQL of a statement, after whatever it does first (CREATE DATABASE); null when it has no rows to answer.</summary>
    private async Task<TranslatedStatement?> PrepareAsync(Statement statement, string defaultDatabase, long now, Dictionary<string, InfluxDatabase> databases, CancellationToken cancellationToken)
    {
        switch (statement)
        {
            case UnsupportedStatement unsupported:
                throw new StatementException($"{unsupported.What} is not supported by Plexus: {unsupported.Reason}. Plexus answers SELECT and SHOW in InfluxQL (docs/influxql.md); anything else can be asked in SQL on POST /api/v1/sql");
            case DeleteStatement delete:
                throw new StatementException($"{delete.What} is not available: delete with DELETE FROM measurement WHERE … or DROP MEASUREMENT instead (see docs/influxql.md#deleting-data)");
            case DropMeasurementStatement or DropDatabaseStatement or DeleteDataStatement:
                await DeleteAsync(statement, defaultDatabase, now, cancellationToken);
                databases.Clear();
                return null;
            case CreateDatabaseStatement create:
                databases.Remove(await CreateDatabaseAsync(create.Name, cancellationToken));
                return null;
        }

        foreach (string name in TranslationContext.DatabasesOf(statement, defaultDatabase))
        {
            if (!databases.ContainsKey(name))
            {
                databases[name] = await InfluxCatalog.LoadAsync(_queries, name, cancellationToken);
            }
        }

        var context = new TranslationContext(defaultDatabase, databases, now, _queries.Options.MaxRows);
        return statement is SelectStatement select
            ? SelectTranslator.Translate(select, context)
            : MetaTranslator.Translate(statement, context);
    }

    private async Task DeleteAsync(Statement statement, string defaultDatabase, long now, CancellationToken cancellationToken)
    {
        if (_delete is null)
        {
            throw new StatementException("this server cannot delete data");
        }

        var selection = InfluxDeletes.Selection(statement, defaultDatabase, now);
        try
        {
            await _delete(selection, cancellationToken);
        }
        catch (DeleteTargetNotFoundException error) when (statement is DeleteDataStatement)
        {
            // As InfluxDB: deleting from what does not exist deletes nothing, and is no error.
            _ = error;
        }
        catch (Exception error) when (error is DeleteTargetNotFoundException or DeletePredicateException or ArgumentException or UnauthorizedAccessException)
        {
            throw new StatementException(error.Message);
        }
    }

    private async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken)
    {
        if (_createDatabase is null)
        {
            throw new StatementException("this server cannot create databases");
        }

        if (name.Contains('/', StringComparison.Ordinal))
        {
            throw new StatementException($"cannot create database \"{name}\": a database name may contain only letters, digits, '_' and '-'");
        }

        if (!Namespaces.TryNormalize(name, out string ns, out string? error))
        {
            throw new StatementException($"cannot create database \"{name}\": {error}");
        }

        await _createDatabase(ns, cancellationToken);
        return ns;
    }

    private async Task<QueryOutcome> StreamAsync(TranslatedStatement query, int id, InfluxOutputOptions options, InfluxAnswerState state, long budget, Stream output, CancellationToken cancellationToken)
    {
        var pipe = new Pipe(AnswerPipe);
        var writer = new InfluxSeriesWriter(id, query.Shape, options, state);
        var running = await _queries.StartAsync(new QueryRequest(query.Sql!), writer, pipe.Writer, Math.Max(0, budget), cancellationToken);
        try
        {
            await pipe.Reader.CopyToAsync(output, cancellationToken);
            await pipe.Reader.CompleteAsync();
        }
        catch (Exception error)
        {
            // The client left: the query's thread sees the pipe closed (or the cancellation) and stops.
            await pipe.Reader.CompleteAsync(error);
            await running.Completion;
            throw;
        }

        return await running.Completion;
    }

    /// <summary>The statement's error for failures that belong to it; null for those that end the request (the client left).</summary>
    private static string? Message(Exception error) => error switch
    {
        StatementException => error.Message,
        QueryFailedException => InfluxErrors.FromEngine(error.Message),
        QueryTimeoutException or QueryBusyException or StoreUnavailableException => error.Message,
        QueryRefusedException => "the SQL this statement became was refused: " + error.Message,
        _ => null,
    };

    private static ValueTask WriteAsync(Stream output, byte[] bytes, CancellationToken cancellationToken) => output.WriteAsync(bytes, cancellationToken);
}
