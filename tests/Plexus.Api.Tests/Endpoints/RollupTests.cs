using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>
/// Continuous rollups (docs/storage.md#rollups) on a real server: values equal a from-scratch GROUP BY after random late
/// and duplicate writes, restart, deletes, raw retention, name collisions, and the HTTP round trip.
/// </summary>
public sealed class RollupTests
{
    private const long Minute = 60_000_000_000L;

    // 2026-01-01T00:00:00Z in Unix nanoseconds: every point of these tests is after it.
    private const long Base = 1_767_225_600_000_000_000L;

    private static Task<PlexusTestServer> StartAsync(string? data = null, TimeSpan? retentionCheck = null) =>
        PlexusTestServer.StartAsync(data, options => options with
        {
            // The tests run the maintainer themselves; a background run in between changes nothing they check.
            RollupInterval = TimeSpan.FromHours(1),
            RetentionCheckInterval = retentionCheck ?? options.RetentionCheckInterval,
        });

    private static async Task<JsonElement> AddAsync(PlexusTestServer server, string measurement, string every, string? retention = null, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/rollups", new { measurement, every, retention });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task WriteOkAsync(PlexusTestServer server, string lines)
    {
        using var response = await server.WriteAsync(lines, "?precision=ns");
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>What a rollup of <paramref name="every"/> should hold: a GROUP BY of the raw rows, rounded for float sums.</summary>
    private static string Expected(string measurement, long every) => $"""
        SELECT make_timestamp_ns(epoch_ns(time) - epoch_ns(time) % {every}) AS w, device,
               round(min(temp), 6), round(max(temp), 6), round(sum(temp) / count(temp), 6), count(temp),
               round(arg_min(temp, time), 6), round(arg_max(temp, time), 6), count(n), round(sum(n), 6), round(max(n), 6)
        FROM main.{measurement} GROUP BY ALL ORDER BY w, device
        """;

    private static string Actual(string rollup) => $"""
        SELECT time, device, round(temp_min, 6), round(temp_max, 6), round(temp_avg, 6), temp_count,
               round(temp_first, 6), round(temp_last, 6), n_count, round(n_sum, 6), round(n_max, 6)
        FROM main.{rollup} ORDER BY time, device
        """;

    private static async Task AssertMatchesRawAsync(PlexusTestServer server, string measurement, string rollup, long every)
    {
        var expected = (await server.RowsAsync(Expected(measurement, every))).Select(Row).ToList();
        var actual = (await server.RowsAsync(Actual(rollup))).Select(Row).ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, actual);
    }

    private static string Row(List<JsonElement> row) => string.Join('|', row.Select(v => v.ToString()));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Rollup_windows_equal_a_group_by_of_the_raw_rows_after_random_late_batches_and_overwriting_duplicates(int seed)
    {
        await using var server = await StartAsync();
        await AddAsync(server, "main.readings", "1m");
        await AddAsync(server, "main.readings", "1h");
        var random = new Random(seed);
        var written = new List<long>();
        for (int round = 0; round < 6; round++)
        {
            var lines = new StringBuilder();
            int points = random.Next(20, 120);
            for (int i = 0; i < points; i++)
            {
                long time;
                if (written.Count > 0 && random.NextDouble() < 0.2)
                {
                    // A duplicate series and time: the later value overwrites the stored one.
                    time = written[random.Next(written.Count)];
                }
                else if (round > 0 && random.NextDouble() < 0.4)
                {
                    // Late: anywhere in the past two hours of windows already rolled up.
                    time = Base + random.NextInt64(0, 120 * Minute);
                }
                else
                {
                    time = Base + (round * 20 * Minute) + random.NextInt64(0, 20 * Minute);
                }

                written.Add(time);
                string device = "d" + random.Next(3).ToString(CultureInfo.InvariantCulture);
                string temp = (random.Next(-5000, 5000) / 100.0).ToString(CultureInfo.InvariantCulture);

                // Some points without temp: a window's count and first/last skip the missing values.
                string fields = random.NextDouble() < 0.15 ? $"n={random.Next(100)}i" : $"temp={temp},n={random.Next(100)}i";
                lines.Append(CultureInfo.InvariantCulture, $"readings,device={device} {fields} {time}\n");
            }

            await WriteOkAsync(server, lines.ToString());
            if (random.NextDouble() < 0.7)
            {
                await server.Server.RollupMaintainer.RunOnceAsync();
            }
        }

        await server.Server.RollupMaintainer.RunOnceAsync();
        await AssertMatchesRawAsync(server, "readings", "readings_1m", Minute);
        await AssertMatchesRawAsync(server, "readings", "readings_1h", 60 * Minute);
    }

    [Fact]
    public async Task A_rollup_added_over_days_of_rows_is_computed_whole_in_several_spans_and_equals_a_group_by()
    {
        await using var server = await StartAsync();
        var lines = new StringBuilder();
        // Every 7 minutes over 3 days, two devices: about 4,300 one-minute windows, more than four spans of a whole recompute.
        for (long t = 0; t < 3 * 24 * 60; t += 7)
        {
            lines.Append(CultureInfo.InvariantCulture, $"readings,device=d{t % 2} temp={(t % 97) - 40.5},n={t}i {Base + (t * Minute) + (t % 3)}\n");
        }

        await WriteOkAsync(server, lines.ToString());
        await AddAsync(server, "main.readings", "1m");
        await server.Server.RollupMaintainer.RunOnceAsync();
        await AssertMatchesRawAsync(server, "readings", "readings_1m", Minute);
        Assert.Equal(618, (await server.RowsAsync("SELECT count(*) FROM readings_1m"))[0][0].GetInt64());
    }

    [Fact]
    public async Task A_field_added_later_is_rolled_up_and_earlier_windows_have_no_values_for_it()
    {
        await using var server = await StartAsync();
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\n");
        await AddAsync(server, "main.readings", "1m");
        await server.Server.RollupMaintainer.RunOnceAsync();
        await WriteOkAsync(server, $"readings,device=a temp=2,humidity=40 {Base + (2 * Minute)}\nreadings,device=a humidity=60 {Base + (2 * Minute) + 1}\n");
        await server.Server.RollupMaintainer.RunOnceAsync();

        var rows = await server.RowsAsync("SELECT temp_count, humidity_count, humidity_avg, humidity_first, humidity_last FROM readings_1m ORDER BY time");
        Assert.Equal(["1|0|||", "1|2|50|40|60"], rows.Select(Row));
    }

    [Fact]
    public async Task Rollups_survive_a_restart_and_keep_following_late_points()
    {
        using var data = new TempDirectory("plexus-rollups");
        await using (var server = await StartAsync(data.Path))
        {
            await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\nreadings,device=a temp=3 {Base + Minute}\n");
            await AddAsync(server, "main.readings", "1h", "400d");
            await server.Server.RollupMaintainer.RunOnceAsync();
        }

        await using (var server = await StartAsync(data.Path))
        {
            Assert.Equal(["2|1|3"], (await server.RowsAsync("SELECT temp_count, temp_min, temp_max FROM readings_1h")).Select(Row));
            using var list = await server.Client.GetAsync("/api/v1/rollups");
            var rollup = JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement.GetProperty("rollups")[0];
            Assert.Equal("main.readings_1h", rollup.GetProperty("rollup").GetString());
            Assert.Equal("400d", rollup.GetProperty("retention").GetString());

            await WriteOkAsync(server, $"readings,device=a temp=-4 {Base + 1}\n");
            await server.Server.RollupMaintainer.RunOnceAsync();
            Assert.Equal(["3|-4|3|1"], (await server.RowsAsync("SELECT temp_count, temp_min, temp_max, arg_min(temp_first, time) FROM readings_1h GROUP BY ALL")).Select(Row));
        }
    }

    [Fact]
    public async Task A_delete_of_raw_rows_reaches_the_rollup_and_a_drop_empties_it()
    {
        await using var server = await StartAsync();
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\nreadings,device=a temp=5 {Base + 1}\nreadings,device=b temp=2 {Base + Minute}\n");
        await AddAsync(server, "main.readings", "1m");
        await server.Server.RollupMaintainer.RunOnceAsync();

        // The second point of the first window goes: that window is recomputed from what is left.
        using (var deleted = await server.Client.DeleteAsync($"/api/v1/measurements/main.readings?from={Base + 1}&to={Base + 2}"))
        {
            Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        }

        await server.Server.RollupMaintainer.RunOnceAsync();
        Assert.Equal(["a|1|1", "b|1|2"], (await server.RowsAsync("SELECT device, temp_count, temp_max FROM readings_1m ORDER BY time")).Select(Row));

        using (var dropped = await server.Client.DeleteAsync("/api/v1/measurements/main.readings"))
        {
            Assert.Equal(HttpStatusCode.OK, dropped.StatusCode);
        }

        await server.Server.RollupMaintainer.RunOnceAsync();
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM readings_1m"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Raw_retention_deletes_raw_rows_but_keeps_the_rollup_while_the_rollup_retention_drops_old_windows()
    {
        await using var server = await StartAsync(retentionCheck: TimeSpan.FromMilliseconds(200));

        // Points of 2026-01-01: older than a day, and than the 1m rollup's retention of a day, whatever day the test runs.
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\nreadings,device=a temp=2 {Base + Minute}\n");
        await AddAsync(server, "main.readings", "1h");
        await AddAsync(server, "main.readings", "1m", "1d");
        await server.Server.RollupMaintainer.RunOnceAsync();
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM readings_1m"))[0][0].GetInt64());
        Assert.Equal(["2|1|2"], (await server.RowsAsync("SELECT temp_count, temp_min, temp_max FROM readings_1h")).Select(Row));

        using (var set = await server.Client.PutAsync("/api/v1/retention/main.readings", new StringContent("""{"raw": "1d"}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        }

        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM readings"))[0][0].GetInt64() == 0, because: "retention deletes the raw rows");
        await server.Server.RollupMaintainer.RunOnceAsync();
        Assert.Equal(["2|1|2"], (await server.RowsAsync("SELECT temp_count, temp_min, temp_max FROM readings_1h")).Select(Row));
    }

    [Fact]
    public async Task A_rollup_named_like_a_measurement_is_refused_and_writes_to_a_rollup_name_are_refused()
    {
        await using var server = await StartAsync();
        await WriteOkAsync(server, $"readings_1h,device=a temp=1 {Base}\nreadings,device=a temp=1 {Base}\n");

        var conflict = await AddAsync(server, "main.readings", "1h", expected: HttpStatusCode.Conflict);
        Assert.Contains("main.readings_1h is a measurement already", conflict.GetProperty("message").GetString(), StringComparison.Ordinal);
        await AddAsync(server, "main.readings", "1m");

        using var refused = await server.WriteAsync($"readings_1m,device=a temp=1 {Base}\nReadings_1M,device=a temp=1 {Base}\nreadings,device=a temp=2 {Base}\n", "?precision=ns");
        string body = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("is the name of a rollup's view", body, StringComparison.Ordinal);
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM _plexus.measurements WHERE lower(name) = 'readings_1m'"))[0][0].GetInt64());
        Assert.Equal(2.0, (await server.RowsAsync("SELECT temp FROM readings"))[0][0].GetDouble());

        // A rollup of a rollup's name, and writes to the rollups' own view name, are refused too.
        await AddAsync(server, "main.readings_1m", "1h", expected: HttpStatusCode.BadRequest);
        using var reserved = await server.WriteAsync($"rollups temp=1 {Base}\n", "?precision=ns");
        Assert.Equal(HttpStatusCode.BadRequest, reserved.StatusCode);
    }

    [Theory]
    [InlineData("""{"measurement": "main.readings", "every": "1s"}""", "every", "is not a window such as 1m")]
    [InlineData("""{"measurement": "main.readings", "every": "32d"}""", "every", "is not a window such as 1m")]
    [InlineData("""{"measurement": "main", "every": "1h"}""", "measurement", "names a namespace")]
    [InlineData("""{"measurement": "main.readings", "every": "1h", "retention": "30m"}""", "retention", "shorter than one window")]
    [InlineData("""{"measurement": "main.readings", "every": "1h", "window": "1h"}""", "window", "unknown field")]
    [InlineData("""{"every": "1h"}""", "measurement", "measurement is required")]
    public async Task Bad_rollups_are_400_naming_the_field(string body, string field, string message)
    {
        await using var server = await StartAsync();

        using var response = await server.Client.PostAsync("/api/v1/rollups", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(field, error.GetProperty("field").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rollup_past_rollups_max_is_refused_naming_the_option_and_one_fits_again_after_a_removal()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { RollupInterval = TimeSpan.FromHours(1), RollupsMax = 2 });
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\n");
        await AddAsync(server, "main.readings", "1m");
        await AddAsync(server, "main.readings", "1h");
        var refused = await AddAsync(server, "main.readings", "1d", expected: HttpStatusCode.Conflict);
        Assert.Contains("at most 2 rollups (--rollups-max)", refused.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM duckdb_views() WHERE view_name = 'readings_1d'"))[0][0].GetInt64());

        using (var removed = await server.Client.DeleteAsync("/api/v1/rollups/main.readings_1m"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        await AddAsync(server, "main.readings", "1d");
    }

    [Fact]
    public async Task Rollups_are_listed_with_a_read_token_changed_only_with_admin_removed_and_audited()
    {
        await using var server = await StartAsync();
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\n");
        var added = await AddAsync(server, "main.readings", "15m", "400d");
        Assert.Equal("main.readings_15m", added.GetProperty("rollup").GetString());
        Assert.Equal(900, added.GetProperty("every_seconds").GetInt64());
        await AddAsync(server, "main.readings", "15m", expected: HttpStatusCode.Conflict);

        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "reader", scope = "read" });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var reader = server.ClientWithToken(token);
        using (var list = await reader.GetAsync("/api/v1/rollups"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            Assert.Equal("main.readings_15m", JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement.GetProperty("rollups")[0].GetProperty("rollup").GetString());
        }

        using (var forbidden = await reader.DeleteAsync("/api/v1/rollups/main.readings_15m"))
        {
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        await server.Server.RollupMaintainer.RunOnceAsync();
        Assert.Equal(["main|readings|main.readings_15m"], (await server.RowsAsync("SELECT namespace, measurement, rollup FROM rollups")).Select(Row));
        Assert.Equal(1, (await server.RowsAsync("SELECT temp_count FROM rollup('main.readings', NULL, NULL, '1h')"))[0][0].GetInt64());

        using (var removed = await server.Client.DeleteAsync("/api/v1/rollups/main.readings_15m"))
        {
            Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        }

        using (var again = await server.Client.DeleteAsync("/api/v1/rollups/main.readings_15m"))
        {
            Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        }

        Assert.Equal(0, (await server.RowsAsync("SELECT count(*) FROM duckdb_views() WHERE view_name = 'readings_15m'"))[0][0].GetInt64());
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM audit_log WHERE action IN ('rollup.add', 'rollup.remove') AND target_id = 'main.readings_15m' AND outcome = 'ok'"))[0][0].GetInt64());

        // The rollup's name is free again for a measurement.
        await WriteOkAsync(server, $"readings_15m,device=a temp=1 {Base}\n");
    }

    [Fact]
    public async Task A_token_limited_to_a_namespace_reads_its_rollups_and_not_those_of_other_namespaces()
    {
        await using var server = await StartAsync();
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\n");
        using (var other = await server.WriteAsync($"readings,device=b temp=2 {Base}\n", "?db=other&precision=ns"))
        {
            Assert.Equal(HttpStatusCode.NoContent, other.StatusCode);
        }

        await AddAsync(server, "main.readings", "1h");
        await AddAsync(server, "other.readings", "1h");
        await server.Server.RollupMaintainer.RunOnceAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "main-reader", scope = "read", namespaces = new[] { "main" } });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var reader = server.ClientWithToken(token);

        using (var own = await reader.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT temp_max FROM main.readings_1h" }))
        {
            string body = await own.Content.ReadAsStringAsync();
            Assert.True(own.StatusCode == HttpStatusCode.OK, body);
            Assert.Contains("[1", body, StringComparison.Ordinal);
        }

        using (var foreign = await reader.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT temp_max FROM other.readings_1h" }))
        {
            string body = await foreign.Content.ReadAsStringAsync();
            Assert.True(foreign.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.BadRequest, body);
            Assert.DoesNotContain("[2", body, StringComparison.Ordinal);
        }

        using (var list = await reader.GetAsync("/api/v1/rollups"))
        {
            var rollups = JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement.GetProperty("rollups");
            Assert.Equal(["main.readings_1h"], rollups.EnumerateArray().Select(r => r.GetProperty("rollup").GetString()));
        }
    }

    [Fact]
    public async Task The_rollup_macro_picks_the_coarsest_rollup_at_most_as_coarse_as_the_resolution()
    {
        await using var server = await StartAsync();
        await WriteOkAsync(server, $"readings,device=a temp=1 {Base}\nreadings,device=a temp=3 {Base + (2 * Minute)}\n");
        await AddAsync(server, "main.readings", "1m");
        await AddAsync(server, "main.readings", "1h");
        await server.Server.RollupMaintainer.RunOnceAsync();

        string from = "TIMESTAMP '2026-01-01 00:00:00'";
        Assert.Equal(1, (await server.RowsAsync($"SELECT count(*) FROM rollup('main.readings', {from}, {from} + INTERVAL 1 DAY, '6h')"))[0][0].GetInt64());
        Assert.Equal(2, (await server.RowsAsync($"SELECT count(*) FROM rollup('main.readings', {from}, {from} + INTERVAL 1 DAY, '30m')"))[0][0].GetInt64());
        Assert.Equal(1, (await server.RowsAsync($"SELECT count(*) FROM rollup('main.readings', {from}, {from} + INTERVAL 1 MINUTE, '1m')"))[0][0].GetInt64());

        using var none = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = $"SELECT * FROM rollup('main.readings', NULL, NULL, '10s')" });
        Assert.Contains("no rollup of main.readings has windows of at most 10s", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
