using System.Globalization;
using System.Text;
using Plexus.Core;
using Plexus.Ingest.Json;

namespace Plexus.Ingest.Import;

/// <summary>What a CSV column of an import holds.</summary>
public enum CsvColumnRole : byte
{
    Time,
    Tag,

    /// <summary>A field of a declared type (<c>float:NAME</c>, …, as exports write them).</summary>
    TypedField,

    /// <summary>A field whose type each value tells: true/false a boolean, a number a float, anything else a string.</summary>
    InferredField,
}

/// <summary>One column of an import's CSV header.</summary>
public readonly record struct CsvColumn(string Header, string Name, CsvColumnRole Role, FieldType Type);

/// <summary>
/// Decodes the rows of a CSV import into points of one measurement (docs/export-import.md#csv). The header says what
/// each column is: <c>time</c>, <c>tag:NAME</c>, <c>TYPE:NAME</c> with TYPE one of float, integer, unsigned, boolean,
/// string (what <c>plexus export</c> writes), <c>field:NAME</c> for a field whose type each value tells, or a bare
/// name, a tag when <c>tag_columns</c> lists it and else such a field; <c>time_column</c> names the time column when it
/// is not <c>time</c>. A time is RFC 3339 or Unix nanoseconds. An unquoted empty cell is no value; a quoted empty one
/// an empty string.
/// </summary>
public sealed class CsvPointDecoder
{
    private readonly byte[] _measurement;
    private readonly CsvColumn[] _columns;
    private readonly byte[][] _names;
    private readonly int _timeColumn;

    private CsvPointDecoder(string measurement, CsvColumn[] columns, int timeColumn)
    {
        _measurement = Encoding.UTF8.GetBytes(measurement);
        _columns = columns;
        _names = columns.Select(c => Encoding.UTF8.GetBytes(c.Name)).ToArray();
        _timeColumn = timeColumn;
    }

    public IReadOnlyList<CsvColumn> Columns => _columns;

    /// <summary>Reads the header row; false with an error naming the column at fault.</summary>
    public static bool TryCreate(string measurement, IReadOnlyList<CsvCell> header, string? timeColumn, IReadOnlyCollection<string>? tagColumns, out CsvPointDecoder? decoder, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(header);
        decoder = null;
        string time = string.IsNullOrEmpty(timeColumn) ? "time" : timeColumn;
        var columns = new CsvColumn[header.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int timeAt = -1;
        for (int i = 0; i < header.Count; i++)
        {
            string text = header[i].Text;
            int colon = text.IndexOf(':', StringComparison.Ordinal);
            string prefix = colon < 0 ? "" : text[..colon];
            string rest = colon < 0 ? text : text[(colon + 1)..];
            CsvColumn column;
            if (text == time)
            {
                column = new CsvColumn(text, "time", CsvColumnRole.Time, FieldType.None);
            }
            else if (prefix == "tag")
            {
                column = new CsvColumn(text, rest, CsvColumnRole.Tag, FieldType.String);
            }
            else if (prefix == "field")
            {
                column = new CsvColumn(text, rest, CsvColumnRole.InferredField, FieldType.None);
            }
            else if (TypeOf(prefix) is { } type)
            {
                column = new CsvColumn(text, rest, CsvColumnRole.TypedField, type);
            }
            else
            {
                column = tagColumns?.Contains(text) == true
                    ? new CsvColumn(text, text, CsvColumnRole.Tag, FieldType.String)
                    : new CsvColumn(text, text, CsvColumnRole.InferredField, FieldType.None);
            }

            if (column.Name.Length == 0)
            {
                error = new IngestError(IngestErrorKind.Name, text, 1, $"column {i + 1} (\"{text}\") has no name after its prefix");
                return false;
            }

            if (column.Role == CsvColumnRole.Time)
            {
                if (timeAt >= 0)
                {
                    error = new IngestError(IngestErrorKind.Name, text, 1, $"the time column \"{text}\" appears twice");
                    return false;
                }

                timeAt = i;
            }
            else if (!seen.Add(column.Name))
            {
                error = new IngestError(IngestErrorKind.Name, text, 1, $"column {i + 1} repeats the name \"{column.Name}\"; each tag and field is one column");
                return false;
            }

            columns[i] = column;
        }

        if (timeAt < 0)
        {
            error = new IngestError(IngestErrorKind.Missing, null, 1,
                $"the header has no time column \"{time}\"; name it time (as exports do) or give its name with --time-column (time_column=)");
            return false;
        }

        if (columns.All(c => c.Role is CsvColumnRole.Time or CsvColumnRole.Tag))
        {
            error = new IngestError(IngestErrorKind.Missing, null, 1, "the header has no field column: every point needs at least one field");
            return false;
        }

        decoder = new CsvPointDecoder(measurement, columns, timeAt);
        error = default;
        return true;
    }

    /// <summary>Adds the record's point to <paramref name="batch"/>; false with an error naming the line and column, nothing added.</summary>
    public bool TryDecode(IReadOnlyList<CsvCell> record, int line, PointBatch batch, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(batch);
        if (record.Count != _columns.Length)
        {
            error = new IngestError(IngestErrorKind.Syntax, null, line, $"the row has {record.Count} cells and the header {_columns.Length}");
            return false;
        }

        if (!TryTime(record[_timeColumn], line, out long time, out error))
        {
            return false;
        }

        batch.BeginPoint(_measurement, line);
        for (int i = 0; i < _columns.Length; i++)
        {
            var cell = record[i];
            var column = _columns[i];
            if (column.Role == CsvColumnRole.Time || (cell.Text.Length == 0 && (!cell.Quoted || column.Role == CsvColumnRole.Tag)))
            {
                continue;
            }

            var key = batch.AppendText(_names[i]);
            if (column.Role == CsvColumnRole.Tag)
            {
                batch.AddTag(key, batch.AppendText(Encoding.UTF8.GetBytes(cell.Text)));
                continue;
            }

            var type = column.Role == CsvColumnRole.TypedField ? column.Type : Infer(cell);
            if (!TryAddField(batch, key, type, cell.Text))
            {
                batch.AbortPoint();
                error = new IngestError(IngestErrorKind.Type, column.Header, line,
                    $"column \"{column.Header}\": \"{Shorten(cell.Text)}\" is not {Article(type)} {type.Name()}");
                return false;
            }
        }

        if (batch.PendingFieldCount == 0)
        {
            batch.AbortPoint();
            error = new IngestError(IngestErrorKind.Missing, null, line, "the row has no field value (every field cell is empty)");
            return false;
        }

        batch.EndPoint(time);
        error = default;
        return true;
    }

    private bool TryTime(CsvCell cell, int line, out long time, out IngestError error)
    {
        string header = _columns[_timeColumn].Header;
        error = default;
        if (long.TryParse(cell.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out time))
        {
            return true;
        }

        if (cell.Text.Length > 0 && JsonTimestamps.TryParseIso8601(Encoding.UTF8.GetBytes(cell.Text), out time) == TimeParseStatus.Ok)
        {
            return true;
        }

        error = cell.Text.Length == 0
            ? new IngestError(IngestErrorKind.Missing, header, line, $"column \"{header}\": the time is empty")
            : new IngestError(IngestErrorKind.Syntax, header, line, $"column \"{header}\": \"{Shorten(cell.Text)}\" is not a time; write RFC 3339 (2026-01-02T03:04:05.123456789Z) or Unix nanoseconds");
        return false;
    }

    private static FieldType Infer(CsvCell cell)
    {
        if (cell.Quoted)
        {
            return FieldType.String;
        }

        if (cell.Text is "true" or "false")
        {
            return FieldType.Boolean;
        }

        return double.TryParse(cell.Text, NumberStyles.Float, CultureInfo.InvariantCulture, out _) ? FieldType.Float : FieldType.String;
    }

    private static bool TryAddField(PointBatch batch, TextSlice key, FieldType type, string text)
    {
        switch (type)
        {
            case FieldType.Float when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && double.IsFinite(value):
                batch.AddFloat(key, value);
                return true;
            case FieldType.Integer when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value):
                batch.AddInteger(key, value);
                return true;
            case FieldType.UInteger when ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value):
                batch.AddUInteger(key, value);
                return true;
            case FieldType.Boolean when text is "true" or "false":
                batch.AddBoolean(key, text == "true");
                return true;
            case FieldType.String:
                batch.AddString(key, batch.AppendText(Encoding.UTF8.GetBytes(text)));
                return true;
            default:
                return false;
        }
    }

    private static FieldType? TypeOf(string prefix) => prefix switch
    {
        "float" => FieldType.Float,
        "integer" => FieldType.Integer,
        "unsigned" => FieldType.UInteger,
        "boolean" => FieldType.Boolean,
        "string" => FieldType.String,
        _ => null,
    };

    private static string Article(FieldType type) => type is FieldType.Integer or FieldType.UInteger ? "an" : "a";

    internal static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;
}

/// <summary>One cell of a CSV record, unquoted, and whether it was quoted (a quoted empty cell is an empty string, not a missing value).</summary>
public readonly record struct CsvCell(string Text, bool Quoted);

/// <summary>Splits RFC 4180 records out of an import's lines, a quoted cell spanning lines joined with <c>\n</c>.</summary>
public static class CsvCells
{
    /// <summary>
    /// Adds the cells of <paramref name="text"/> to <paramref name="cells"/>; false when a quoted cell is still open at
    /// the end (the record goes on on the next line: call again with both lines joined).
    /// </summary>
    /// <exception cref="FormatException">A quote inside an unquoted cell, or text after a closing quote.</exception>
    public static bool TrySplit(string text, List<CsvCell> cells)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(cells);
        cells.Clear();
        var cell = new StringBuilder();
        int i = 0;
        while (true)
        {
            cell.Clear();
            bool quoted = i < text.Length && text[i] == '"';
            if (quoted)
            {
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        return false;
                    }

                    char c = text[i++];
                    if (c == '"')
                    {
                        if (i < text.Length && text[i] == '"')
                        {
                            cell.Append('"');
                            i++;
                            continue;
                        }

                        break;
                    }

                    cell.Append(c);
                }

                if (i < text.Length && text[i] != ',')
                {
                    throw new FormatException($"text after the closing quote of cell {cells.Count + 1}; quote the whole cell and double the quotes inside it");
                }
            }
            else
            {
                int end = text.IndexOf(',', i);
                end = end < 0 ? text.Length : end;
                var raw = text.AsSpan(i, end - i);
                if (raw.Contains('"'))
                {
                    throw new FormatException($"a quote inside unquoted cell {cells.Count + 1}; quote the whole cell and double the quotes inside it");
                }

                cell.Append(raw);
                i = end;
            }

            cells.Add(new CsvCell(cell.ToString(), quoted));
            if (i >= text.Length)
            {
                return true;
            }

            i++; // the comma
            if (i == text.Length)
            {
                cells.Add(new CsvCell("", false));
                return true;
            }
        }
    }
}
