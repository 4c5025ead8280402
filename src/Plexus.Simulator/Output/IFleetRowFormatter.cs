namespace Plexus.Simulator;

/// <summary>The output formats of <c>plexus simulate</c>.</summary>
public enum FleetFormat
{
    /// <summary>InfluxDB line protocol, nanosecond timestamps, laid out as TSBS's Influx serializer does.</summary>
    LineProtocol,

    /// <summary>One CSV file with a <c>measurement</c> column and the union of both measurements' columns.</summary>
    Csv,

    /// <summary>One JSON object per line.</summary>
    JsonLines,
}

/// <summary>
/// Turns <see cref="FleetRow"/>s into UTF-8 bytes. Formatters write into a span the caller sized to at least
/// <see cref="MaxRowBytes"/>; they allocate nothing per row. Not thread-safe (they cache the last timestamp).
/// </summary>
public interface IFleetRowFormatter
{
    FleetFormat Format { get; }

    /// <summary>An upper bound on the bytes of one row (and of the header).</summary>
    int MaxRowBytes { get; }

    /// <summary>Writes the text that starts the output (the CSV header); returns its length, 0 for formats without one.</summary>
    int WriteHeader(Span<byte> destination);

    /// <summary>
    /// Writes one row including its line end and returns its length, or 0 when the row is skipped: a row with no
    /// non-NULL field left cannot be written as line protocol, and TSBS's serializer drops it, so every format does.
    /// </summary>
    int WriteRow(in FleetRow row, Span<byte> destination);
}

/// <summary>Creates the formatter for a format and a simulator's trucks.</summary>
public static class FleetFormatters
{
    public static IFleetRowFormatter Create(FleetFormat format, IReadOnlyList<Truck> trucks)
    {
        ArgumentNullException.ThrowIfNull(trucks);
        return format switch
        {
            FleetFormat.LineProtocol => new LineProtocolRowFormatter(trucks),
            FleetFormat.Csv => new CsvRowFormatter(trucks),
            FleetFormat.JsonLines => new JsonLinesRowFormatter(trucks),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown format"),
        };
    }

    /// <summary>Parses the command-line spellings: <c>lp</c>/<c>line-protocol</c>, <c>csv</c>, <c>jsonl</c>/<c>ndjson</c>.</summary>
    /// <summary>Line protocol rows of <c>main.positions</c> from the trucks' readings (<c>plexus simulate --positions</c>).</summary>
    public static IFleetRowFormatter Positions(IReadOnlyList<Truck> trucks) => new PositionsRowFormatter(trucks);

    public static bool TryParse(string? text, out FleetFormat format)
    {
        switch (text?.Trim().ToUpperInvariant())
        {
            case "LP" or "LINE-PROTOCOL" or "ILP" or "INFLUX":
                format = FleetFormat.LineProtocol;
                return true;
            case "CSV":
                format = FleetFormat.Csv;
                return true;
            case "JSONL" or "NDJSON" or "JSON-LINES":
                format = FleetFormat.JsonLines;
                return true;
            default:
                format = default;
                return false;
        }
    }

    /// <summary>
    /// True when the row has something to write: a non-NULL measurement field, or a numeric tag (which line protocol
    /// carries as a field). Under TSBS's rules that is always so (at most one field and one tag are NULL), but the
    /// check keeps every writer valid for any chaos settings.
    /// </summary>
    internal static bool HasAnyField(in FleetRow row) =>
        row.FieldCount > (row.NullField >= 0 ? 1 : 0) || row.NullTag < (int)FleetTag.LoadCapacity;
}
