namespace Plexus.Ingest.Csv;

/// <summary>An asset as one CSV row describes it; the id is trimmed but not yet checked (the registry's rules).</summary>
public sealed record AssetCsvRecord(string Id, string? Name, string? Type, string? Parent, IReadOnlyDictionary<string, string> Tags);

/// <summary>
/// Assets as CSV (docs/assets.md): a header row naming <c>id</c> (required), <c>name</c>, <c>type</c>, <c>parent</c>
/// and <c>tags.KEY</c> columns; then one asset per row. RFC 4180 quoting; empty cells are absent values. A bad
/// header fails the whole file; a bad row fails only that row.
/// </summary>
public static class AssetCsv
{
    /// <summary>Decodes the file into one row per asset; false (the whole file refused) when the quoting or the header is broken.</summary>
    public static bool TryDecode(string text, out List<CsvRow<AssetCsvRecord>> rows, out IngestError error)
    {
        rows = [];
        if (!CsvRecords.TryRead(text, out var records, out error))
        {
            return false;
        }

        // The asset import has always worded its header errors without a line: they are refusals of the file.
        if (records.Count == 0)
        {
            error = new IngestError(IngestErrorKind.Missing, null, 0, "the CSV is empty; send a header row such as id,name,type,parent,tags.region and one row per asset");
            return false;
        }

        var header = records[0].Cells;
        int id = -1;
        for (int i = 0; i < header.Count; i++)
        {
            string column = header[i].Trim();
            if (column == "id")
            {
                id = i;
            }
            else if (column is not ("name" or "type" or "parent") && !(column.StartsWith("tags.", StringComparison.Ordinal) && column.Length > 5))
            {
                error = new IngestError(IngestErrorKind.Unsupported, null, 0, $"CSV header column {i + 1} \"{column}\" is unknown; use id, name, type, parent and tags.KEY");
                return false;
            }
        }

        if (id < 0)
        {
            error = new IngestError(IngestErrorKind.Missing, null, 0, "the CSV header has no id column; send a header row such as id,name,type,parent,tags.region");
            return false;
        }

        foreach (var (line, fields) in records.Skip(1))
        {
            rows.Add(ReadRow(line, fields, header, id));
        }

        return true;
    }

    private static CsvRow<AssetCsvRecord> ReadRow(int line, List<string> fields, List<string> header, int id)
    {
        if (fields.Count != header.Count)
        {
            // The line is in the reason ("line 3 has …"), as the import has always said it; the row carries it too.
            return new CsvRow<AssetCsvRecord>(line, null, new IngestError(IngestErrorKind.Syntax, null, 0, $"line {line} has {fields.Count} fields; the header has {header.Count}"));
        }

        string? name = null, type = null, parent = null;
        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < header.Count; i++)
        {
            string column = header[i].Trim();
            string? value = fields[i].Length == 0 ? null : fields[i];
            switch (column)
            {
                case "id":
                    break;
                case "name":
                    name = value;
                    break;
                case "type":
                    type = value;
                    break;
                case "parent":
                    parent = value;
                    break;
                default:
                    if (value is not null)
                    {
                        tags[column[5..]] = value;
                    }

                    break;
            }
        }

        return new CsvRow<AssetCsvRecord>(line, new AssetCsvRecord(fields[id].Trim(), name, type, parent, tags), default);
    }
}
