using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Plexus.Compare;

internal static class Report
{
    public static readonly string[] CanonicalQueries = ["last-loc", "low-fuel", "high-load", "stationary-trucks", "avg-load", "daily-activity", "breakdown-frequency"];

    /// <summary>Markdown table: one column per system, one row per figure (the same table the console shows).</summary>
    public static string Markdown(IReadOnlyList<SystemResult> systems, IReadOnlyList<int> writerCounts)
    {
        var rows = Rows(systems, writerCounts);
        var sb = new StringBuilder();
        sb.Append("| figure | ").AppendJoin(" | ", systems.Select(s => s.Name)).AppendLine(" |");
        sb.Append("|---|").AppendJoin("", systems.Select(_ => "---:|")).AppendLine();
        foreach (var (label, cells) in rows)
        {
            sb.Append("| ").Append(label).Append(" | ").AppendJoin(" | ", cells).AppendLine(" |");
        }

        return sb.ToString();
    }

    public static void Console(IReadOnlyList<SystemResult> systems, IReadOnlyList<int> writerCounts)
    {
        AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 170);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("figure");
        foreach (var s in systems)
        {
            table.AddColumn(new TableColumn(s.Name).RightAligned());
        }

        foreach (var (label, cells) in Rows(systems, writerCounts))
        {
            table.AddRow([Markup.Escape(label), .. cells.Select(Markup.Escape)]);
        }

        AnsiConsole.Write(table);
    }

    private static List<(string Label, string[] Cells)> Rows(IReadOnlyList<SystemResult> systems, IReadOnlyList<int> writerCounts)
    {
        var rows = new List<(string, string[])>();
        foreach (int w in writerCounts)
        {
            var perSystem = systems.Select(s => Summary.Of(s.Runs.Where(r => r.Writers == w).Select(r => r.RowsPerSecond))).ToArray();
            double fastestPeer = systems.Select((s, i) => (s, i)).Where(x => x.s.Name != "plexus" && perSystem[x.i] is not null).Select(x => perSystem[x.i]!.Median).DefaultIfEmpty(double.NaN).Max();
            rows.Add(($"ingest rows/s, {w} writer{(w == 1 ? "" : "s")} (median, min–max)", perSystem.Select(p => p is null ? "–" : $"{p.Median:N0} ({p.Min:N0}–{p.Max:N0})").ToArray()));
            rows.Add(($"  × fastest peer, {w} writer{(w == 1 ? "" : "s")}", perSystem.Select(p => p is null || double.IsNaN(fastestPeer) ? "–" : (p.Median / fastestPeer).ToString("0.00", CultureInfo.InvariantCulture)).ToArray()));
            rows.Add(($"  field values/s, {w} writer{(w == 1 ? "" : "s")}", systems.Select(s => Summary.Of(s.Runs.Where(r => r.Writers == w).Select(r => r.ValuesPerSecond)) is { } v ? $"{v.Median:N0}" : "–").ToArray()));
            rows.Add(($"  server CPU s, {w} writer{(w == 1 ? "" : "s")}", systems.Select(s => Summary.Of(s.Runs.Where(r => r.Writers == w).Select(r => r.CpuSeconds)) is { } v ? $"{v.Median:0.0}" : "–").ToArray()));
            rows.Add(($"  peak RSS MiB, {w} writer{(w == 1 ? "" : "s")}", systems.Select(s => Summary.Of(s.Runs.Where(r => r.Writers == w).Select(r => r.PeakRssBytes / 1048576.0)) is { } v ? $"{v.Median:0}" : "–").ToArray()));
        }

        rows.Add(("B/value on disk (settled)", systems.Select(s => s.BytesPerValue is { } b ? b.ToString("0.00", CultureInfo.InvariantCulture) : "–").ToArray()));
        rows.Add(("peak RSS MiB incl. queries", systems.Select(s => s.PeakRssBytesWithQueries is { } b ? (b / 1048576.0).ToString("0", CultureInfo.InvariantCulture) : "–").ToArray()));
        var names = CanonicalQueries.Concat(systems.SelectMany(s => s.Queries.Select(q => q.Name))).Distinct().ToList();
        foreach (var name in names)
        {
            rows.Add(($"{name} ms (rows)", systems.Select(s => s.Queries.FirstOrDefault(q => q.Name == name) switch
            {
                null => "–",
                { Error: not null } => "error",
                { MedianMs: { } ms, Rows: var r, Note: var note } => $"{ms:0.0} ({r}){(note.StartsWith("approximate", StringComparison.Ordinal) ? " ≈" : "")}",
                _ => "n/a",
            }).ToArray()));
        }

        return rows;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static async Task WriteJsonAsync(string path, object document, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        await using var stream = File.Create(path);
        await JsonSerializer.SerializeAsync(stream, document, JsonOptions, cancellationToken);
    }
}
