using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.Storage.Cold;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>Every reader sees hot and cold as one table: SQL, InfluxQL, a token limited to other namespaces, and the time filter reaching the files.</summary>
public sealed class ColdTierQueryTests
{
    // 2026-01-01T00:00:00Z and the day after: closed partitions.
    private const long Day0 = 1_767_225_600_000_000_000;
    private const long Day = 86_400_000_000_000;

    private static Task<PlexusTestServer> StartAsync() => PlexusTestServer.StartAsync(configure: o => o with
    {
        ColdTier = new ColdTierOptions { Grace = TimeSpan.FromSeconds(1), CheckInterval = TimeSpan.FromMilliseconds(100) },
    });

    private static async Task SeedAndCompactAsync(PlexusTestServer server)
    {
        var lines = new StringBuilder();
        for (int i = 0; i < 48; i++)
        {
            lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"readings,device=d{i % 2} v={i} {Day0 + (i * (Day / 24))}\n");
        }

        long now = (TimeProvider.System.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"readings,device=d0 v=1000 {now}\n");
        using var response = await server.WriteAsync(lines.ToString());
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM main.partitions WHERE tier = 'cold'"))[0][0].GetInt64() == 2,
            TimeSpan.FromSeconds(30), "both closed days are cold");
    }

    [Fact]
    public async Task Sql_and_influxql_read_hot_and_cold_rows_as_one_measurement()
    {
        await using var server = await StartAsync();
        await SeedAndCompactAsync(server);

        var rows = await server.RowsAsync("SELECT count(*), sum(v) FROM readings");
        Assert.Equal(49, rows[0][0].GetInt64());
        Assert.Equal(1128.0 + 1000, rows[0][1].GetDouble());
        Assert.Equal("hot", (await server.RowsAsync("SELECT tier FROM main.partitions WHERE tier = 'hot'"))[0][0].GetString());

        using var influx = await server.Client.GetAsync("/query?db=main&q=" + Uri.EscapeDataString("SELECT count(v) FROM readings WHERE device = 'd1'"));
        string body = await influx.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, influx.StatusCode);
        Assert.Contains("24]", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_partitions_query_of_storage_md_lists_both_tiers_with_their_rows()
    {
        await using var server = await StartAsync();
        await SeedAndCompactAsync(server);

        var block = Assert.Single(DocsPages.Runnable("storage.md", "sql"));
        var rows = await server.RowsAsync(block.Code);
        var readings = rows.Where(row => row[2].GetString() == "readings").ToList();
        Assert.Equal(["cold", "cold", "hot"], readings.Select(row => row[0].GetString()));
        Assert.Equal(49, readings.Sum(row => row[5].GetInt64()));
        Assert.All(readings.Where(row => row[0].GetString() == "cold"), row => Assert.EndsWith(".parquet", row[9].GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_time_filter_reaches_the_parquet_scan_so_a_day_outside_it_is_skipped()
    {
        await using var server = await StartAsync();
        await SeedAndCompactAsync(server);

        var plan = await server.SqlAsync($"EXPLAIN SELECT count(*) FROM readings WHERE time >= make_timestamp_ns({Day0 + Day}) AND time < make_timestamp_ns({Day0 + (2 * Day)})");
        string text = plan.GetRawText();
        Assert.Contains("READ_PARQUET", text, StringComparison.Ordinal);
        Assert.Contains("Filters:", text, StringComparison.Ordinal);
        Assert.Equal(24, (await server.RowsAsync($"SELECT count(*) FROM readings WHERE time >= make_timestamp_ns({Day0 + Day}) AND time < make_timestamp_ns({Day0 + (2 * Day)})"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Read_parquet_reaches_only_cold_files_of_namespaces_the_token_may_read()
    {
        await using var server = await StartAsync();
        await SeedAndCompactAsync(server);
        string file = (await server.RowsAsync("SELECT file FROM main.partitions WHERE tier = 'cold' ORDER BY partition_start LIMIT 1"))[0][0].GetString()!;
        string path = Path.Combine(server.Server.Store.Cold.Directory, file);

        Assert.Equal(24, (await server.RowsAsync($"SELECT count(*) FROM read_parquet('{path}')"))[0][0].GetInt64());
        using (var outside = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT * FROM read_parquet('/etc/hostname')" }))
        {
            Assert.True(outside.StatusCode == HttpStatusCode.Forbidden, await outside.Content.ReadAsStringAsync());
        }

        using (var partnerData = await server.WriteAsync("m v=1", "?bucket=partner"))
        {
            Assert.Equal(HttpStatusCode.NoContent, partnerData.StatusCode);
        }

        using var created = await server.Client.PostAsync("/api/v1/tokens",
            new StringContent("""{"name": "partner", "scope": "read", "namespaces": ["partner"]}""", Encoding.UTF8, "application/json"));
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var partner = server.ClientWithToken(token);
        using var refused = await partner.PostAsJsonAsync("/api/v1/sql", new { sql = $"SELECT count(*) FROM read_parquet('{path}')", db = "partner" });
        Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, await refused.Content.ReadAsStringAsync());
    }
}
