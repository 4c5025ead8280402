using System.Globalization;
using System.Text.RegularExpressions;

namespace Plexus.Compare.Systems;

/// <summary>
/// Plexus with all twelve TSBS IoT queries exactly as docs/cross-data.md writes them (the cookbook, whose answers the
/// test suite checks), re-pointed at the benchmark's namespace, fleet and time windows. A mode of its own
/// (<c>--systems plexus-tsbs</c>), because the peers express only some of the twelve.
/// </summary>
internal sealed partial class PlexusTsbsSystem(HttpClient http, string executable, string token, string version)
    : PlexusSystem(http, executable, token, version)
{
    public static readonly string[] QueryNames =
    [
        "last-loc", "low-fuel", "high-load", "stationary-trucks", "long-driving-sessions", "long-daily-sessions",
        "avg-vs-projected-fuel-consumption", "avg-daily-driving-duration", "avg-daily-driving-session", "avg-load",
        "daily-activity", "breakdown-frequency",
    ];

    public override string Name => "plexus-tsbs";

    /// <summary>
    /// The cookbook's windows become: stationary-trucks the harness's 10-minute window, long-driving-sessions the
    /// first 4 hours of the data, long-daily-sessions the 24 hours from the data's first midnight-aligned day.
    /// </summary>
    public override IReadOnlyList<QuerySpec> Queries(QueryWindow w)
    {
        var blocks = CookbookBlocks();
        var dayStart = new DateTimeOffset(w.DataStart.UtcDateTime.Date, TimeSpan.Zero);
        var specs = new List<QuerySpec>();
        foreach (string name in QueryNames)
        {
            string sql = blocks[name]
                .Replace("fleet.readings", "bench.readings", StringComparison.Ordinal)
                .Replace("fleet.diagnostics", "bench.diagnostics", StringComparison.Ordinal)
                .Replace("'South'", $"'{w.Fleet}'", StringComparison.Ordinal);
            sql = name switch
            {
                "stationary-trucks" => Window(sql, "2016-01-01 12:00:00", "2016-01-01 12:10:00", w.StationaryStart, w.StationaryEnd),
                "long-driving-sessions" => Window(sql, "2016-01-01 08:00:00", "2016-01-01 12:00:00", w.DataStart, w.DataStart.AddHours(4)),
                "long-daily-sessions" => Window(sql, "2016-01-01 00:00:00", "2016-01-02 00:00:00", dayStart, dayStart.AddHours(24)),
                _ => sql,
            };
            specs.Add(new QuerySpec(name, sql));
        }

        return specs;
    }

    private static string Window(string sql, string from, string to, DateTimeOffset newFrom, DateTimeOffset newTo)
    {
        string Literal(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        if (!sql.Contains(from, StringComparison.Ordinal) || !sql.Contains(to, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"docs/cross-data.md: the window {from} – {to} is not in the query any more");
        }

        return sql.Replace($"'{from}'", $"'{Literal(newFrom)}'", StringComparison.Ordinal).Replace($"'{to}'", $"'{Literal(newTo)}'", StringComparison.Ordinal);
    }

    private static Dictionary<string, string> CookbookBlocks()
    {
        string path = FindCookbook();
        var blocks = new Dictionary<string, string>();
        foreach (Match match in SqlBlock().Matches(File.ReadAllText(path)))
        {
            string sql = match.Groups[1].Value.Trim();
            var name = BlockName().Match(sql);
            if (name.Success)
            {
                blocks[name.Groups[1].Value] = sql;
            }
        }

        var missing = QueryNames.Where(n => !blocks.ContainsKey(n)).ToList();
        return missing.Count == 0 ? blocks : throw new InvalidDataException($"{path} has no block for {string.Join(", ", missing)}");
    }

    private static string FindCookbook()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "docs", "cross-data.md");
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new FileNotFoundException("docs/cross-data.md not found above the current directory: run from the repository");
    }

    [GeneratedRegex("```sql\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();

    [GeneratedRegex("^-- ([a-z0-9-]+)\\n")]
    private static partial Regex BlockName();
}
