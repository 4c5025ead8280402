using System.Data.Common;
using DuckDB.NET.Data;

namespace Plexus.Storage;

/// <summary>
/// The one way Plexus writes its own metadata into DuckDB: registry tables and their history, live-state snapshots,
/// the views and macros over them. Obtained from <see cref="PlexusStore.OpenMetadataConnection"/>; user SQL never
/// gets one (queries use <see cref="PlexusStore.OpenReadConnection"/>), and measurement rows go through the store's
/// writer, not through here.
/// </summary>
/// <remarks>
/// Not thread-safe, like the DuckDB connection it holds: each registry serializes its use under its own lock.
/// Parameters are bound as <c>$1</c>, <c>$2</c>...; a null is bound as SQL NULL.
/// </remarks>
public sealed class MetadataConnection : IDisposable
{
    private readonly DuckDBConnection _connection;
    private bool _inTransaction;

    internal MetadataConnection(DuckDBConnection connection) => _connection = connection;

    /// <summary>
    /// The DuckDB connection itself, for what statements cannot do: registering a C# scalar function, an appender.
    /// Write statements go through <see cref="Execute"/> and <see cref="InTransaction"/>.
    /// </summary>
    public DuckDBConnection Connection => _connection;

    public void Execute(string sql, params ReadOnlySpan<object?> parameters) => Execute(_connection, sql, parameters);

    /// <summary>Runs a query and calls <paramref name="row"/> for each row, while the reader is on it.</summary>
    public void Query(string sql, Action<DbDataReader> row, params ReadOnlySpan<object?> parameters) => ForEachRow(_connection, sql, row, parameters);

    /// <summary>The first column of the first row, or null when there is none (or it is SQL NULL).</summary>
    public object? Scalar(string sql, params ReadOnlySpan<object?> parameters)
    {
        using var command = Command(_connection, sql, parameters);
        object? value = command.ExecuteScalar();
        return value is DBNull ? null : value;
    }

    /// <summary>
    /// Runs <paramref name="body"/> in one transaction: committed when it returns, rolled back when it throws (the
    /// exception then goes on to the caller unchanged). A registry row and its history change together or not at all.
    /// </summary>
    /// <exception cref="InvalidOperationException">A transaction is already open here: DuckDB does not nest them, so the inner work belongs in the outer body.</exception>
    public void InTransaction(Action body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (_inTransaction)
        {
            throw new InvalidOperationException("a metadata transaction is already open on this connection; DuckDB does not nest transactions, so do the inner work inside the outer one");
        }

        Execute("BEGIN TRANSACTION");
        _inTransaction = true;
        try
        {
            body();
            Execute("COMMIT");
        }
        catch
        {
            RollBackQuietly();
            throw;
        }
        finally
        {
            _inTransaction = false;
        }
    }

    public void Dispose() => _connection.Dispose();

    internal static void Execute(DuckDBConnection connection, string sql, params ReadOnlySpan<object?> parameters)
    {
        using var command = Command(connection, sql, parameters);
        command.ExecuteNonQuery();
    }

    internal static void ForEachRow(DuckDBConnection connection, string sql, Action<DbDataReader> row, params ReadOnlySpan<object?> parameters)
    {
        ArgumentNullException.ThrowIfNull(row);
        using var command = Command(connection, sql, parameters);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            row(reader);
        }
    }

    private static DuckDBCommand Command(DuckDBConnection connection, string sql, ReadOnlySpan<object?> parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (object? value in parameters)
        {
            command.Parameters.Add(new DuckDBParameter(value ?? DBNull.Value));
        }

        return command;
    }

    private void RollBackQuietly()
    {
        try
        {
            Execute("ROLLBACK");
        }
        catch (DuckDBException)
        {
            // A COMMIT that failed has already ended the transaction, so there is nothing left to roll back and
            // DuckDB says so; the caller needs the first error, which says what went wrong.
        }
    }
}
