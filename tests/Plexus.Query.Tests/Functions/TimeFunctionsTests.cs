using System.Net;
using Plexus.TestKit;

namespace Plexus.Query.Tests.Functions;

/// <summary>The time-alignment macros the server installs in main, called from any namespace.</summary>
public sealed class TimeFunctionsTests
{
    private const string Series = """
        s,id=a v=1 1451606400
        s,id=a v=3 1451606420
        s,id=a v=4 1451606460
        s,id=b v=10 1451606410
        s,id=b v=30 1451606430
        """;

    [Theory]
    [InlineData(null)]
    [InlineData("ns")]
    public async Task Gap_fill_macros_resolve_with_and_without_a_default_namespace(string? db)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using (var write = await server.WriteAsync(Series, "?bucket=ns&precision=s"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        // 10 s grid over a minute for both series; ns.s is qualified so the same text runs with and without db.
        var rows = await server.RowsAsync("""
            WITH grid AS (SELECT g.time AS slot, ids.id FROM time_grid(TIMESTAMP '2016-01-01 00:00:00', TIMESTAMP '2016-01-01 00:01:10', INTERVAL '10 seconds') g
                          CROSS JOIN (SELECT DISTINCT id FROM ns.s) ids)
            SELECT grid.id, slot, v, gap_fill_locf(v, slot, grid.id) AS locf, gap_fill_linear(v, slot, grid.id) AS linear
            FROM grid LEFT JOIN ns.s ON s.id = grid.id AND s.time = grid.slot
            ORDER BY grid.id, slot
            """, db);

        Assert.Equal(14, rows.Count);
        string Cell(System.Text.Json.JsonElement e) => e.ValueKind == System.Text.Json.JsonValueKind.Null ? "-" : e.GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var a = rows.Where(r => r[0].GetString() == "a").Select(r => $"{Cell(r[2])} {Cell(r[3])} {Cell(r[4])}").ToList();
        Assert.Equal(["1 1 1", "- 1 2", "3 3 3", "- 3 3.25", "- 3 3.5", "- 3 3.75", "4 4 4"], a);
        var b = rows.Where(r => r[0].GetString() == "b").Select(r => $"{Cell(r[2])} {Cell(r[3])} {Cell(r[4])}").ToList();
        Assert.Equal(["- - -", "10 10 10", "- 10 20", "30 30 30", "- 30 -", "- 30 -", "- 30 -"], b);
    }

    [Fact]
    public async Task Interpolate_linear_is_exact_at_both_ends_and_safe_on_one_point()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var rows = await server.RowsAsync("""
            SELECT interpolate_linear(TIMESTAMP '2016-01-01 00:00:15', TIMESTAMP '2016-01-01 00:00:10', 2.0, TIMESTAMP '2016-01-01 00:00:20', 4.0),
                   interpolate_linear(TIMESTAMP '2016-01-01 00:00:10', TIMESTAMP '2016-01-01 00:00:10', 2.0, TIMESTAMP '2016-01-01 00:00:10', 4.0),
                   interpolate_linear(TIMESTAMP '2016-01-01 00:00:20', TIMESTAMP '2016-01-01 00:00:10', 2.0, TIMESTAMP '2016-01-01 00:00:20', 4.0)
            """, "main");
        Assert.Equal(3.0, rows[0][0].GetDouble());
        Assert.Equal(2.0, rows[0][1].GetDouble());
        Assert.Equal(4.0, rows[0][2].GetDouble());
    }
}
