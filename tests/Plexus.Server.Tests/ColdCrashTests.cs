using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Plexus.TestKit;
using static Plexus.Server.Tests.ServerProcess;

namespace Plexus.Server.Tests;

/// <summary>
/// The cold tier's commit protocol end to end: a real `plexus serve` compacts one-minute partitions back to back and is
/// killed with SIGKILL while it does, twice. After each restart every written row is there exactly once, hot or cold,
/// with its values, and the cold folder holds only files the manifest names.
/// </summary>
public sealed class ColdCrashTests
{
    private const string Token = "cold-crash-test-token";
    private const int Partitions = 60;
    private const int Series = 20;
    private const int PointsPerSeriesPerPartition = 30;
    private const int Rows = Partitions * Series * PointsPerSeriesPerPartition;

    // 2026-01-01T00:00:00Z: every partition of the data is long closed.
    private const long Start = 1_767_225_600_000_000_000;

    [Fact]
    public async Task Server_killed_while_compacting_loses_no_row_and_keeps_none_twice()
    {
        using var dir = new TempDirectory("plexus-cold-crash");
        string cold = Path.Combine(dir.Path, "cold");

        int port = FreePort();
        using (var first = StartServer(dir.Path, port))
        {
            using var client = Client(port, Token);
            await WaitHealthyAsync(client, first);
            for (int partition = 0; partition < Partitions; partition += 10)
            {
                using var response = await client.PostAsync("/api/v2/write", new StringContent(Lines(partition, partition + 10)));
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            }

            // Killed a few partitions in: the compactor is writing, syncing, renaming or committing the next one.
            await Eventually.TrueAsync(() => ColdFiles(cold) >= 3, TimeSpan.FromSeconds(60), "the compactor wrote its first files");
            await KillAsync(first);
        }

        await CheckAsync(dir.Path, cold, killAfterMoreFiles: true);
        await CheckAsync(dir.Path, cold, killAfterMoreFiles: false);
    }

    private static async Task CheckAsync(string dataDirectory, string cold, bool killAfterMoreFiles)
    {
        // What the killed server left half-written; the restart must remove it before anything reads the cold tier (the new
        // server's own compactor may meanwhile write a file of the same name, made after the start).
        var leftovers = Directory.GetFiles(cold, "*.tmp", SearchOption.AllDirectories);
        var restarted = TimeProvider.System.GetUtcNow().UtcDateTime;
        int port = FreePort();
        using var server = StartServer(dataDirectory, port);
        try
        {
            using var client = Client(port, Token);
            await WaitHealthyAsync(client, server);
            Assert.All(leftovers, file => Assert.True(!File.Exists(file) || File.GetLastWriteTimeUtc(file) >= restarted, $"{file} survived the restart"));
            string csv = await QueryCsvAsync(client, "SELECT count(*), count(DISTINCT (series, time)), sum(v), sum(epoch_ns(time) % 1000000007) FROM coldcrash");
            Assert.Equal(Expected(), csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries)[1]);

            if (killAfterMoreFiles)
            {
                int files = ColdFiles(cold);
                await Eventually.TrueAsync(() => ColdFiles(cold) > files || files >= Partitions, TimeSpan.FromSeconds(60), "the compactor went on after the restart");
                await KillAsync(server);
                return;
            }

            // Left alone, everything closed ends up cold, once.
            await Eventually.TrueAsync(async () =>
                (await QueryCsvAsync(client, "SELECT count(*) FROM main.partitions WHERE measurement = 'coldcrash' AND tier = 'cold'")).EndsWith($"\r\n{Partitions}\r\n", StringComparison.Ordinal),
                TimeSpan.FromSeconds(90), "every partition is cold");
            Assert.Equal(Partitions, ColdFiles(cold));
            csv = await QueryCsvAsync(client, "SELECT count(*), count(DISTINCT (series, time)), sum(v), sum(epoch_ns(time) % 1000000007) FROM coldcrash");
            Assert.Equal(Expected(), csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries)[1]);
        }
        finally
        {
            if (!server.HasExited)
            {
                await KillAsync(server);
            }
        }
    }

    private static string Expected()
    {
        long sumV = 0;
        long sumTime = 0;
        foreach (var (_, v, time) in Points(0, Partitions))
        {
            sumV += v;
            sumTime += time % 1_000_000_007;
        }

        return $"{Rows},{Rows},{sumV},{sumTime}";
    }

    private static IEnumerable<(int Series, long V, long Time)> Points(int fromPartition, int toPartition)
    {
        for (int partition = fromPartition; partition < toPartition; partition++)
        {
            for (int series = 0; series < Series; series++)
            {
                for (int i = 0; i < PointsPerSeriesPerPartition; i++)
                {
                    long time = Start + (partition * 60_000_000_000L) + (i * 2_000_000_000L) + series;
                    yield return (series, (partition * 1000) + (series * 31) + i, time);
                }
            }
        }
    }

    private static string Lines(int fromPartition, int toPartition)
    {
        var lines = new StringBuilder();
        foreach (var (series, v, time) in Points(fromPartition, toPartition))
        {
            lines.Append(CultureInfo.InvariantCulture, $"coldcrash,series=s{series} v={v}i {time}\n");
        }

        return lines.ToString();
    }

    private static int ColdFiles(string cold) => Directory.Exists(cold) ? Directory.GetFiles(cold, "*.parquet", SearchOption.AllDirectories).Length : 0;

    private static async Task KillAsync(Process server)
    {
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
    }

    private static Process StartServer(string dataDirectory, int port) =>
        ServerProcess.Start(["--data", dataDirectory, "--http", $"127.0.0.1:{port}", "--admin-token", Token, "--mqtt", "off", "--pg", "off", "--log-level", "warning",
            "--partition-span", "1m", "--compaction-grace", "1s", "--compaction-check-interval", "100ms"]);
}
