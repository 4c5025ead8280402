namespace Plexus.Ingest.Csv;

/// <summary>
/// A device as one CSV row describes it, before the registry's rules (the id's characters, lengths, reserved
/// measurements) are applied: those are the registry's to check.
/// </summary>
public sealed record DeviceCsvRecord(
    string? Id,
    string? Name,
    string? Type,
    string? Parent,
    IReadOnlyDictionary<string, string>? Tags,
    IReadOnlyList<string>? Measurements);

/// <summary>
/// Devices as CSV (docs/devices.md#bulk-registration-from-csv): a header row naming the columns <c>id</c> (required),
/// <c>name</c>, <c>type</c>, <c>parent</c>, <c>tags</c> (<c>key=value;key=value</c>), <c>measurements</c> (the
/// allow-list, <c>telemetry;power</c>) and any number of <c>tag:&lt;key&gt;</c> columns; then one device per row. RFC 4180 quoting; empty cells are absent values; blank
/// lines are skipped. A bad header fails the whole file; a bad row fails only that row.
/// </summary>
public static class DeviceCsv
{
    public const string Example = "id,name,type,parent,tag:fleet\ntruck-7,Truck 7,truck,,East";

    private const string ExampleHeader = "id,name,type,parent,tag:fleet";

    /// <summary>
    /// Decodes the file into one row per device; false (the whole file refused, naming the line) when the quoting or
    /// the header is broken, or when it holds more than <paramref name="maxRows"/> devices.
    /// </summary>
    public static bool TryDecode(string text, int maxRows, out List<CsvRow<DeviceCsvRecord>> rows, out IngestError error)
    {
        rows = [];
        if (!CsvRecords.TryRead(text, out var records, out error))
        {
            return false;
        }

        if (records.Count == 0)
        {
            error = new IngestError(IngestErrorKind.Missing, null, 0, $"the CSV file is empty; the first line must be a header such as \"{ExampleHeader}\"");
            return false;
        }

        if (!TryReadHeader(records[0], out string[] columns, out error))
        {
            return false;
        }

        if (records.Count - 1 > maxRows)
        {
            error = new IngestError(IngestErrorKind.TooLarge, null, 0, $"{records.Count - 1} devices; at most {maxRows} per bulk request, split the file");
            return false;
        }

        rows.Capacity = records.Count - 1;
        foreach (var (line, cells) in records.Skip(1))
        {
            rows.Add(ReadRow(line, cells, columns));
        }

        return true;
    }

    private static bool TryReadHeader(CsvRecord header, out string[] columns, out IngestError error)
    {
        columns = new string[header.Cells.Count];
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < header.Cells.Count; i++)
        {
            string name = header.Cells[i].Trim();
            bool known = name.ToLowerInvariant() is "id" or "name" or "type" or "parent" or "tags" or "measurements"
                || (name.StartsWith("tag:", StringComparison.OrdinalIgnoreCase) && name.Length > 4);
            if (!known)
            {
                error = new IngestError(IngestErrorKind.Unsupported, null, header.Line, $"column {i + 1} \"{name}\" is not one of id, name, type, parent, tags, measurements or tag:<key>");
                return false;
            }

            if (!seen.Add(name))
            {
                error = new IngestError(IngestErrorKind.Name, null, header.Line, $"column \"{name}\" appears twice");
                return false;
            }

            columns[i] = name.StartsWith("tag:", StringComparison.OrdinalIgnoreCase) ? "tag:" + name[4..] : name.ToLowerInvariant();
        }

        if (!seen.Contains("id"))
        {
            error = new IngestError(IngestErrorKind.Missing, null, header.Line, $"the header has no \"id\" column; start the file with a header such as \"{ExampleHeader}\"");
            return false;
        }

        error = default;
        return true;
    }

    private static CsvRow<DeviceCsvRecord> ReadRow(int line, List<string> cells, string[] columns)
    {
        if (cells.Count != columns.Length)
        {
            return new CsvRow<DeviceCsvRecord>(line, null, new IngestError(IngestErrorKind.Syntax, null, line, $"{cells.Count} cells, but the header has {columns.Length} columns"));
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
                            return new CsvRow<DeviceCsvRecord>(line, null, new IngestError(IngestErrorKind.Syntax, "tags", line, $"tags: \"{pair}\" is not key=value (write tags as fleet=East;site=Oslo)"));
                        }

                        tags[pair[..equals]] = pair[(equals + 1)..];
                    }

                    break;
                default:
                    tags[columns[i][4..]] = cell;
                    break;
            }
        }

        return new CsvRow<DeviceCsvRecord>(line, new DeviceCsvRecord(id, name, type, parent, tags.Count == 0 ? null : tags, measurements), default);
    }
}
