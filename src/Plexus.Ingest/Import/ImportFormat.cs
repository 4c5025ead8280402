namespace Plexus.Ingest.Import;

/// <summary>The file formats an import reads (docs/export-import.md).</summary>
public enum ImportFormat : byte
{
    Csv,
    JsonLines,
    LineProtocol,
    Parquet,
}

public static class ImportFormats
{
    public const string Names = "csv, jsonl, lp or parquet";

    public static bool TryParse(string? text, out ImportFormat format)
    {
        (bool known, format) = text?.ToLowerInvariant() switch
        {
            "csv" => (true, ImportFormat.Csv),
            "jsonl" or "ndjson" or "json" => (true, ImportFormat.JsonLines),
            "lp" or "line-protocol" or "influx" => (true, ImportFormat.LineProtocol),
            "parquet" => (true, ImportFormat.Parquet),
            _ => (false, ImportFormat.Csv),
        };
        return known;
    }

    /// <summary>The format a file's name suggests (<c>--format auto</c>): by its extension, line protocol when none fits.</summary>
    public static ImportFormat FromFileName(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        string extension = Path.GetExtension(name).TrimStart('.');
        return extension.ToLowerInvariant() switch
        {
            "csv" => ImportFormat.Csv,
            "jsonl" or "ndjson" or "json" => ImportFormat.JsonLines,
            "parquet" => ImportFormat.Parquet,
            _ => ImportFormat.LineProtocol,
        };
    }

    public static string Name(this ImportFormat format) => format switch
    {
        ImportFormat.Csv => "csv",
        ImportFormat.JsonLines => "jsonl",
        ImportFormat.LineProtocol => "lp",
        _ => "parquet",
    };
}

/// <summary>A row an import refused: its 1-based data row (the header not counted), and the decoder's error (line, column, reason).</summary>
public readonly record struct ImportRowError(long Row, IngestError Error);

/// <summary>The first refused rows of an import, up to a capacity, and how many there were in all.</summary>
public sealed class ImportErrors(int capacity)
{
    private readonly List<ImportRowError> _errors = [];

    public long Count { get; private set; }

    public IReadOnlyList<ImportRowError> Listed => _errors;

    public void Add(long row, in IngestError error)
    {
        Count++;
        if (_errors.Count < capacity)
        {
            _errors.Add(new ImportRowError(row, error));
        }
    }
}
