using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Plexus.TestKit;

namespace Plexus.Server.Tests.CrossData;

/// <summary>
/// Every ```sql block of docs/cross-data.md runs, as written, against the simulated fleet written through the server
/// (late, duplicated and overwritten rows included), and its answer equals the one <see cref="FleetReference"/>
/// computes in C# from the simulator's rows.
/// </summary>
public sealed partial class CrossDataCookbookTests : IClassFixture<SimulatedFleet>
{
    private readonly SimulatedFleet _fleet;

    public CrossDataCookbookTests(SimulatedFleet fleet)
    {
        _fleet = fleet;
    }

    public static TheoryData<string> Examples()
    {
        var data = new TheoryData<string>();
        foreach (var name in Blocks().Keys)
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Cookbook_query_answers_what_the_simulated_rows_say(string name)
    {
        string sql = Blocks()[name];
        Assert.True(FleetReference.Answers.TryGetValue(name, out var reference), $"no C# reference answer for '{name}'");
        var expected = reference(_fleet);
        var actual = await _fleet.Server.RowsAsync(sql);

        // An empty answer on both sides would compare nothing: every example has rows on the simulated fleet.
        Assert.NotEmpty(expected);
        Assert.Equal(expected.Count, actual.Count);
        var expectedSorted = expected.OrderBy(SortKey, StringComparer.Ordinal).ToList();
        var actualSorted = actual.OrderBy(SortKey, StringComparer.Ordinal).ToList();
        for (int i = 0; i < expectedSorted.Count; i++)
        {
            AssertRow(name, expectedSorted[i], actualSorted[i]);
        }
    }

    [Fact]
    public void The_cookbook_has_all_twelve_tsbs_queries_and_the_alignment_examples()
    {
        string[] required =
        [
            "last-loc", "low-fuel", "high-load", "stationary-trucks", "long-driving-sessions", "long-daily-sessions",
            "avg-vs-projected-fuel-consumption", "avg-daily-driving-duration", "avg-daily-driving-session", "avg-load",
            "daily-activity", "breakdown-frequency", "asof-readings-diagnostics", "asof-positions", "gapfill-none",
            "gapfill-locf", "gapfill-linear",
        ];
        var blocks = Blocks();
        Assert.All(required, name => Assert.True(blocks.ContainsKey(name), $"docs/cross-data.md has no '{name}' block"));
    }

    [Fact]
    public async Task Late_duplicate_and_overwritten_rows_are_stored_once_with_the_last_value()
    {
        var counts = await _fleet.Server.RowsAsync("SELECT (SELECT count(*) FROM fleet.readings), (SELECT count(*) FROM fleet.diagnostics), (SELECT count(*) FROM main.positions)");
        Assert.Equal(_fleet.Readings.Count, counts[0][0].GetInt64());
        Assert.Equal(_fleet.Diagnostics.Count, counts[0][1].GetInt64());
        Assert.Equal(_fleet.Positions.Count, counts[0][2].GetInt64());
        Assert.True(_fleet.LinesWritten > _fleet.Readings.Count + _fleet.Diagnostics.Count + _fleet.Positions.Count, "some rows were sent twice");

        var stationary = await _fleet.Server.RowsAsync(
            "SELECT count(*), max(velocity) FROM fleet.readings WHERE name = 'truck_13' AND time >= TIMESTAMP '2016-01-01 12:00:00' AND time < TIMESTAMP '2016-01-01 12:10:00'");
        Assert.True(stationary[0][0].GetInt64() > 40);
        Assert.Equal(0, stationary[0][1].GetDouble());
    }

    /// <summary>The cookbook's ```sql blocks by name: each starts with a <c>-- name</c> line.</summary>
    internal static Dictionary<string, string> Blocks()
    {
        var blocks = new Dictionary<string, string>();
        foreach (string sql in DocsPages.Runnable("cross-data.md", "sql").Select(block => block.Code))
        {
            var name = BlockName().Match(sql);
            Assert.True(name.Success, $"a ```sql block of docs/cross-data.md does not start with '-- <name>':\n{sql}");
            Assert.True(blocks.TryAdd(name.Groups[1].Value, sql), $"two blocks are named {name.Groups[1].Value}");
        }

        return blocks;
    }

    private static void AssertRow(string query, object?[] expected, List<JsonElement> actual)
    {
        string context = $"{query}: expected [{string.Join(", ", expected.Select(Text))}], got [{string.Join(", ", actual)}]";
        Assert.True(expected.Length == actual.Count, context);
        for (int i = 0; i < expected.Length; i++)
        {
            var cell = actual[i];
            switch (expected[i])
            {
                case null:
                    Assert.True(cell.ValueKind == JsonValueKind.Null, context);
                    break;
                case string s:
                    Assert.True(cell.ValueKind == JsonValueKind.String && cell.GetString() == s, context);
                    break;
                case long l:
                    Assert.True(cell.ValueKind == JsonValueKind.Number && cell.GetInt64() == l, context);
                    break;
                case double d:
                    Assert.True(cell.ValueKind == JsonValueKind.Number, context);
                    double x = cell.GetDouble();
                    Assert.True(Math.Abs(x - d) <= 1e-9 * Math.Max(1, Math.Abs(d)), context);
                    break;
                case Ts t:
                    Assert.True(cell.ValueKind == JsonValueKind.String && cell.GetString() == Text(t), context);
                    break;
                case TimeSpan span:
                    Assert.True(cell.ValueKind == JsonValueKind.String, context);
                    var parsed = TimeSpan.Parse(cell.GetString()!, CultureInfo.InvariantCulture);
                    Assert.True(Math.Abs((parsed - span).TotalMilliseconds) <= 1, context);
                    break;
                default:
                    throw new InvalidOperationException($"unexpected cell type {expected[i]!.GetType()}");
            }
        }
    }

    // Rows are compared as sets: the cookbook's ORDER BY is for readers; the key rounds numbers so both sides sort alike.
    private static string SortKey(object?[] row) => string.Join("|", row.Select(c => c switch
    {
        double d => Math.Round(d, 6).ToString("R", CultureInfo.InvariantCulture),
        TimeSpan s => ((long)s.TotalSeconds).ToString(CultureInfo.InvariantCulture),
        _ => Text(c),
    }));

    private static string SortKey(List<JsonElement> row) => string.Join("|", row.Select(c => c.ValueKind switch
    {
        JsonValueKind.Null => "null",
        JsonValueKind.Number => Math.Round(c.GetDouble(), 6).ToString("R", CultureInfo.InvariantCulture),
        JsonValueKind.String when TimeSpan.TryParseExact(c.GetString(), "c", CultureInfo.InvariantCulture, out var span) =>
            ((long)span.TotalSeconds).ToString(CultureInfo.InvariantCulture),
        JsonValueKind.String => c.GetString()!,
        _ => c.ToString(),
    }));

    private static string Text(object? cell) => cell switch
    {
        null => "null",
        Ts t => DateTime.UnixEpoch.AddTicks(t.Ns / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => cell.ToString() ?? "",
    };

    [GeneratedRegex("^-- ([a-z0-9-]+)\\n")]
    private static partial Regex BlockName();
}
