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
        string markdown = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "docs", "geo.md"));
        var data = new TheoryData<int, string>();
        int i = 0;
        foreach (Match match in SqlBlock().Matches(markdown))
        {
            data.Add(++i, match.Groups[1].Value.Trim());
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

    [GeneratedRegex("```sql\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex SqlBlock();
}
