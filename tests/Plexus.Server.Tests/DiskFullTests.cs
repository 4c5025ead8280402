using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Server.Tests;

/// <summary>
/// A real server whose data folder is a tmpfs of a few MB that a filler file fills up: writes are refused with a
/// clear 503, `/health` says degraded, queries that would miss acknowledged writes are refused at once instead of
/// answering short after a 10 s wait, no answer names a server path, and once the filler is gone the server
/// recovers by itself with every acknowledged point.
/// </summary>
public sealed class DiskFullTests
{
    private const int PointsPerWrite = 20;

    private static string Lines(int firstSeq, int count, string field = "temp")
    {
        var body = new StringBuilder();
        for (int seq = firstSeq; seq < firstSeq + count; seq++)
        {
            body.Append(Line(seq, field));
        }

        return body.ToString();
    }

    private static string Line(int seq, string field) =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"env,site=a seq={seq}i,{field}=1.5 {1_000_000_000L + seq}\n");

    private static async Task<JsonElement> ErrorBodyAsync(HttpResponseMessage response, string dataFolder)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(dataFolder, text, StringComparison.Ordinal);
        Assert.DoesNotContain("plexus.log", text, StringComparison.Ordinal);
        Assert.DoesNotContain("plexus.duckdb", text, StringComparison.Ordinal);
        return JsonDocument.Parse(text).RootElement;
    }

    [SmallDiskFact]
    public async Task A_full_disk_gets_clean_503s_and_a_degraded_health_and_once_freed_the_server_recovers_with_every_acknowledged_point()
    {
        using var disk = new SmallDisk("8m");
        int acknowledged = await FillRefuseAndRecoverAsync(disk);

        // And a restart finds the same: the failed DuckDB commits left nothing behind that replays wrong.
        await using var restarted = await PlexusTestServer.StartAsync(disk.Path);
        Assert.Equal(acknowledged, (await restarted.RowsAsync("SELECT count(DISTINCT seq) FROM env"))[0][0].GetInt64());
    }

    private static async Task<int> FillRefuseAndRecoverAsync(SmallDisk disk)
    {
        await using var server = await PlexusTestServer.StartAsync(disk.Path);
        server.AllowErrorLogs = true;
        using var anonymous = new HttpClient { BaseAddress = server.Address };

        // The first write creates the measurement (a DuckDB commit); the checkpoint empties DuckDB's own log, so
        // that from now on every apply to DuckDB needs new space while the write log still has room in its page.
        using (var created = await server.WriteAsync(Lines(0, 200)))
        {
            Assert.Equal(HttpStatusCode.NoContent, created.StatusCode);
        }

        int acknowledged = 200;
        server.Server.Store.Checkpoint();
        disk.Fill();

        // Writes are acknowledged while their records fit the log, then refused: never a 500, never half stored.
        HttpResponseMessage? refused = null;
        for (int attempt = 0; attempt < 1000 && refused is null; attempt++)
        {
            var response = await server.WriteAsync(Lines(acknowledged, PointsPerWrite));
            if (response.StatusCode == HttpStatusCode.NoContent)
            {
                acknowledged += PointsPerWrite;
                response.Dispose();
                continue;
            }

            refused = response;
        }

        Assert.NotNull(refused);
        using (refused)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After says when to try again");
            var error = await ErrorBodyAsync(refused, disk.Path);
            Assert.Equal("unavailable", error.GetProperty("code").GetString());
            Assert.Contains("the disk that holds the data folder is full", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Contains("nothing of this write was stored", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        Assert.True(acknowledged > 200, "some writes reached only the write log before the disk was full");

        using (var health = await anonymous.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
            var body = await ErrorBodyAsync(health, disk.Path);
            Assert.Equal("degraded", body.GetProperty("status").GetString());
            Assert.Contains("full", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // A query would miss the acknowledged writes DuckDB cannot take: refused at once, not answered short.
        var clock = Stopwatch.StartNew();
        using (var query = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT count(*) FROM env" }))
        {
            clock.Stop();
            Assert.Equal(HttpStatusCode.ServiceUnavailable, query.StatusCode);
            Assert.NotNull(query.Headers.RetryAfter);
            var error = await ErrorBodyAsync(query, disk.Path);
            Assert.Contains("the store is behind", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        // The bound is the 10 s ReadWaitTimeout a query used to wait; 2 s leaves room for a loaded machine.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the query was refused after {clock.Elapsed}");

        // A write that changes the schema (a DuckDB commit of its own) is refused the same way.
        using (var direct = await server.WriteAsync(Lines(100_000, 1, field: "humidity")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, direct.StatusCode);
            await ErrorBodyAsync(direct, disk.Path);
        }

        disk.Free();

        await Eventually.TrueAsync(async () =>
        {
            using var health = await anonymous.GetAsync("/health");
            return health.StatusCode == HttpStatusCode.OK;
        }, TimeSpan.FromSeconds(20), "/health passes again once the disk has room");

        var rows = await server.RowsAsync("SELECT count(*), count(DISTINCT seq), max(seq) FROM env");
        Assert.Equal(acknowledged, rows[0][0].GetInt64());
        Assert.Equal(acknowledged, rows[0][1].GetInt64());
        Assert.Equal(acknowledged - 1, rows[0][2].GetInt64());

        using (var after = await server.WriteAsync(Lines(acknowledged, PointsPerWrite)))
        {
            Assert.Equal(HttpStatusCode.NoContent, after.StatusCode);
        }

        acknowledged += PointsPerWrite;
        Assert.Equal(acknowledged, (await server.RowsAsync("SELECT count(*) FROM env"))[0][0].GetInt64());
        return acknowledged;
    }
}
