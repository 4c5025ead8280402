using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.Devices;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>Deleting data over HTTP (docs/http-api.md#deleting-data): filters, drops, scopes, hostile predicates, ordering, audit.</summary>
public sealed class DeleteApiTests
{
    private const string Points =
        "readings,device=a,site=x temp=1 1000\n" +
        "readings,device=a,site=x temp=2 2000\n" +
        "readings,device=a,site=x temp=3 3000\n" +
        "readings,device=b,site=y temp=4 1000\n" +
        "readings,device=b,site=y temp=5 2000\n" +
        "other,device=a v=1 1000\n";

    private static async Task<PlexusTestServer> StartAsync()
    {
        var server = await PlexusTestServer.StartAsync();
        using var write = await server.WriteAsync(Points, "?precision=ns");
        Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        return server;
    }

    private static async Task<(HttpStatusCode Status, JsonElement Body)> DeleteAsync(HttpClient client, string path)
    {
        using var response = await client.DeleteAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, JsonDocument.Parse(body).RootElement.Clone());
    }

    private static async Task<long> CountAsync(PlexusTestServer server, string sql) => (await server.RowsAsync(sql))[0][0].GetInt64();

    private static string Where(string predicate) => "where=" + Uri.EscapeDataString(predicate);

    [Fact]
    public async Task Delete_with_time_range_and_tag_predicate_answers_the_rows_deleted_and_is_audited()
    {
        await using var server = await StartAsync();

        var (status, body) = await DeleteAsync(server.Client, "/api/v1/measurements/main.readings?from=1970-01-01T00:00:00.000002Z&to=4000&" + Where("device = 'a' OR site IN ('y')"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, body.GetProperty("rows_deleted").GetInt64());
        Assert.Empty(body.GetProperty("measurements_dropped").EnumerateArray());
        Assert.Equal([1000L, 1000L], (await server.RowsAsync("SELECT epoch_ns(time) FROM readings ORDER BY time")).Select(r => r[0].GetInt64()));
        var entry = (await server.RowsAsync("SELECT principal, action, target_id, detail, outcome FROM audit_log WHERE action = 'measurement.delete'")).Single();
        Assert.Equal("admin|measurement.delete|main.readings|ok", $"{entry[0].GetString()}|{entry[1].GetString()}|{entry[2].GetString()}|{entry[4].GetString()}");
        Assert.Contains("3 rows", entry[3].GetString(), StringComparison.Ordinal);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("deleted 3 rows", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Delete_without_filter_drops_the_measurement_and_a_namespace_can_be_dropped_whole()
    {
        await using var server = await StartAsync();
        using (var write = await server.WriteAsync("m v=1 1\nn v=2 2", "?bucket=lab"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        var (status, body) = await DeleteAsync(server.Client, "/api/v1/measurements/main.readings");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(5, body.GetProperty("rows_deleted").GetInt64());
        Assert.Equal(["readings"], body.GetProperty("measurements_dropped").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(0, await CountAsync(server, "SELECT count(*) FROM duckdb_views() WHERE schema_name = 'main' AND view_name = 'readings'"));

        (status, body) = await DeleteAsync(server.Client, "/api/v1/namespaces/lab");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(2, body.GetProperty("rows_deleted").GetInt64());
        Assert.True(body.GetProperty("namespace_dropped").GetBoolean());
        Assert.Equal(0, await CountAsync(server, "SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'lab'"));
        Assert.Equal(1, await CountAsync(server, "SELECT count(*) FROM other"));

        (status, body) = await DeleteAsync(server.Client, "/api/v1/measurements/main.readings");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("measurement \"readings\" does not exist in namespace main", body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("read")]
    [InlineData("write")]
    public async Task Tokens_without_admin_scope_are_refused_403_and_nothing_is_deleted(string scope)
    {
        await using var server = await StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "app", scope });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var client = server.ClientWithToken(token);

        var (status, body) = await DeleteAsync(client, "/api/v1/measurements/main.readings?" + Where("device = 'a'"));
        var (namespaceStatus, _) = await DeleteAsync(client, "/api/v1/namespaces/main");

        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal(HttpStatusCode.Forbidden, namespaceStatus);
        Assert.Contains("needs a token with scope admin", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(5, await CountAsync(server, "SELECT count(*) FROM readings"));
    }

    [Theory]
    [InlineData("device = 'a' OR 1=1")]
    [InlineData("device = 'a'; DROP TABLE _plexus.measurements")]
    [InlineData("device = 'a' -- ")]
    [InlineData("device = '' OR ''=''")]
    [InlineData("device = lower('A')")]
    [InlineData("\"device\" = 'a' UNION SELECT 1")]
    [InlineData("device IN (SELECT device FROM other)")]
    [InlineData("device = 'a' /*")]
    public async Task Injection_attempts_in_where_are_refused_400_and_delete_nothing(string predicate)
    {
        await using var server = await StartAsync();

        var (status, body) = await DeleteAsync(server.Client, "/api/v1/measurements/main.readings?" + Where(predicate));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("where", body.GetProperty("field").GetString());
        Assert.Equal(5, await CountAsync(server, "SELECT count(*) FROM readings"));
        Assert.Equal(1, await CountAsync(server, "SELECT count(*) FROM other"));
    }

    [Fact]
    public async Task Quotes_inside_a_value_are_a_value_not_sql()
    {
        await using var server = await StartAsync();

        var (status, body) = await DeleteAsync(server.Client, "/api/v1/measurements/main.readings?" + Where("device = 'a'' OR ''x''=''x'"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, body.GetProperty("rows_deleted").GetInt64());
        Assert.Equal(5, await CountAsync(server, "SELECT count(*) FROM readings"));
    }

    [Theory]
    [InlineData("/api/v1/measurements/main.readings?where=truck%20%3D%20'a'", "where", "unknown tag \"truck\" in measurement main.readings; its tags are device, site")]
    [InlineData("/api/v1/measurements/main.readings?where=temp%20%3D%20'a'", "where", "\"temp\" is a field")]
    [InlineData("/api/v1/measurements/readings", "name", "is not namespace.measurement")]
    [InlineData("/api/v1/measurements/main.readings?from=yesterday", "from", "from: \"yesterday\" is not a time")]
    [InlineData("/api/v1/measurements/main.readings?from=2000&to=1000", "to", "--from must be before --to")]
    [InlineData("/api/v1/namespaces/main?where=device%20%3D%20'a'", "where", "where needs a measurement")]
    [InlineData("/api/v1/namespaces/_plexus", "name", "reserved")]
    [InlineData("/api/v1/namespaces/main", "name", "namespace main cannot be dropped whole")]
    public async Task Bad_requests_are_400_naming_the_parameter_and_what_is_wrong(string path, string field, string message)
    {
        await using var server = await StartAsync();

        var (status, body) = await DeleteAsync(server.Client, path);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(field, body.GetProperty("field").GetString());
        Assert.Contains(message, body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(5, await CountAsync(server, "SELECT count(*) FROM readings"));
    }

    [Fact]
    public async Task Writes_acknowledged_before_a_delete_are_deleted_and_writes_acknowledged_after_it_kept_under_concurrent_load()
    {
        await using var server = await StartAsync();
        // A write counts as after the delete only if it was sent after the delete's answer arrived: its
        // acknowledgement can reach this client later than the delete's answer even when the server committed it
        // first, because the writers' connections and continuations are not ordered with the delete's.
        var acknowledged = new ConcurrentQueue<(long Time, long SentAtTicks, long AckedAtTicks)>();
        using var stop = new CancellationTokenSource();
        long next = 10_000;
        var writers = Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                long time = Interlocked.Increment(ref next);
                long sentAtTicks = System.Diagnostics.Stopwatch.GetTimestamp();
                using var response = await server.WriteAsync($"readings,device=a,site=x temp=1 {time}", "?precision=ns");
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
                acknowledged.Enqueue((time, sentAtTicks, System.Diagnostics.Stopwatch.GetTimestamp()));
            }
        })).ToArray();

        await Eventually.TrueAsync(() => acknowledged.Count >= 30, TimeSpan.FromSeconds(30), "writers got acknowledgements");
        long sentAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var (status, body) = await DeleteAsync(server.Client, "/api/v1/measurements/main.readings?" + Where("device = 'a'"));
        long answeredAt = System.Diagnostics.Stopwatch.GetTimestamp();
        await Eventually.TrueAsync(() => acknowledged.Count(a => a.SentAtTicks > answeredAt) >= 10, TimeSpan.FromSeconds(30), "writes after the delete");
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        Assert.Equal(HttpStatusCode.OK, status);
        var stored = (await server.RowsAsync("SELECT epoch_ns(time) FROM readings WHERE device = 'a'")).Select(r => r[0].GetInt64()).ToHashSet();
        var before = acknowledged.Where(a => a.AckedAtTicks < sentAt).ToList();
        var after = acknowledged.Where(a => a.SentAtTicks > answeredAt).ToList();
        Assert.NotEmpty(before);
        Assert.All(before, a => Assert.DoesNotContain(a.Time, stored));
        Assert.All(after, a => Assert.Contains(a.Time, stored));
        Assert.True(body.GetProperty("rows_deleted").GetInt64() >= before.Count + 3);
    }

    [Fact]
    public async Task Deleting_positions_moves_the_live_position_back_to_the_newest_one_left()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var device = server.ClientWithToken(server.Server.Devices.Add(new NewDevice("truck-1")).Token);
        foreach (var (lat, ts) in new[] { (52.0, 1767323045000L), (53.0, 1767323046000L) })
        {
            using var sent = await device.PostAsync("/api/v1/devices/truck-1/location", new StringContent($$"""{"lat": {{lat}}, "lon": 4.0, "ts": {{ts}}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.NoContent, sent.StatusCode);
        }

        Assert.Equal(53.0, await LatAsync(server));
        var (status, _) = await DeleteAsync(server.Client, "/api/v1/measurements/main.positions?from=2026-01-02T03:04:05.5Z");
        Assert.Equal(HttpStatusCode.OK, status);
        await Eventually.TrueAsync(async () => await LatAsync(server) == 52.0, TimeSpan.FromSeconds(10), "the live position went back to the one left");

        (status, _) = await DeleteAsync(server.Client, "/api/v1/measurements/main.positions");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Null(await LatAsync(server));
    }

    private static async Task<double?> LatAsync(PlexusTestServer server)
    {
        using var page = await server.Client.GetAsync("/api/v1/devices/truck-1");
        var position = JsonDocument.Parse(await page.Content.ReadAsStringAsync()).RootElement.GetProperty("position");
        return position.ValueKind == JsonValueKind.Null ? null : position.GetProperty("lat").GetDouble();
    }
}
