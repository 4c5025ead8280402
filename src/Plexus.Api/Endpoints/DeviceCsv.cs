using System.Text;
using Plexus.Core;
using Plexus.Devices;

namespace Plexus.Api.Endpoints;

/// <summary>One row of a device CSV file: the device it describes, or why it does not describe one.</summary>
internal readonly record struct DeviceCsvRow(int Line, NewDevice? Device, RegistryException? Error);

/// <summary>
/// Devices as CSV (docs/devices.md#bulk-registration-from-csv): a header row naming the columns <c>id</c> (required),
/// <c>name</c>, <c>type</c>, <c>parent</c>, <c>tags</c> (<c>key=value;key=value</c>), <c>measurements</c> (the
/// allow-list, <c>telemetry;power</c>) and any number of <c>tag:&lt;key&gt;</c> columns; then one device per row. RFC 4180 quoting; empty cells are absent values; blank
/// lines are skipped. A bad header fails the whole file; a bad row fails only that row.
/// </summary>
internal static class DeviceCsv
{
    public const string Example = "id,name,type,parent,tag:fleet\ntruck-7,Truck 7,truck,,East";

    /// <summary>Parses the file; throws <see cref="FormatException"/> (naming the line) when the header or quoting is broken.</summary>
    public static List<DeviceCsvRow> Parse(string text, int maxRows)
    {
        var records = ReadRecords(text);
        if (records.Count == 0)
        {
            throw new FormatException($"the CSV file is empty; the first line must be a header such as \"{Example.Split('\n')[0]}\"");
        }

        var (headerLine, header) = records[0];
        var columns = ParseHeader(headerLine, header);
        if (records.Count - 1 > maxRows)
        {
            throw new FormatException($"{records.Count - 1} devices; at most {maxRows} per bulk request, split the file");
        }

        var rows = new List<DeviceCsvRow>(records.Count - 1);
        foreach (var (line, cells) in records.Skip(1))
        {
            try
            {
                rows.Add(new DeviceCsvRow(line, ParseRow(line, cells, columns), null));
            }
            catch (RegistryException error)
            {
                rows.Add(new DeviceCsvRow(line, null, error));
            }
        }

        return rows;
    }

    private static string[] ParseHeader(int line, List<string> header)
    {
        var columns = new string[header.Count];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < header.Count; i++)
        {
            string name = header[i].Trim();
            bool known = name.ToLowerInvariant() is "id" or "name" or "type" or "parent" or "tags" or "measurements"
                || (name.StartsWith("tag:", StringComparison.OrdinalIgnoreCase) && name.Length > 4);
            if (!known)
            {
                throw new FormatException($"line {line}: column {i + 1} \"{name}\" is not one of id, name, type, parent, tags, measurements or tag:<key>");
            }

            if (!seen.Add(name))
            {
                throw new FormatException($"line {line}: column \"{name}\" appears twice");
            }

            columns[i] = name.StartsWith("tag:", StringComparison.OrdinalIgnoreCase) ? "tag:" + name[4..] : name.ToLowerInvariant();
        }

        if (!seen.Contains("id"))
        {
            throw new FormatException($"line {line}: the header has no \"id\" column; start the file with a header such as \"{Example.Split('\n')[0]}\"");
        }

        return columns;
    }

    private static NewDevice ParseRow(int line, List<string> cells, string[] columns)
    {
        if (cells.Count != columns.Length)
        {
            throw RegistryException.Invalid(null, $"line {line}: {cells.Count} cells, but the header has {columns.Length} columns");
        }

        string? id = null, name = null, type = null, parent = null;
        List<string>? measurements = null;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < columns.Length; i++)
        {
            string cell = cells[i];
            if (cell.Length == 0)
            {
                continue;
            }

            switch (columns[i])
            {
                case "id":
                    id = cell.Trim();
                    break;
                case "name":
                    name = cell;
                    break;
                case "type":
                    type = cell;
                    break;
                case "parent":
                    parent = cell.Trim();
                    break;
                case "measurements":
                    measurements = [.. cell.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    break;
                case "tags":
                    foreach (string pair in cell.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        int equals = pair.IndexOf('=', StringComparison.Ordinal);
                        if (equals <= 0)
                        {
                            throw RegistryException.Invalid("tags", $"line {line}: tags: \"{pair}\" is not key=value (write tags as fleet=East;site=Oslo)");
                        }

                        tags[pair[..equals]] = pair[(equals + 1)..];
                    }

                    break;
                default:
                    tags[columns[i][4..]] = cell;
                    break;
            }
        }

        if (!DeviceValidation.IsValidId(id, out string? problem))
        {
            throw RegistryException.Invalid("id", $"line {line}: {problem}");
        }

        return new NewDevice(id!, name, type, tags.Count == 0 ? null : tags, parent, measurements);
    }

    /// <summary>
    /// RFC 4180 records with the physical line each starts on; blank lines are skipped. Throws
    /// <see cref="FormatException"/> naming the line for a stray or unclosed quote. Asset CSV reads through it too.
    /// </summary>
    internal static List<(int Line, List<string> Cells)> ReadRecords(string text)
    {
        var records = new List<(int, List<string>)>();
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
                    throw new FormatException($"line {line}: a quote inside an unquoted cell; quote the whole cell and double the quote (\"a \"\"b\"\"\")");
                case ',':
                    cells.Add(cell.ToString());
                    cell.Clear();
                    cellWasQuoted = false;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRecord();
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
            throw new FormatException($"line {recordLine}: a quoted cell is not closed before the end of the file");
        }

        EndRecord();
        return records;

        void EndRecord()
        {
            cells.Add(cell.ToString());
            cell.Clear();
            cellWasQuoted = false;
            if (cells.Count > 1 || cells[0].Length > 0)
            {
                records.Add((recordLine, cells));
            }

            cells = [];
        }
    }
}
