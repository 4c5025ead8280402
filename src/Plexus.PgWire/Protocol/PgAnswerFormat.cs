using System.Buffers;
using Plexus.Query;

namespace Plexus.PgWire.Protocol;

/// <summary>What a streamed answer is sent as: rows of a query, or the lines of <c>COPY … TO STDOUT</c>.</summary>
internal enum PgAnswerKind
{
    DataRows,
    CopyText,
    CopyCsv,
}

/// <summary>
/// Formats a query's rows as backend messages on the query's own thread: a <c>DataRow</c> per row (text or binary per
/// column, as the client bound them), or a <c>CopyData</c> per line for COPY. The connection forwards the messages from
/// the pipe to the socket, counting rows for portals that fetch a few at a time; what ends the answer (the command tag
/// or an error) it writes itself from the query's outcome.
/// </summary>
internal sealed class PgAnswerFormat(PgAnswerKind kind, IReadOnlyList<short> resultFormats, bool copyHeader = false) : QueryAnswerFormat
{
    private readonly PgBuffer _row = new(1024);
    private readonly PgBuffer _value = new(256);
    private readonly PgBuffer _scratch = new(64);
    private PgColumn[] _columns = [];
    private bool[] _binary = [];

    /// <summary>The columns as the wire describes them; set when the query's first rows are ready.</summary>
    public IReadOnlyList<PgColumn> Columns => _columns;

    public override void Begin(IReadOnlyList<QueryColumn> columns, IBufferWriter<byte> opening) => throw new NotSupportedException("the wire format needs the columns' types");

    public override void Begin(IReadOnlyList<QueryColumn> columns, QueryRow row, IBufferWriter<byte> opening)
    {
        _columns = new PgColumn[columns.Count];
        _binary = new bool[columns.Count];
        for (int i = 0; i < _columns.Length; i++)
        {
            _columns[i] = PgTypes.ColumnFor(columns[i], row.GetFieldType(i));
            _binary[i] = kind == PgAnswerKind.DataRows && FormatOf(resultFormats, i) == 1;
        }

        if (kind == PgAnswerKind.CopyCsv && copyHeader)
        {
            _row.Clear();
            _row.StartMessage((byte)'d');
            for (int i = 0; i < columns.Count; i++)
            {
                if (i > 0)
                {
                    _row.WriteByte((byte)',');
                }

                _value.Clear();
                _value.WriteUtf8(columns[i].Name);
                WriteCsvField(_row, _value.Span);
            }

            _row.WriteByte((byte)'\n');
            _row.EndMessage();
            opening.Write(_row.Span);
        }
    }

    /// <summary>The format code of column <paramref name="index"/>: none given is text, one applies to all.</summary>
    public static short FormatOf(IReadOnlyList<short> formats, int index) => formats.Count switch
    {
        0 => 0,
        1 => formats[0],
        _ => index < formats.Count ? formats[index] : (short)0,
    };

    public override void FormatRow(QueryRow row, IBufferWriter<byte> output)
    {
        _row.Clear();
        if (kind == PgAnswerKind.DataRows)
        {
            _row.StartMessage((byte)'D');
            _row.WriteInt16((short)_columns.Length);
            for (int i = 0; i < _columns.Length; i++)
            {
                PgTypes.WriteValue(_row, row, i, _columns[i], _binary[i], _scratch);
            }
        }
        else
        {
            _row.StartMessage((byte)'d');
            for (int i = 0; i < _columns.Length; i++)
            {
                if (i > 0)
                {
                    _row.WriteByte(kind == PgAnswerKind.CopyCsv ? (byte)',' : (byte)'\t');
                }

                WriteCopyField(row, i);
            }

            _row.WriteByte((byte)'\n');
        }

        _row.EndMessage();
        output.Write(_row.Span);
    }

    public override void FormatEnd(QueryOutcome outcome, IBufferWriter<byte> end)
    {
    }

    private void WriteCopyField(QueryRow row, int i)
    {
        if (row.IsNull(i))
        {
            if (kind == PgAnswerKind.CopyText)
            {
                _row.Write("\\N"u8);
            }

            return;
        }

        // The value's text (its length prefix dropped), then escaped for the COPY format.
        _value.Clear();
        PgTypes.WriteValue(_value, row, i, _columns[i], binary: false, _scratch);
        var text = _value.Span[4..];
        if (kind == PgAnswerKind.CopyCsv)
        {
            WriteCsvField(_row, text);
            return;
        }

        foreach (byte b in text)
        {
            switch (b)
            {
                case (byte)'\\':
                    _row.Write("\\\\"u8);
                    break;
                case (byte)'\t':
                    _row.Write("\\t"u8);
                    break;
                case (byte)'\n':
                    _row.Write("\\n"u8);
                    break;
                case (byte)'\r':
                    _row.Write("\\r"u8);
                    break;
                default:
                    _row.WriteByte(b);
                    break;
            }
        }
    }

    private static void WriteCsvField(PgBuffer buffer, ReadOnlySpan<byte> text)
    {
        // An empty string is quoted so that it stays apart from NULL, PostgreSQL's CSV rule.
        if (!text.IsEmpty && text.IndexOfAny(",\"\r\n"u8) < 0)
        {
            buffer.Write(text);
            return;
        }

        buffer.WriteByte((byte)'"');
        foreach (byte b in text)
        {
            if (b == (byte)'"')
            {
                buffer.WriteByte((byte)'"');
            }

            buffer.WriteByte(b);
        }

        buffer.WriteByte((byte)'"');
    }
}
