using System.Text;

namespace Plexus.Ingest.Csv;

/// <summary>One record of a CSV file: the physical line it starts on and its cells, unquoted.</summary>
public readonly record struct CsvRecord(int Line, List<string> Cells);

/// <summary>
/// One data row of a CSV import: what it describes (<see cref="Record"/>), or why it describes nothing
/// (<see cref="Error"/>). A bad row fails only itself; the caller answers each row on its own.
/// </summary>
public readonly record struct CsvRow<T>(int Line, T? Record, IngestError Error)
    where T : class;

/// <summary>RFC 4180 records, the framing every CSV import of Plexus reads through (devices, assets).</summary>
public static class CsvRecords
{
    /// <summary>
    /// Splits <paramref name="text"/> into records with the physical line each starts on; a leading byte order mark
    /// and blank lines are skipped, <c>\r\n</c> and <c>\n</c> both end a record, a quoted cell may hold commas,
    /// newlines and doubled quotes. A stray quote in an unquoted cell, or a quoted cell left open, is an error
    /// naming its line.
    /// </summary>
    public static bool TryRead(string text, out List<CsvRecord> records, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(text);
        records = [];
        var cells = new List<string>();
        var cell = new StringBuilder();
        int line = 1;
        int recordLine = 1;
        bool quoted = false;
        bool cellWasQuoted = false;
        int i = text.Length > 0 && text[0] == '\uFEFF' ? 1 : 0;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"')
                    {
                        cell.Append('"');
                        i++;
                    }
                    else
                    {
                        quoted = false;
                    }
                }
                else
                {
                    if (c == '\n')
                    {
                        line++;
                    }

                    cell.Append(c);
                }

                continue;
            }

            switch (c)
            {
                case '"' when cell.Length == 0 && !cellWasQuoted:
                    quoted = true;
                    cellWasQuoted = true;
                    break;
                case '"':
                    error = new IngestError(IngestErrorKind.Syntax, null, line, "a quote inside an unquoted cell; quote the whole cell and double the quote (\"a \"\"b\"\"\")");
                    return false;
                case ',':
                    cells.Add(cell.ToString());
                    cell.Clear();
                    cellWasQuoted = false;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRecord(records);
                    line++;
                    recordLine = line;
                    break;
                default:
                    cell.Append(c);
                    break;
            }
        }

        if (quoted)
        {
            error = new IngestError(IngestErrorKind.Syntax, null, recordLine, "a quoted cell is not closed before the end of the file");
            return false;
        }

        EndRecord(records);
        error = default;
        return true;

        void EndRecord(List<CsvRecord> records)
        {
            cells.Add(cell.ToString());
            cell.Clear();
            cellWasQuoted = false;
            if (cells.Count > 1 || cells[0].Length > 0)
            {
                records.Add(new CsvRecord(recordLine, cells));
            }

            cells = [];
        }
    }
}
