using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.InfluxQL.Execution;
using Plexus.InfluxQL.Translation;
using Plexus.Query;

namespace Plexus.InfluxQL.Results;

/// <summary>
/// Writes one statement's rows as InfluxDB writes a result, while the query runs: a series begins when the name or a
/// tag changes from the row before (the SQL orders rows by series), so no series is ever held in memory.
/// </summary>
/// <remarks>
/// JSON: <c>{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","mean"],"values":[[…],…]},…]}</c>.
/// Chunked JSON (InfluxDB's <c>chunked=true</c>): a complete <c>{"results":[…]}</c> object per line, holding one
/// series or up to <c>chunk_size</c> of its rows; every object but a statement's last says <c>"partial":true</c>, and a
/// series continued in the next object says so too. CSV: <c>name,tags,time,…</c>, the header again when the columns
/// change. Every row's bytes are written first and kept only if they fit the byte budget, so the state a row changes
/// is applied in <see cref="RowSent"/>.
/// </remarks>
public sealed class InfluxSeriesWriter : QueryAnswerFormat
{
    private readonly int _statementId;
    private readonly SeriesShape _shape;
    private readonly InfluxOutputOptions _options;
    private readonly InfluxAnswerState _state;
    private readonly Utf8JsonWriter _json = new(Stream.Null, ReadableJson.Options);
    private ValueWriter[] _values = [];
    private string[] _csvColumns = [];

    // The series being written, and the pending one of the row last formatted.
    private string? _name;
    private string?[] _tags;
    private bool _open;
    private long _rowsInChunk;
    private string? _pendingName;
    private string?[] _pendingTags;
    private bool _pendingNewChunk;
    private string[]? _pendingCsvColumns;

    private delegate void ValueWriter(QueryRow row, int ordinal, Utf8JsonWriter json);

    public InfluxSeriesWriter(int statementId, SeriesShape shape, InfluxOutputOptions options, InfluxAnswerState state)
    {
        ArgumentNullException.ThrowIfNull(shape);
        _statementId = statementId;
        _shape = shape;
        _options = options;
        _state = state;
        _tags = new string?[shape.TagKeys.Count];
        _pendingTags = new string?[shape.TagKeys.Count];
    }

    private bool Csv => _options.Csv;

    private bool Chunked => _options.Chunked && !_options.Csv;

    private bool Pretty => _options.Pretty && !Chunked && !Csv;

    public override void Begin(IReadOnlyList<QueryColumn> columns, IBufferWriter<byte> opening)
    {
        ArgumentNullException.ThrowIfNull(columns);
        _values = new ValueWriter[_shape.ValueCount];
        for (int i = 0; i < _values.Length; i++)
        {
            _values[i] = WriterFor(columns[_shape.FirstValueColumn + i].Type);
        }

        _csvColumns = ["name", "tags", .. _shape.Columns];
        if (!Csv && !Chunked)
        {
            opening.Write(Pretty ? "\n    {\n      \"statement_id\": "u8 : "{\"statement_id\":"u8);
            InfluxOutput.WriteNumber(opening, _statementId);
        }
    }

    public override void FormatRow(QueryRow row, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(row);
        _pendingName = row.IsNull(0) ? null : row.GetString(0);
        bool newSeries = !_open || !string.Equals(_pendingName, _name, StringComparison.Ordinal);
        for (int i = 0; i < _pendingTags.Length; i++)
        {
            _pendingTags[i] = row.IsNull(1 + i) ? null : row.GetString(1 + i);
            newSeries |= _open && !string.Equals(_pendingTags[i], _tags[i], StringComparison.Ordinal);
        }

        if (Csv)
        {
            FormatCsvRow(row, output);
            return;
        }

        _pendingNewChunk = false;
        if (Chunked)
        {
            if (_open && (newSeries || _rowsInChunk >= _options.ChunkSize))
            {
                // Close the object before: the series goes on in the next one, or another series starts.
                output.Write(newSeries ? "]}],\"partial\":true}]}\n"u8 : "],\"partial\":true}],\"partial\":true}]}\n"u8);
            }

            if (!_open || newSeries || _rowsInChunk >= _options.ChunkSize)
            {
                output.Write("{\"results\":[{\"statement_id\":"u8);
                InfluxOutput.WriteNumber(output, _statementId);
                output.Write(",\"series\":["u8);
                SeriesHeader(output);
                _pendingNewChunk = true;
            }
            else
            {
                output.Write(","u8);
            }
        }
        else if (newSeries)
        {
            output.Write(!_open ? (Pretty ? ",\n      \"series\": ["u8 : ",\"series\":["u8) : (Pretty ? "\n          ]\n        },"u8 : "]},"u8));
            SeriesHeader(output);
        }
        else
        {
            output.Write(","u8);
        }

        if (Pretty)
        {
            output.Write("\n            "u8);
        }

        _json.Reset(output);
        _json.WriteStartArray();
        if (_shape.HasTime)
        {
            WriteTime(row.GetInt64(1 + _pendingTags.Length), _json);
        }

        for (int i = 0; i < _values.Length; i++)
        {
            int ordinal = _shape.FirstValueColumn + i;
            if (row.IsNull(ordinal))
            {
                _json.WriteNullValue();
            }
            else
            {
                _values[i](row, ordinal, _json);
            }
        }

        _json.WriteEndArray();
        _json.Flush();
    }

    public override void RowSent()
    {
        if (Csv)
        {
            _state.CsvWritten = true;
            if (_pendingCsvColumns is not null)
            {
                _state.CsvColumns = _pendingCsvColumns;
            }
        }

        bool newSeries = !_open || !string.Equals(_pendingName, _name, StringComparison.Ordinal) || !_pendingTags.AsSpan().SequenceEqual(_tags);
        if (newSeries)
        {
            (_tags, _pendingTags) = (_pendingTags, _tags);
            _name = _pendingName;
            _open = true;
            _rowsInChunk = 0;
        }

        if (_pendingNewChunk)
        {
            _rowsInChunk = 0;
        }

        _rowsInChunk++;
    }

    public override void FormatEnd(QueryOutcome outcome, IBufferWriter<byte> end)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        if (Csv)
        {
            return;
        }

        string? warning = Warning(outcome);
        string? error = outcome.Error is null ? null : InfluxErrors.FromEngine(outcome.Error);
        if (Chunked)
        {
            if (!_open)
            {
                end.Write("{\"results\":[{\"statement_id\":"u8);
                InfluxOutput.WriteNumber(end, _statementId);
            }
            else
            {
                end.Write("]}]"u8);
            }

            Closing(end, warning, error);
            end.Write("}]}\n"u8);
            return;
        }

        if (_open)
        {
            end.Write(Pretty ? "\n          ]\n        }\n      ]"u8 : "]}]"u8);
        }

        Closing(end, warning, error);
        end.Write(Pretty ? "\n    }"u8 : "}"u8);
    }

    private static void Closing(IBufferWriter<byte> end, string? warning, string? error)
    {
        if (warning is not null)
        {
            // InfluxDB marks a result cut by its row limit "partial"; the message says which limit and what to do.
            end.Write(",\"partial\":true,\"messages\":[{\"level\":\"warning\",\"text\":"u8);
            InfluxOutput.WriteString(end, warning);
            end.Write("}]"u8);
        }

        if (error is not null)
        {
            end.Write(",\"error\":"u8);
            InfluxOutput.WriteString(end, error);
        }
    }

    private string? Warning(QueryOutcome outcome) => outcome.End switch
    {
        QueryEnd.RowLimit => $"the answer holds only the first {_options.MaxRows} rows, the most one answer may hold (--query-max-rows); narrow the time range, use a longer GROUP BY time() interval, or LIMIT/SLIMIT",
        QueryEnd.ByteLimit => $"the answer was cut at {_options.MaxBytes} bytes, the most one request's answer may hold (--query-max-bytes); narrow the time range, select fewer fields, or LIMIT/SLIMIT",
        _ => null,
    };

    private void SeriesHeader(IBufferWriter<byte> output)
    {
        output.Write(Pretty ? "\n        {"u8 : "{"u8);
        bool first = true;
        if (_pendingName is not null)
        {
            output.Write(Pretty ? "\n          \"name\": "u8 : "\"name\":"u8);
            InfluxOutput.WriteString(output, _pendingName);
            first = false;
        }

        bool anyTag = false;
        for (int i = 0; i < _pendingTags.Length; i++)
        {
            if (_pendingTags[i] is null)
            {
                continue;
            }

            output.Write(anyTag ? ","u8 : first ? (Pretty ? "\n          \"tags\": {"u8 : "\"tags\":{"u8) : (Pretty ? ",\n          \"tags\": {"u8 : ",\"tags\":{"u8));
            InfluxOutput.WriteString(output, _shape.TagKeys[i]);
            output.Write(":"u8);
            InfluxOutput.WriteString(output, _pendingTags[i]!);
            anyTag = true;
            first = false;
        }

        if (anyTag)
        {
            output.Write("}"u8);
        }

        output.Write(first ? (Pretty ? "\n          \"columns\": ["u8 : "\"columns\":["u8) : (Pretty ? ",\n          \"columns\": ["u8 : ",\"columns\":["u8));
        for (int i = 0; i < _shape.Columns.Count; i++)
        {
            if (i > 0)
            {
                output.Write(","u8);
            }

            InfluxOutput.WriteString(output, _shape.Columns[i]);
        }

        output.Write(Pretty ? "],\n          \"values\": ["u8 : "],\"values\":["u8);
    }

    private void WriteTime(long nanoseconds, Utf8JsonWriter json)
    {
        if (_options.EpochDivisor is { } divisor)
        {
            json.WriteNumberValue(nanoseconds / divisor);
        }
        else
        {
            json.WriteStringValue(InfluxOutput.FormatTime(nanoseconds, _shape.TimeZone));
        }
    }

    private void FormatCsvRow(QueryRow row, IBufferWriter<byte> output)
    {
        _pendingCsvColumns = null;
        string[] columns = _csvColumns;
        if (_state.CsvColumns is null || !_state.CsvColumns.AsSpan().SequenceEqual(columns))
        {
            if (_state.CsvWritten)
            {
                output.Write("\n"u8);
            }

            for (int i = 0; i < columns.Length; i++)
            {
                if (i > 0)
                {
                    output.Write(","u8);
                }

                InfluxOutput.WriteCsvField(output, columns[i]);
            }

            output.Write("\n"u8);
            _pendingCsvColumns = columns;
        }

        InfluxOutput.WriteCsvField(output, _pendingName ?? "");
        output.Write(","u8);
        InfluxOutput.WriteCsvField(output, CsvTags());
        if (_shape.HasTime)
        {
            long time = row.GetInt64(1 + _pendingTags.Length);
            output.Write(","u8);
            InfluxOutput.WriteNumber(output, _options.EpochDivisor is { } divisor ? time / divisor : time);
        }

        for (int i = 0; i < _values.Length; i++)
        {
            output.Write(","u8);
            int ordinal = _shape.FirstValueColumn + i;
            if (!row.IsNull(ordinal))
            {
                InfluxOutput.WriteCsvField(output, CsvValue(row, ordinal));
            }
        }

        output.Write("\n"u8);
    }

    // InfluxDB's tag-set key without the measurement: host=a,region=x, with \ before , = and space.
    private string CsvTags()
    {
        var text = new StringBuilder();
        for (int i = 0; i < _pendingTags.Length; i++)
        {
            if (_pendingTags[i] is not { } value)
            {
                continue;
            }

            if (text.Length > 0)
            {
                text.Append(',');
            }

            AppendEscaped(text, _shape.TagKeys[i]);
            text.Append('=');
            AppendEscaped(text, value);
        }

        return text.ToString();
    }

    private static void AppendEscaped(StringBuilder text, string value)
    {
        foreach (char c in value)
        {
            if (c is ',' or '=' or ' ')
            {
                text.Append('\\');
            }

            text.Append(c);
        }
    }

    private static string CsvValue(QueryRow row, int ordinal) => row.GetValue(ordinal) switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        string s => s,
        var value => QueryResultWriter.FormatScalar(value),
    };

    private static ValueWriter WriterFor(string sqlType) => sqlType switch
    {
        "DOUBLE" or "FLOAT" => static (row, i, json) => WriteDouble(json, row.GetDouble(i)),
        "BIGINT" => static (row, i, json) => json.WriteNumberValue(row.GetInt64(i)),
        "UBIGINT" => static (row, i, json) => json.WriteNumberValue(row.GetUInt64(i)),
        "BOOLEAN" => static (row, i, json) => json.WriteBooleanValue(row.GetBoolean(i)),
        "VARCHAR" => static (row, i, json) => json.WriteStringValue(row.GetString(i)),
        _ => static (row, i, json) =>
        {
            var value = row.GetValue(i);
            if (value is BigInteger big && big >= long.MinValue && big <= long.MaxValue)
            {
                json.WriteNumberValue((long)big);
            }
            else
            {
                QueryResultWriter.WriteValue(json, value);
            }
        }
        ,
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _json.Dispose();
        }

        base.Dispose(disposing);
    }

    private static void WriteDouble(Utf8JsonWriter json, double value)
    {
        if (double.IsFinite(value))
        {
            json.WriteNumberValue(value);
        }
        else
        {
            // JSON has no NaN or infinity (InfluxDB cannot answer them at all); null says "no number".
            json.WriteNullValue();
        }
    }
}
