using System.Net;
using System.Net.Http.Json;
using Plexus.TestKit;
using static Plexus.Server.Tests.ServerProcess;

namespace Plexus.Server.Tests;

/// <summary>
/// Continuous rollups across a SIGKILL of a real `plexus serve`: the windows the killed server had noted in memory (late
/// points it had acknowledged but not rolled up yet) are gone with it, so the next start recomputes the rollup whole and
/// it equals a GROUP BY of the raw rows again.
/// </summary>
public sealed class RollupCrashTests
{
    private const string Token = "rollup-crash-token";

    // 2026-01-01T00:00:00Z in Unix nanoseconds.
    private const long Base = 1_767_225_600_000_000_000L;
    private const long Hour = 3_600_000_000_000L;

    private const string Expected = """
        SELECT make_timestamp_ns(epoch_ns(time) - epoch_ns(time) % 3600000000000) AS w, device, count(temp) AS n, min(temp) AS lo, max(temp) AS hi
        FROM readings GROUP BY ALL ORDER BY w, device
        """;

    private const string Actual = "SELECT time AS w, device, temp_count AS n, temp_min AS lo, temp_max AS hi FROM readings_1h ORDER BY w, device";

    [Fact]
    public async Task A_killed_server_recomputes_its_rollups_whole_at_the_next_start()
    {
        using var dir = new TempDirectory("plexus-rollup-crash");
        // A long interval: only the explicit refreshes below run the maintainer, so what the kill loses is known.
        string[] arguments = ["--data", dir.Path, "--admin-token", Token, "--mqtt", "off", "--pg", "off", "--log-level", "warning", "--rollup-interval", "1h"];
        int port = FreePort();
        using (var first = Start([.. arguments, "--http", $"127.0.0.1:{port}"]))
        {
            using var client = Client(port, Token);
            await WaitHealthyAsync(client, first);
            await WriteAsync(client, string.Join('\n', Enumerable.Range(0, 48).Select(i => $"readings,device=d{i % 3} temp={i} {Base + (i * Hour / 4)}")));
            using (var added = await client.PostAsJsonAsync("/api/v1/rollups", new { measurement = "main.readings", every = "1h" }))
            {
                Assert.Equal(HttpStatusCode.Created, added.StatusCode);
            }

            await RefreshAsync(client);
            Assert.Equal(await QueryCsvAsync(client, Expected), await QueryCsvAsync(client, Actual));

            // Late points into windows the rollup already holds: acknowledged, noted in memory only, then the kill.
            await WriteAsync(client, $"readings,device=d0 temp=-100 {Base + 1}\nreadings,device=d1 temp=500 {Base + (5 * Hour) + 7}\nreadings,device=d9 temp=1 {Base + (2 * Hour)}");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }

        port = FreePort();
        using var second = Start([.. arguments, "--http", $"127.0.0.1:{port}"]);
        try
        {
            using var client = Client(port, Token);
            await WaitHealthyAsync(client, second);
            await RefreshAsync(client);
            string expected = await QueryCsvAsync(client, Expected);
            Assert.Contains("-100", expected, StringComparison.Ordinal);
            Assert.Equal(expected, await QueryCsvAsync(client, Actual));
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }
    }

    private static async Task RefreshAsync(HttpClient client)
    {
        using var response = await client.PostAsync("/api/v1/rollups/refresh", null);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    private static async Task WriteAsync(HttpClient client, string lines)
    {
        using var response = await client.PostAsync("/api/v2/write?precision=ns", new StringContent(lines));
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
