using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Plexus.TestKit;

namespace Plexus.Geo.Tests;

/// <summary>Every ```sql block of docs/geo.md runs against positions and a depot-7 geofence, so the page cannot rot.</summary>
public sealed partial class GeoDocsExamplesTests
{
    public static TheoryData<int, string> Examples()
    {
        var data = new TheoryData<int, string>();
        foreach (var block in DocsPages.Runnable("geo.md", "sql"))
        {
            data.Add(block.Index, block.Code);
        }

        return data;
    }

    [Fact]
    public void The_page_has_examples() => Assert.True(Examples().Count >= 10);

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Sql_example_from_geo_md_runs(int example, string sql)
    {
        await using var server = await PlexusTestServer.StartAsync();
        var positions = Positions.Journey("truck-1", 52.09, 4.30, seed: 1);
        positions.AddRange(Positions.Journey("truck-2", 52.1, 4.3, seed: 2));
        Assert.True((await server.WriteAsync(Positions.LineProtocol(positions))).IsSuccessStatusCode);
        using var fence = await server.Client.PostAsync("/api/v1/geofences", new StringContent(
            """{"type": "Feature", "properties": {"name": "depot-7"}, "geometry": {"type": "Polygon", "coordinates": [[[4.28, 52.08], [4.32, 52.08], [4.32, 52.12], [4.28, 52.12], [4.28, 52.08]]]}}""",
            Encoding.UTF8,
            "application/geo+json"));
        Assert.Equal(HttpStatusCode.Created, fence.StatusCode);

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"example {example} failed: {body}\n{sql}");
        if (!sql.Contains("TIMESTAMP '", StringComparison.Ordinal))
        {
            // Examples windowed on a calendar date of their own have no rows on this journey; the others must.
            Assert.DoesNotContain("\"rows\":[]", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Geofence_queries_of_geo_md_return_rows_on_the_pages_own_positions_and_geofence()
    {
        string page = Page();
        await using var server = await PlexusTestServer.StartAsync();
        string positions = PositionLines().Match(page).Groups[1].Value;
        Assert.Equal(3, positions.Trim().Split('\n').Length);
        using (var write = await server.WriteAsync(positions))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        using (var fence = await server.Client.PostAsync("/api/v1/geofences", new StringContent(Depot7Feature().Match(page).Groups[1].Value, Encoding.UTF8, "application/geo+json")))
        {
            Assert.Equal(HttpStatusCode.Created, fence.StatusCode);
        }

        var queries = DocsPages.Runnable("geo.md", "sql").Select(block => block.Code).Where(sql => sql.Contains("depot-7", StringComparison.Ordinal) || sql.Contains("FROM positions p JOIN geofences", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, queries.Count);
        foreach (string sql in queries)
        {
            var rows = await server.RowsAsync(sql);
            Assert.True(rows.Count > 0, $"no rows on the page's own data:\n{sql}");
        }

        var events = await server.RowsAsync(queries[2]);
        Assert.Equal(["enter", "exit"], events.Select(row => row[2].GetString()));
    }

    [Fact]
    public async Task Position_source_example_of_geo_md_makes_the_tsbs_trucks_available()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("readings,name=truck_1,fleet=East latitude=52.1,longitude=4.3,elevation=10,velocity=50,heading=90 1767592800000000000", "?bucket=fleet")).Dispose();

        using (var declared = await server.Client.PostAsync("/api/v1/position-sources", new StringContent(PositionSourceBody().Match(Page()).Groups[1].Value, Encoding.UTF8, "application/json")))
        {
            Assert.True(declared.IsSuccessStatusCode, await declared.Content.ReadAsStringAsync());
        }

        using var listed = await server.Client.GetAsync("/api/v1/position-sources/fleet.readings");
        string source = await listed.Content.ReadAsStringAsync();
        Assert.True(source.Contains("\"available\":true", StringComparison.Ordinal), source);
        Assert.Contains("\"available\":true", source, StringComparison.Ordinal);
        var rows = await server.RowsAsync("SELECT device, source FROM device_positions");
        Assert.Equal("truck_1", rows[0][0].GetString());
    }

    private static string Page() => DocsPages.Text("geo.md");

    [GeneratedRegex("```\\n(positions,device=.*?)```", RegexOptions.Singleline)]
    private static partial Regex PositionLines();

    [GeneratedRegex("/api/v1/geofences -H [^\\n]*\\n[^\\n]*-d '(\\{.*?\"depot-7\".*?)'\\n", RegexOptions.Singleline)]
    private static partial Regex Depot7Feature();

    [GeneratedRegex("/api/v1/position-sources -H [^\\n]*\\n\\s*-d '(\\{.*?)'\\n", RegexOptions.Singleline)]
    private static partial Regex PositionSourceBody();
}
