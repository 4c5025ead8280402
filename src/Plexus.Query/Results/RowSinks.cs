using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Text.Json;
using DuckDB.NET.Data;

namespace Plexus.Query.Results;

/// <summary>Takes a query's rows from the reader as the engine produces them, on the query's own thread.</summary>
internal abstract class RowSink : IDisposable
{
    /// <summary>Why <see cref="TryAdd"/> last returned false.</summary>
    public QueryEnd StopReason { get; protected set; } = QueryEnd.Complete;

    /// <summary>Bytes of the answer so far.</summary>
    public long Bytes { get; protected set; }

    public abstract void Begin(DuckDBDataReader reader, IReadOnlyList<QueryColumn> columns);

    /// <summary>Adds the reader's current row; false to stop reading (the answer is full, or nobody reads it any more).</summary>
    public abstract bool TryAdd(DuckDBDataReader reader);

    /// <summary>Closes the answer; called once, after <see cref="Begin"/>, whatever happened.</summary>
    public abstract void End(QueryOutcome outcome);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }
}

/// <summary>
/// Writes the answer into a pipe that the HTTP response drains, so a row is on the wire while later ones are
/// still being computed: memory holds one row and the pipe's window, never the whole answer. When the client reads
/// slower than the engine produces, the pipe's pause threshold blocks this (dedicated) thread. Each row is formatted
/// into a scratch buffer first and only sent if it fits the byte budget, so an answer never exceeds the budget by
/// more than its closing bytes.
/// </summary>
internal abstract class StreamingRowSink(PipeWriter output, long maxBytes, CancellationToken cancellationToken) : RowSink
{
    private const int FlushEvery = 32 * 1024;

    // Room kept for the closing bytes (JSON's row count, error and truncated members) within the budget.
    private const int ClosingReserve = 1024;

    private long _unflushed;
    private bool _readerGone;

    protected ArrayBufferWriter<byte> Scratch { get; } = new(4096);

    protected long RowsAdded { get; private set; }

    public sealed override bool TryAdd(DuckDBDataReader reader)
    {
        Scratch.ResetWrittenCount();
        FormatRow(reader, Scratch);
        if (Bytes + Scratch.WrittenCount > maxBytes - ClosingReserve)
        {
            StopReason = QueryEnd.ByteLimit;
            return false;
        }

        if (!Send(Scratch.WrittenSpan))
        {
            StopReason = QueryEnd.Cancelled;
            return false;
        }

        RowsAdded++;
        RowSent();
        return true;
    }

    public sealed override void End(QueryOutcome outcome)
    {
        Scratch.ResetWrittenCount();
        FormatEnd(outcome, Scratch);
        Send(Scratch.WrittenSpan);
        Flush();
        output.Complete();
    }

    protected abstract void FormatRow(DuckDBDataReader reader, ArrayBufferWriter<byte> row);

    protected abstract void FormatEnd(QueryOutcome outcome, ArrayBufferWriter<byte> end);

    /// <summary>The row last formatted went out.</summary>
    protected virtual void RowSent()
    {
    }

    /// <summary>Sends the scratch buffer as the answer's opening bytes.</summary>
    protected void SendOpening() => Send(Scratch.WrittenSpan);

    private bool Send(ReadOnlySpan<byte> bytes)
    {
        if (_readerGone)
        {
            return false;
        }

        output.Write(bytes);
        Bytes += bytes.Length;
        _unflushed += bytes.Length;
        return _unflushed < FlushEvery || Flush();
    }

    private bool Flush()
    {
        if (_readerGone)
        {
            return false;
        }

        _unflushed = 0;
        try
        {
            var flush = output.FlushAsync(cancellationToken);
            var result = flush.IsCompleted ? flush.Result : flush.AsTask().GetAwaiter().GetResult();
            _readerGone = result.IsCompleted || result.IsCanceled;
        }
        catch (OperationCanceledException)
        {
            // The request was aborted while this thread waited for the client to read.
            _readerGone = true;
        }

        return !_readerGone;
    }
}

/// <summary>
/// <c>{"columns":[…],"rows":[[…],…],"row_count":N,"truncated":false}</c>, written as it goes: an answer cut short
/// (row limit, byte budget, an error after the first rows) still closes as valid JSON, with <c>"truncated": true</c>
/// as its last member and, after an error, an <c>"error"</c> member before it.
/// </summary>
internal sealed class JsonRowSink(PipeWriter output, long maxBytes, JsonWriterOptions options, CancellationToken cancellationToken)
    : StreamingRowSink(output, maxBytes, cancellationToken)
{
    private readonly Utf8JsonWriter _json = new(Stream.Null, options);
    private ColumnValues.JsonWriter[] _writers = [];

    public override void Begin(DuckDBDataReader reader, IReadOnlyList<QueryColumn> columns)
    {
        _writers = new ColumnValues.JsonWriter[columns.Count];
        for (int i = 0; i < _writers.Length; i++)
        {
            _writers[i] = ColumnValues.JsonFor(reader.GetFieldType(i));
        }

        Scratch.ResetWrittenCount();
        _json.Reset(Scratch);
        _json.WriteStartObject();
        _json.WriteStartArray("columns");
        foreach (var column in columns)
        {
            _json.WriteStartObject();
            _json.WriteString("name", column.Name);
            _json.WriteString("type", column.Type);
            _json.WriteEndObject();
        }

        _json.WriteEndArray();
        _json.Flush();

        // The writer's state cannot be left open across rows that may be dropped, so the structure around the rows is
        // written by hand and each row is a complete JSON array of its own.
        Scratch.Write(",\"rows\":["u8);
        SendOpening();
    }

    protected override void FormatRow(DuckDBDataReader reader, ArrayBufferWriter<byte> row)
    {
        if (RowsAdded > 0)
        {
            row.Write(","u8);
        }

        _json.Reset(row);
        _json.WriteStartArray();
        for (int i = 0; i < _writers.Length; i++)
        {
            if (reader.IsDBNull(i))
            {
                _json.WriteNullValue();
            }
            else
            {
                _writers[i](reader, i, _json);
            }
        }

        _json.WriteEndArray();
        _json.Flush();
    }

    protected override void FormatEnd(QueryOutcome outcome, ArrayBufferWriter<byte> end)
    {
        end.Write("],\"row_count\":"u8);
        Span<byte> number = stackalloc byte[24];
        outcome.Rows.TryFormat(number, out int written, default, CultureInfo.InvariantCulture);
        end.Write(number[..written]);
        if (outcome.Error is not null)
        {
            end.Write(",\"error\":"u8);
            _json.Reset(end);
            _json.WriteStartObject();
            _json.WriteString("code", outcome.End == QueryEnd.Timeout ? "timeout" : "query_failed");
            _json.WriteString("message", outcome.Error);
            _json.WriteEndObject();
            _json.Flush();
        }

        end.Write(outcome.Truncated ? ",\"truncated\":true}"u8 : ",\"truncated\":false}"u8);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _json.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>
/// A header row, then RFC 4180 rows with CRLF line ends; NULL is an empty field. CSV has no place for a closing
/// member, so how the answer ended travels in HTTP trailers (the endpoint's job).
/// </summary>
internal sealed class CsvRowSink(PipeWriter output, long maxBytes, CancellationToken cancellationToken)
    : StreamingRowSink(output, maxBytes, cancellationToken)
{
    private ColumnValues.CsvWriter[] _writers = [];

    public override void Begin(DuckDBDataReader reader, IReadOnlyList<QueryColumn> columns)
    {
        _writers = new ColumnValues.CsvWriter[columns.Count];
        Scratch.ResetWrittenCount();
        for (int i = 0; i < _writers.Length; i++)
        {
            _writers[i] = ColumnValues.CsvFor(reader.GetFieldType(i));
            if (i > 0)
            {
                Scratch.Write(","u8);
            }

            ColumnValues.WriteCsvText(Scratch, columns[i].Name);
        }

        Scratch.Write("\r\n"u8);
        SendOpening();
    }

    protected override void FormatRow(DuckDBDataReader reader, ArrayBufferWriter<byte> row)
    {
        for (int i = 0; i < _writers.Length; i++)
        {
            if (i > 0)
            {
                row.Write(","u8);
            }

            if (!reader.IsDBNull(i))
            {
                _writers[i](reader, i, row);
            }
        }

        row.Write("\r\n"u8);
    }

    protected override void FormatEnd(QueryOutcome outcome, ArrayBufferWriter<byte> end)
    {
    }
}

/// <summary>Sends the bytes of a caller's <see cref="QueryAnswerFormat"/> into the pipe, within the byte budget.</summary>
internal sealed class FormattedRowSink(QueryAnswerFormat format, PipeWriter output, long maxBytes, CancellationToken cancellationToken)
    : StreamingRowSink(output, maxBytes, cancellationToken)
{
    private QueryRow? _row;

    public override void Begin(DuckDBDataReader reader, IReadOnlyList<QueryColumn> columns)
    {
        _row = new QueryRow(reader);
        Scratch.ResetWrittenCount();
        format.Begin(columns, _row, Scratch);
        SendOpening();
    }

    protected override void FormatRow(DuckDBDataReader reader, ArrayBufferWriter<byte> row) => format.FormatRow(_row!, row);

    protected override void RowSent() => format.RowSent();

    protected override void FormatEnd(QueryOutcome outcome, ArrayBufferWriter<byte> end) => format.FormatEnd(outcome, end);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            format.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>Keeps every row as values, for callers inside the server that want the whole result (bounded by the row limit).</summary>
internal sealed class CollectingRowSink : RowSink
{
    public List<object?[]> Rows { get; } = [];

    public IReadOnlyList<QueryColumn> Columns { get; private set; } = [];

    public override void Begin(DuckDBDataReader reader, IReadOnlyList<QueryColumn> columns) => Columns = columns;

    public override bool TryAdd(DuckDBDataReader reader)
    {
        var row = new object?[reader.FieldCount];
        for (int i = 0; i < row.Length; i++)
        {
            row[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
        }

        Rows.Add(row);
        return true;
    }

    public override void End(QueryOutcome outcome)
    {
    }
}
