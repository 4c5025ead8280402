using System.Net;
using System.Net.Http.Json;
using System.Text;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>
/// Every ```sql block of docs/sql.md and docs/assets.md runs against the fleet and registry sql.md describes (the
/// assets page's example reads the same registry history), so the docs cannot rot.
/// </summary>
public sealed class DocsExamplesTests
{
    public static TheoryData<string, int, string> Examples()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var block in new[] { "sql.md", "assets.md" }.SelectMany(page => DocsPages.Runnable(page, "sql")))
        {
            data.Add(block.Page, block.Index, block.Code);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Sql_example_from_the_docs_runs_and_returns_rows(string page, int example, string sql)
    {
        var clock = new DocsClock();
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { DeviceTag = "device,fleet=name" }, time: clock);
        await SeedRegistryAsync(server, clock);
        using (var write = await server.WriteAsync(FleetData(), "?bucket=fleet&precision=s"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM devices WHERE NOT registered"))[0][0].GetInt64() > 0);

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });
        string body = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{page} block {example} failed: {body}\n{sql}");
        Assert.DoesNotContain("\"rows\":[]", body);
    }

    [Fact]
    public void The_docs_have_examples_to_run() => Assert.True(DocsPages.Runnable("sql.md", "sql").Count >= 10);

    // The assets and devices docs/sql.md describes: registered in 2015, truck_1 changed at 00:10 of the data's day.
    private static async Task SeedRegistryAsync(PlexusTestServer server, DocsClock clock)
    {
        async Task PostAsync(string path, object body, HttpMethod? method = null)
        {
            using var request = new HttpRequestMessage(method ?? HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            using var response = await server.Client.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, $"{path}: {await response.Content.ReadAsStringAsync()}");
        }

        clock.Now = new DateTimeOffset(2015, 12, 1, 0, 0, 0, TimeSpan.Zero);
        await PostAsync("/api/v1/assets", new { id = "north", name = "North region", type = "region" });
        await PostAsync("/api/v1/assets", new { id = "depot-1", name = "Depot 1", type = "site", parent = "north" });
        await PostAsync("/api/v1/assets", new { id = "depot-2", name = "Depot 2", type = "site", parent = "north" });
        await PostAsync("/api/v1/devices", new { id = "truck_1", name = "Truck 1", type = "truck", tags = new { model = "F-150" }, parent = "depot-1" });
        await PostAsync("/api/v1/devices", new { id = "truck_2", name = "Truck 2", type = "truck", tags = new { model = "H-2" }, parent = "depot-2" });
        clock.Now = new DateTimeOffset(2016, 1, 1, 0, 10, 0, TimeSpan.Zero);
        await PostAsync("/api/v1/devices/truck_1", new { tags = new { model = "F-150", tyres = "winter" }, parent = "depot-2" }, HttpMethod.Patch);
    }

    private sealed class DocsClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }

    // Three trucks in two fleets, a row every 10 s for 20 minutes; status only on every third row.
    private static string FleetData()
    {
        var text = new StringBuilder();
        long start = 1_451_606_400; // 2016-01-01T00:00:00Z
        for (int truck = 1; truck <= 3; truck++)
        {
            string fleet = truck == 2 ? "West" : "East";
            for (int tick = 0; tick < 120; tick++)
            {
                double velocity = (truck * 10) + (tick % 7);
                double fuel = 1.0 - (tick * 0.001 * truck);
                text.Append($"readings,name=truck_{truck},fleet={fleet} velocity={velocity},fuel={fuel:R}");
                if (tick % 3 == 0)
                {
                    text.Append($",status={tick % 4}i");
                }

                text.Append(' ').Append(start + (tick * 10)).Append('\n');
            }
        }

        return text.ToString();
    }
}
