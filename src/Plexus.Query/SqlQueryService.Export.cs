using System.Buffers;
using System.IO.Pipelines;
using DuckDB.NET.Data;
using Plexus.Query.Export;
using Plexus.Storage;
using Plexus.Storage.Exporting;
using Plexus.Storage.Schema;

namespace Plexus.Query;

/// <summary>An export whose query is planned: its columns, and the end of its answer (the rows written).</summary>
public sealed record RunningExport(IReadOnlyList<ExportColumn> Columns, Task<ExportOutcome> Completion);

/// <summary>How an export ended: the rows written, and the error that stopped it after its first bytes, if one did.</summary>
public sealed record ExportOutcome(long Rows, long Bytes, bool Cancelled, string? Error);

public sealed partial class SqlQueryService
{
    private const int ExportFlushEvery = 64 * 1024;

    /// <summary>Subfolder of the cold tier's folder (the one the engine may write) where a Parquet export is staged.</summary>
    public const string ExportStagingFolder = "export-staging";

    /// <summary>
    /// Starts a bulk export of one measurement (docs/export-import.md): it takes a query slot like any query, but has
    /// no timeout, row limit or byte budget, because its size is the measurement's. CSV, JSON lines and line protocol
    /// stream row by row into <paramref name="output"/>, whose pause threshold holds the export's thread while the
    /// client reads, so memory holds one row and the pipe's window. Parquet is written by the engine's COPY into a
    /// staging file in the cold folder (the one folder the engine may write), which is then streamed and deleted.
    /// Errors found before the first byte (no such measurement, an unknown tag, no slot) are thrown, with nothing written.
    /// </summary>
    /// <exception cref="ExportTargetNotFoundException">The measurement does not exist.</exception>
    /// <exception cref="Storage.Deleting.DeletePredicateException">The predicate names a tag the measurement lacks.</exception>
    /// <exception cref="QueryBusyException">Every slot stayed taken for <see cref="QueryOptions.QueueWait"/>.</exception>
    public async Task<RunningExport> StartExportAsync(ExportSelection selection, ExportFormat format, PipeWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(output);
        if (!await WaitForSlotAsync(cancellationToken))
        {
            throw new QueryBusyException(
                $"{_options.MaxConcurrent} queries and exports are running, as many as --query-concurrency allows; try again in a moment",
                TimeSpan.FromSeconds(1));
        }

        var run = new ExportRun(this, selection, format, output, cancellationToken);
        try
        {
            var thread = new Thread(run.Run) { IsBackground = true, Name = "plexus-export" };
            thread.Start();
        }
        catch
        {
            _slots.Release();
            throw;
        }

        var columns = await run.Started.Task;
        return new RunningExport(columns, run.Done.Task);
    }

    /// <summary>A new path for a staging file in the one folder the engine may read and write (the cold tier's), for a Parquet upload.</summary>
    public string NewStagingPath()
    {
        string folder = Path.Combine(_store.Cold.Directory, ExportStagingFolder);
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, Guid.NewGuid().ToString("N") + ".parquet");
    }

    /// <summary>
    /// Reads a Parquet file (staged by <see cref="NewStagingPath"/>) with the engine and writes its rows into
    /// <paramref name="output"/> as an export's CSV (a typed header, then one row per line), which the CSV import then
    /// decodes: one decoder for both. The file needs a <c>time</c> column (a timestamp or Unix nanoseconds); its other
    /// columns are fields by their type, except the tags named by the file's <c>plexus.tags</c> metadata (which Parquet
    /// exports write) or by <paramref name="tagColumns"/>, and VARCHAR columns are tags when neither names any.
    /// </summary>
    /// <exception cref="QueryFailedException">The file does not read as Parquet, or a column's type has no field type.</exception>
    public async Task<Task<ExportOutcome>> StartParquetAsCsvAsync(string path, IReadOnlyCollection<string>? tagColumns, PipeWriter output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (!await WaitForSlotAsync(cancellationToken))
        {
            throw new QueryBusyException($"{_options.MaxConcurrent} queries and exports are running, as many as --query-concurrency allows; try again in a moment", TimeSpan.FromSeconds(1));
        }

        var run = new ExportRun(this, null, ExportFormat.Csv, output, cancellationToken) { ParquetSource = (path, tagColumns) };
        try
        {
            var thread = new Thread(run.Run) { IsBackground = true, Name = "plexus-import-parquet" };
            thread.Start();
        }
        catch
        {
            _slots.Release();
            throw;
        }

        await run.Started.Task;
        return run.Done.Task;
    }

    private sealed class ExportRun(SqlQueryService service, ExportSelection? selection, ExportFormat format, PipeWriter output, CancellationToken aborted)
    {
        private long _unflushed;
        private long _bytes;
        private bool _readerGone;

        public TaskCompletionSource<IReadOnlyList<ExportColumn>> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Set for a Parquet upload read back as CSV, instead of a selection.</summary>
        public (string Path, IReadOnlyCollection<string>? TagColumns)? ParquetSource { get; init; }

        public TaskCompletionSource<ExportOutcome> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Run()
        {
            long rows = 0;
            string? error = null;
            bool begun = false;
            string? staged = null;
            try
            {
                using var connection = service._store.OpenReadConnection();
                using var interrupt = aborted.Register(() => connection.NativeConnection.Interrupt());
                var plan = ParquetSource is { } source
                    ? ParquetPlan(connection, source.Path, source.TagColumns)
                    : ExportPlanner.Plan(connection, selection!, timeAsTimestamp: format == ExportFormat.Parquet);
                if (format == ExportFormat.Parquet)
                {
                    staged = Path.Combine(service._store.Cold.Directory, ExportStagingFolder, Guid.NewGuid().ToString("N") + ".parquet");
                    rows = CopyToParquet(connection, plan, staged);
                    begun = true;
                    Started.TrySetResult(plan.Columns);
                    StreamFile(staged);
                    return;
                }

                using var command = Command(connection, plan.Sql, plan.Parameters);
                command.UseStreamingMode = true;
                using var reader = command.ExecuteReader();
                var rowFormat = ExportRowFormat.Create(format, selection?.Measurement ?? "", plan.Columns);
                var scratch = new ArrayBufferWriter<byte>(16 * 1024);
                rowFormat.Begin(scratch);
                begun = true;
                Started.TrySetResult(plan.Columns);
                while (!_readerGone && reader.Read())
                {
                    if (rowFormat.FormatRow(reader, scratch))
                    {
                        rows++;
                    }

                    if (scratch.WrittenCount >= ExportFlushEvery)
                    {
                        Send(scratch.WrittenSpan);
                        scratch.ResetWrittenCount();
                    }
                }

                Send(scratch.WrittenSpan);
            }
            catch (Exception failure) when (failure is not OutOfMemoryException)
            {
                var mapped = Map(failure);
                if (!begun)
                {
                    Started.TrySetException(mapped);
                }
                else
                {
                    error = mapped.Message;
                }
            }
            finally
            {
                if (staged is not null)
                {
                    TryDelete(staged);
                }

                if (begun)
                {
                    Flush();
                    output.Complete(error is null ? null : new IOException(error));
                }

                service._slots.Release();
                Done.TrySetResult(new ExportOutcome(rows, _bytes, aborted.IsCancellationRequested || _readerGone, error));
            }
        }

        private Exception Map(Exception failure)
        {
            if (aborted.IsCancellationRequested)
            {
                return new OperationCanceledException("the client went away", failure, aborted);
            }

            if (failure is not StorageException && StoreFault.IsIo(failure))
            {
                return new StoreUnavailableException("the store cannot read or write its files (an I/O error; see the server log); try again later", failure);
            }

            return failure is DuckDBException engine ? new QueryFailedException(engine.Message, engine) : failure;
        }

        /// <summary>
        /// COPY of the plan's rows to a staging Parquet file, time as TIMESTAMP_NS, and which columns are tags in the
        /// file's key-value metadata (<c>plexus.tags</c>, a JSON array) so an import tells tags from fields.
        /// </summary>
        private static long CopyToParquet(DuckDBConnection connection, ExportPlan plan, string path)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string tags = System.Text.Json.JsonSerializer.Serialize(plan.Columns.Where(c => c.Role == ExportColumnRole.Tag).Select(c => c.Name));
            using var command = Command(connection,
                $"COPY ({plan.Sql}) TO {SqlNames.Literal(path)} (FORMAT parquet, COMPRESSION zstd, KV_METADATA {{'plexus.tags': {SqlNames.Literal(tags)}}})", plan.Parameters);
            return command.ExecuteNonQuery();
        }

        private void StreamFile(string path)
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            var buffer = new byte[ExportFlushEvery];
            int read;
            while (!_readerGone && (read = file.Read(buffer)) > 0)
            {
                Send(buffer.AsSpan(0, read));
            }
        }

        private static ExportPlan ParquetPlan(DuckDBConnection connection, string path, IReadOnlyCollection<string>? tagColumns)
        {
            string file = SqlNames.Literal(path);
            var described = new List<(string Name, string Type)>();
            using (var describe = Command(connection, $"DESCRIBE SELECT * FROM read_parquet({file})", []))
            using (var reader = describe.ExecuteReader())
            {
                while (reader.Read())
                {
                    described.Add((reader.GetString(0), reader.GetString(1)));
                }
            }

            var tags = tagColumns is { Count: > 0 } ? new HashSet<string>(tagColumns, StringComparer.Ordinal) : null;
            if (tags is null)
            {
                using var metadata = Command(connection, $"SELECT decode(value) FROM parquet_kv_metadata({file}) WHERE decode(key) = 'plexus.tags'", []);
                if (metadata.ExecuteScalar() is string json)
                {
                    tags = new HashSet<string>(System.Text.Json.JsonSerializer.Deserialize<string[]>(json) ?? [], StringComparer.Ordinal);
                }
            }

            var timeColumn = described.FirstOrDefault(c => c.Name == SqlNames.TimeColumn);
            if (timeColumn.Name is null)
            {
                throw new QueryFailedException($"the Parquet file has no column \"{SqlNames.TimeColumn}\"; its columns are {string.Join(", ", described.Select(c => c.Name))}");
            }

            var columns = new List<ExportColumn> { new(SqlNames.TimeColumn, ExportColumnRole.Time, Core.FieldType.Integer) };
            var sql = new System.Text.StringBuilder(timeColumn.Type.StartsWith("TIMESTAMP", StringComparison.Ordinal)
                ? $"SELECT epoch_ns({SqlNames.Quote(SqlNames.TimeColumn)})" : $"SELECT CAST({SqlNames.Quote(SqlNames.TimeColumn)} AS BIGINT)");
            foreach (var (name, type) in described.Where(c => c.Name != SqlNames.TimeColumn).OrderBy(c => tags?.Contains(c.Name) ?? c.Type == "VARCHAR" ? 0 : 1))
            {
                bool isTag = tags?.Contains(name) ?? type == "VARCHAR";
                var fieldType = isTag ? Core.FieldType.String : FieldTypeOf(type)
                    ?? throw new QueryFailedException($"column \"{name}\" of the Parquet file has type {type}, which no field type holds (float, integer, unsigned, boolean, string)");
                columns.Add(new ExportColumn(name, isTag ? ExportColumnRole.Tag : ExportColumnRole.Field, fieldType));
                sql.Append(", ").Append(SqlNames.Quote(name));
                if (!isTag)
                {
                    sql.Append("::").Append(Catalog.SqlType(fieldType));
                }
            }

            sql.Append(" FROM read_parquet(").Append(file).Append(')');
            return new ExportPlan(sql.ToString(), [], columns);
        }

        private static Core.FieldType? FieldTypeOf(string sqlType) => sqlType switch
        {
            "DOUBLE" or "FLOAT" or "DECIMAL" => Core.FieldType.Float,
            "BIGINT" or "INTEGER" or "SMALLINT" or "TINYINT" => Core.FieldType.Integer,
            "UBIGINT" or "UINTEGER" or "USMALLINT" or "UTINYINT" => Core.FieldType.UInteger,
            "BOOLEAN" => Core.FieldType.Boolean,
            "VARCHAR" => Core.FieldType.String,
            _ when sqlType.StartsWith("DECIMAL", StringComparison.Ordinal) => Core.FieldType.Float,
            _ => null,
        };

        private static DuckDBCommand Command(DuckDBConnection connection, string sql, IReadOnlyList<object?> parameters)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (object? value in parameters)
            {
                command.Parameters.Add(new DuckDBParameter(value ?? DBNull.Value));
            }

            return command;
        }

        private void Send(ReadOnlySpan<byte> bytes)
        {
            if (_readerGone || bytes.IsEmpty)
            {
                return;
            }

            output.Write(bytes);
            _bytes += bytes.Length;
            _unflushed += bytes.Length;
            if (_unflushed >= ExportFlushEvery)
            {
                Flush();
            }
        }

        private void Flush()
        {
            if (_readerGone)
            {
                return;
            }

            _unflushed = 0;
            try
            {
                var flush = output.FlushAsync(aborted);
                var result = flush.IsCompleted ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
                _readerGone = result.IsCompleted || result.IsCanceled;
            }
            catch (OperationCanceledException)
            {
                _readerGone = true;
            }
        }

        private static void TryDelete(string path)
        {
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
                // The cold tier's start deletes files no manifest row names, this one too.
            }
        }
    }
}
