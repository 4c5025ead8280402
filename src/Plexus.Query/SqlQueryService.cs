using System.Data.Common;
using System.Runtime.InteropServices;
using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Query;

/// <summary>A column of a query result: its name and its SQL type name (as DuckDB spells it).</summary>
public sealed record QueryColumn(string Name, string Type);

/// <summary>A finished query: columns, rows (at most the configured limit) and whether rows were left out.</summary>
public sealed record QueryResult(IReadOnlyList<QueryColumn> Columns, IReadOnlyList<object?[]> Rows, bool Truncated);

/// <summary>
/// Runs read-only SQL against the store. Each query gets its own connection, a time limit and a row limit;
/// statements that could change data, schema, settings or files are refused before anything runs.
/// </summary>
public sealed partial class SqlQueryService
{
    // duckdb_statement_type values of the C API (duckdb.h). DuckDB.NET's own enum is numbered differently,
    // so the raw values are used. Only these two cannot change anything.
    private const int StatementSelect = 1;
    private const int StatementExplain = 4;

    private readonly PlexusStore _store;
    private readonly QueryOptions _options;

    public SqlQueryService(PlexusStore store, QueryOptions options)
    {
        _store = store;
        _options = options;
    }

    public QueryOptions Options => _options;

    public Task<QueryResult> ExecuteAsync(string sql, string? defaultNamespace, CancellationToken cancellationToken) =>
        Task.Run(() => Execute(sql, defaultNamespace, cancellationToken), cancellationToken);

    private QueryResult Execute(string sql, string? defaultNamespace, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(sql))
        {
            throw new QueryFailedException("the request has no SQL: send {\"sql\": \"SELECT ...\"}");
        }

        using var connection = _store.OpenReadConnection();
        if (!string.IsNullOrEmpty(defaultNamespace))
        {
            if (!Namespaces.TryNormalize(defaultNamespace, out string ns, out string? error))
            {
                throw new QueryFailedException(error!);
            }

            Run(connection, $"USE {SqlNames.Quote(ns)}", $"namespace \"{ns}\" does not exist");
        }

        EnsureReadOnly(connection, sql);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        using var interrupt = timeout.Token.Register(() => connection.NativeConnection.Interrupt());
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            using var reader = command.ExecuteReader();
            return ReadAll(reader, timeout.Token);
        }
        catch (Exception error) when (error is DuckDBException or OperationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (timeout.IsCancellationRequested)
            {
                throw new QueryTimeoutException(_options.Timeout);
            }

            throw new QueryFailedException(error.Message, error);
        }
    }

    private QueryResult ReadAll(DbDataReader reader, CancellationToken cancellationToken)
    {
        var columns = new QueryColumn[reader.FieldCount];
        for (int i = 0; i < columns.Length; i++)
        {
            columns[i] = new QueryColumn(reader.GetName(i), SqlTypeName(reader.GetDataTypeName(i)));
        }

        var rows = new List<object?[]>();
        bool truncated = false;
        while (reader.Read())
        {
            if (rows.Count == _options.MaxRows)
            {
                truncated = true;
                break;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var row = new object?[columns.Length];
            for (int i = 0; i < row.Length; i++)
            {
                row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            }

            rows.Add(row);
        }

        return new QueryResult(columns, rows, truncated);
    }

    /// <summary>
    /// Prepares each statement (which plans it without running it) and refuses anything but SELECT and
    /// EXPLAIN. DESCRIBE, SHOW, SUMMARIZE and read-only PRAGMAs are SELECTs to DuckDB and pass.
    /// </summary>
    private static void EnsureReadOnly(DuckDBConnection connection, string sql)
    {
        int count = NativeMethods.ExtractStatements.DuckDBExtractStatements(connection.NativeConnection, sql, out var statements);
        using (statements)
        {
            if (count <= 0)
            {
                string message = NativeMethods.ExtractStatements.DuckDBExtractStatementsError(statements);
                throw new QueryFailedException(string.IsNullOrEmpty(message) ? "the SQL holds no statement" : message);
            }

            if (count > 1)
            {
                throw new QueryFailedException($"send one statement per request (this SQL holds {count})");
            }

            var state = NativeMethods.ExtractStatements.DuckDBPrepareExtractedStatement(connection.NativeConnection, statements, 0, out var prepared);
            using (prepared)
            {
                if (state == DuckDBState.Error)
                {
                    string message = NativeMethods.PreparedStatements.DuckDBPrepareError(prepared);

                    // File access is switched off in the engine (see PlexusStore); that is a refusal, not a mistake.
                    throw message.StartsWith("Permission Error", StringComparison.Ordinal)
                        ? new QueryRefusedException(message)
                        : new QueryFailedException(message);
                }

                int type = PreparedStatementType(prepared.DangerousGetHandle());
                if (type is not (StatementSelect or StatementExplain))
                {
                    throw new QueryRefusedException("only read-only statements (SELECT, EXPLAIN, DESCRIBE, SHOW) are allowed on the query API; data is written through the write API");
                }
            }
        }
    }

    private static void Run(DuckDBConnection connection, string sql, string failure)
    {
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }
        catch (DuckDBException error)
        {
            throw new QueryFailedException(failure, error);
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

    [LibraryImport("duckdb", EntryPoint = "duckdb_prepared_statement_type")]
    private static partial int PreparedStatementType(IntPtr preparedStatement);
}
