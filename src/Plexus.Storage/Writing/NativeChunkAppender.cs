using System.Diagnostics;
using DuckDB.NET.Data;
using DuckDB.NET.Native;
using NativeAppender = DuckDB.NET.Native.DuckDBAppender;

namespace Plexus.Storage.Writing;

/// <summary>
/// Appends rows to one DuckDB table by filling DuckDB data chunks in place and handing each full chunk to
/// the C appender. This is the hot path of every write: values go straight into the vectors' memory, strings
/// are copied from the batch's UTF-8 arena, and nothing is allocated per row (DuckDB.NET's row API boxes
/// and allocates per value; see docs/architecture.md).
/// </summary>
/// <remarks>
/// Rows land in the connection's current transaction; a chunk handed to DuckDB is not committed until the
/// transaction is. Validity masks start all-NULL for nullable columns and a bit is set per written value,
/// so a field that a point does not carry is NULL without a call.
/// </remarks>
internal sealed unsafe class NativeChunkAppender : IDisposable
{
    private readonly NativeAppender _appender;
    private readonly DuckDBDataChunk _chunk;
    private readonly DuckDBType[] _types;
    private readonly bool[] _nullable;
    private readonly IntPtr[] _vectors;
    private readonly void*[] _data;
    private readonly ulong*[] _validity;
    private readonly int _capacity;
    private readonly string _table;
    private int _row = -1;
    private int _rowsInChunk;
    private bool _closed;

    public NativeChunkAppender(DuckDBConnection connection, string catalog, string schema, string table, DuckDBType[] types, int nonNullLeadingColumns)
    {
        _table = $"{schema}.{table}";
        _types = types;
        _nullable = new bool[types.Length];
        for (int i = nonNullLeadingColumns; i < types.Length; i++)
        {
            _nullable[i] = true;
        }

        var state = NativeMethods.Appender.DuckDBAppenderCreateExt(connection.NativeConnection, catalog, schema, table, out _appender);
        if (state == DuckDBState.Error)
        {
            string message = ErrorOf(_appender);
            _appender.Dispose();
            throw new StorageException($"Cannot open an appender on {_table}: {message}");
        }

        var logicalTypes = new DuckDBLogicalType[types.Length];
        var handles = new IntPtr[types.Length];
        try
        {
            for (int i = 0; i < types.Length; i++)
            {
                logicalTypes[i] = NativeMethods.LogicalType.DuckDBCreateLogicalType(types[i]);
                handles[i] = logicalTypes[i].DangerousGetHandle();
            }

            _chunk = NativeMethods.DataChunks.DuckDBCreateDataChunk(handles, (ulong)types.Length);
        }
        finally
        {
            foreach (var logicalType in logicalTypes)
            {
                logicalType?.Dispose();
            }
        }

        _capacity = (int)NativeMethods.Helpers.DuckDBVectorSize();
        _vectors = new IntPtr[types.Length];
        _data = new void*[types.Length];
        _validity = new ulong*[types.Length];
        StartChunk();
    }

    public int RowsAppended { get; private set; }

    public void BeginRow()
    {
        if (_rowsInChunk == _capacity)
        {
            FlushChunk();
        }

        _row = _rowsInChunk;
    }

    public void EndRow()
    {
        _rowsInChunk++;
        RowsAppended++;
    }

    public void SetInt32(int column, int value)
    {
        Debug.Assert(_types[column] == DuckDBType.Integer, "column is not INTEGER");
        ((int*)_data[column])[_row] = value;
        MarkValid(column);
    }

    /// <summary>Writes BIGINT and TIMESTAMP_NS columns (both are 64-bit integers in the vector).</summary>
    public void SetInt64(int column, long value)
    {
        Debug.Assert(_types[column] is DuckDBType.BigInt or DuckDBType.TimestampNs or DuckDBType.UnsignedBigInt, "column is not 64-bit");
        ((long*)_data[column])[_row] = value;
        MarkValid(column);
    }

    public void SetDouble(int column, double value)
    {
        Debug.Assert(_types[column] == DuckDBType.Double, "column is not DOUBLE");
        ((double*)_data[column])[_row] = value;
        MarkValid(column);
    }

    public void SetBoolean(int column, bool value)
    {
        Debug.Assert(_types[column] == DuckDBType.Boolean, "column is not BOOLEAN");
        ((byte*)_data[column])[_row] = value ? (byte)1 : (byte)0;
        MarkValid(column);
    }

    public void SetString(int column, ReadOnlySpan<byte> utf8)
    {
        Debug.Assert(_types[column] == DuckDBType.Varchar, "column is not VARCHAR");
        fixed (byte* bytes = utf8)
        {
            NativeMethods.Vectors.DuckDBVectorAssignStringElementLength(_vectors[column], (ulong)_row, bytes, utf8.Length);
        }

        MarkValid(column);
    }

    /// <summary>Hands the last chunk to DuckDB and closes the appender, which flushes into the transaction.</summary>
    public void Close()
    {
        if (_closed)
        {
            return;
        }

        FlushChunk();
        _closed = true;
        if (NativeMethods.Appender.DuckDBAppenderClose(_appender) == DuckDBState.Error)
        {
            throw new StorageException($"Appending to {_table} failed: {ErrorOf(_appender)}");
        }
    }

    public void Dispose()
    {
        _chunk.Dispose();
        _appender.Dispose();
    }

    private void MarkValid(int column)
    {
        if (_nullable[column])
        {
            _validity[column][_row >> 6] |= 1UL << (_row & 63);
        }
    }

    private void FlushChunk()
    {
        if (_rowsInChunk == 0)
        {
            return;
        }

        NativeMethods.DataChunks.DuckDBDataChunkSetSize(_chunk, (ulong)_rowsInChunk);
        if (NativeMethods.Appender.DuckDBAppendDataChunk(_appender, _chunk) == DuckDBState.Error)
        {
            throw new StorageException($"Appending to {_table} failed: {ErrorOf(_appender)}");
        }

        NativeMethods.DataChunks.DuckDBDataChunkReset(_chunk);
        StartChunk();
    }

    // Vector buffers can move on reset, so every chunk looks its pointers up again.
    private void StartChunk()
    {
        _rowsInChunk = 0;
        int maskWords = (_capacity + 63) / 64;
        for (int i = 0; i < _types.Length; i++)
        {
            IntPtr vector = NativeMethods.DataChunks.DuckDBDataChunkGetVector(_chunk, i);
            _vectors[i] = vector;
            _data[i] = NativeMethods.Vectors.DuckDBVectorGetData(vector);
            if (_nullable[i])
            {
                NativeMethods.Vectors.DuckDBVectorEnsureValidityWritable(vector);
                _validity[i] = NativeMethods.Vectors.DuckDBVectorGetValidity(vector);
                new Span<ulong>(_validity[i], maskWords).Clear();
            }
        }
    }

    private static string ErrorOf(NativeAppender appender)
    {
        using var error = NativeMethods.Appender.DuckDBAppenderErrorData(appender);
        return error.HasError ? error.Message ?? "unknown error" : "unknown error";
    }
}
