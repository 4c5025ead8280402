using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;

namespace Plexus.Cli.Client;

/// <summary>
/// The JSON result of `POST /api/v1/sql` (`{"columns":[{"name","type"}],"rows":[[...]],"truncated"}`) as text cells,
/// and its two renderings: a Spectre table for a terminal and plain space-aligned columns for pipes and files.
/// </summary>
internal sealed class QueryResultTable
{
    private const string NullText = "NULL";

    // DuckDB type names whose values read best right-aligned. Not a substring test: INTERVAL and POINT contain "INT".
    private static readonly HashSet<string> s_numericTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
        "FLOAT", "DOUBLE", "REAL", "NUMERIC", "INT", "INT2", "INT4", "INT8", "FLOAT4", "FLOAT8",
    };

    private QueryResultTable(IReadOnlyList<(string Name, string Type)> columns, List<string[]> rows, bool truncated)
    {
        Columns = columns;
        Rows = rows;
        Truncated = truncated;
    }

    public IReadOnlyList<(string Name, string Type)> Columns { get; }

    public IReadOnlyList<string[]> Rows { get; }

    public bool Truncated { get; }

    public static QueryResultTable Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new CliException("the server's answer is not a query result (expected a JSON object)");
        }

        var columns = new List<(string, string)>();
        if (root.TryGetProperty("columns", out var columnArray) && columnArray.ValueKind == JsonValueKind.Array)
        {
            foreach (var column in columnArray.EnumerateArray())
            {
                columns.Add((Text(column, "name"), Text(column, "type")));
            }
        }

        var rows = new List<string[]>();
        if (root.TryGetProperty("rows", out var rowArray) && rowArray.ValueKind == JsonValueKind.Array)
        {
            foreach (var row in rowArray.EnumerateArray())
            {
                if (row.ValueKind != JsonValueKind.Array)
                {
                    throw new CliException("the server's answer is not a query result (a row is not a JSON array)");
                }

                var cells = new string[columns.Count];
                int i = 0;
                foreach (var value in row.EnumerateArray())
                {
                    if (i == cells.Length)
                    {
                        break; // More values than columns: the header is what we can label.
                    }

                    cells[i++] = Format(value);
                }

                for (; i < cells.Length; i++)
                {
                    cells[i] = "";
                }

                rows.Add(cells);
            }
        }

        bool truncated = root.TryGetProperty("truncated", out var t) && t.ValueKind == JsonValueKind.True;
        return new QueryResultTable(columns, rows, truncated);
    }

    /// <summary>The footer under a table: the row count, and a warning when the server cut the result short.</summary>
    public string Footer()
    {
        string count = Rows.Count == 1 ? "(1 row)" : string.Create(CultureInfo.InvariantCulture, $"({Rows.Count} rows)");
        return Truncated
            ? count + " (truncated: the server returned only the first rows; add a LIMIT or narrow the query)"
            : count;
    }

    /// <summary>Space-aligned columns under a dashed rule; no ANSI sequences, so it stays readable in a pipe or a file.</summary>
    public void WritePlain(TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (Columns.Count > 0)
        {
            var widths = new int[Columns.Count];
            var rightAligned = new bool[Columns.Count];
            for (int c = 0; c < Columns.Count; c++)
            {
                widths[c] = Columns[c].Name.Length;
                rightAligned[c] = IsNumeric(Columns[c].Type);
            }

            foreach (var row in Rows)
            {
                for (int c = 0; c < row.Length; c++)
                {
                    widths[c] = Math.Max(widths[c], row[c].Length);
                }
            }

            var line = new StringBuilder();
            WriteLine(writer, line, widths, rightAligned, Columns.Select(c => c.Name).ToArray());
            WriteLine(writer, line, widths, rightAligned: new bool[widths.Length], widths.Select(w => new string('-', w)).ToArray());
            foreach (var row in Rows)
            {
                WriteLine(writer, line, widths, rightAligned, row);
            }
        }

        writer.WriteLine(Footer());
    }

    /// <summary>A Spectre table for a terminal; cells are plain text, never markup, so brackets in data are safe.</summary>
    public void WriteTable(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        if (Columns.Count > 0)
        {
            var table = new Table().Border(TableBorder.Rounded);
            foreach (var (name, type) in Columns)
            {
                var column = new TableColumn(new Text(name, new Style(decoration: Decoration.Bold)));
                if (IsNumeric(type))
                {
                    column.RightAligned();
                }

                table.AddColumn(column);
            }

            foreach (var row in Rows)
            {
                table.AddRow(row.Select(cell => (Spectre.Console.Rendering.IRenderable)(cell == NullText
                    ? new Text(cell, new Style(Color.Grey))
                    : new Text(cell))).ToArray());
            }

            console.Write(table);
        }

        console.WriteLine(Footer());
    }

    internal static bool IsNumeric(string type) =>
        s_numericTypes.Contains(type) || type.StartsWith("DECIMAL", StringComparison.OrdinalIgnoreCase);

    private static void WriteLine(TextWriter writer, StringBuilder line, int[] widths, bool[] rightAligned, string[] cells)
    {
        line.Clear();
        for (int c = 0; c < widths.Length; c++)
        {
            if (c > 0)
            {
                line.Append("  ");
            }

            string cell = cells[c];
            if (rightAligned[c])
            {
                line.Append(' ', widths[c] - cell.Length).Append(cell);
            }
            else
            {
                line.Append(cell).Append(' ', widths[c] - cell.Length);
            }
        }

        writer.WriteLine(line.ToString().TrimEnd(' '));
    }

    private static string Format(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => NullText,
        JsonValueKind.String => Escape(value.GetString() ?? ""),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => value.GetRawText(), // numbers as the server spelled them; lists and structs as compact JSON
    };

    /// <summary>Control characters would break the alignment of every following row; show them as escapes.</summary>
    private static string Escape(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\0', '\x1f'))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 8);
        foreach (char ch in text)
        {
            _ = ch switch
            {
                '\n' => escaped.Append("\\n"),
                '\r' => escaped.Append("\\r"),
                '\t' => escaped.Append("\\t"),
                < ' ' => escaped.Append(CultureInfo.InvariantCulture, $"\\x{(int)ch:x2}"),
                _ => escaped.Append(ch),
            };
        }

        return escaped.ToString();
    }

    private static string Text(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString() ?? ""
            : "";
}
