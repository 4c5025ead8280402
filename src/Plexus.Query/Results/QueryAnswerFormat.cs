using System.Buffers;
using System.IO.Pipelines;
using DuckDB.NET.Data;

namespace Plexus.Query;

/// <summary>
/// The current row of a running query, as a <see cref="QueryAnswerFormat"/> sees it: typed getters over the engine's
/// reader, valid only during the call it is passed to. It keeps DuckDB's types out of the projects that shape answers.
/// </summary>
public sealed class QueryRow
{
    private readonly DuckDBDataReader _reader;

    internal QueryRow(DuckDBDataReader reader)
    {
        _reader = reader;
    }

    public int FieldCount => _reader.FieldCount;

    public bool IsNull(int ordinal) => _reader.IsDBNull(ordinal);

    public long GetInt64(int ordinal) => _reader.GetInt64(ordinal);

    public ulong GetUInt64(int ordinal) => _reader.GetFieldValue<ulong>(ordinal);

    public double GetDouble(int ordinal) => _reader.GetDouble(ordinal);

    public bool GetBoolean(int ordinal) => _reader.GetBoolean(ordinal);

    public string GetString(int ordinal) => _reader.GetString(ordinal);

    /// <summary>Any other type, boxed (a HUGEINT is a <see cref="System.Numerics.BigInteger"/>).</summary>
    public object GetValue(int ordinal) => _reader.GetValue(ordinal);

    /// <summary>The value as <typeparamref name="T"/>, unboxed (int, short, float, decimal, DateTime, Guid...).</summary>
    public T GetFieldValue<T>(int ordinal) => _reader.GetFieldValue<T>(ordinal);

    /// <summary>The .NET type the column's values have (a LIST is a <c>List&lt;T&gt;</c>).</summary>
    public Type GetFieldType(int ordinal) => _reader.GetFieldType(ordinal);

    /// <summary>An INTERVAL in its three parts: a <see cref="TimeSpan"/> cannot hold months.</summary>
    public (int Months, int Days, long Microseconds) GetInterval(int ordinal)
    {
        var interval = _reader.GetFieldValue<DuckDB.NET.Native.DuckDBInterval>(ordinal);
        return (interval.Months, interval.Days, (long)interval.Micros);
    }
}

/// <summary>
/// An answer format of its own for <see cref="SqlQueryService.StartAsync(QueryRequest, QueryAnswerFormat, PipeWriter, long, CancellationToken)"/>
/// (InfluxDB's JSON and CSV, say): the service runs the statement under the same checks and limits as every query and
/// calls these methods on the query's thread, one row at a time; it sends what they write into the pipe within the
/// byte budget. A row's bytes are dropped, and the answer ended, when they do not fit: keep the state a row changes
/// until <see cref="RowSent"/> says they went out.
/// </summary>
public abstract class QueryAnswerFormat : IDisposable
{
    /// <summary>Writes the answer's opening bytes, once, before the first row (also when there is none).</summary>
    public abstract void Begin(IReadOnlyList<QueryColumn> columns, IBufferWriter<byte> opening);

    /// <summary>
    /// As <see cref="Begin(IReadOnlyList{QueryColumn}, IBufferWriter{byte})"/>, for a format that needs the columns'
    /// .NET types (<see cref="QueryRow.GetFieldType"/>); the row is positioned on the first row, if any.
    /// </summary>
    public virtual void Begin(IReadOnlyList<QueryColumn> columns, QueryRow row, IBufferWriter<byte> opening) => Begin(columns, opening);

    /// <summary>Writes the bytes of the current row (and whatever must come before them).</summary>
    public abstract void FormatRow(QueryRow row, IBufferWriter<byte> output);

    /// <summary>The bytes of the row last formatted were sent.</summary>
    public virtual void RowSent()
    {
    }

    /// <summary>Writes the answer's closing bytes, once, whatever ended it.</summary>
    public abstract void FormatEnd(QueryOutcome outcome, IBufferWriter<byte> end);

    /// <summary>Called by the service once the answer has ended, on the query's thread.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}
