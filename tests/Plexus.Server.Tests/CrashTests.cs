using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Plexus.TestKit;
using static Plexus.Server.Tests.ServerProcess;

namespace Plexus.Server.Tests;

/// <summary>
/// The durability contract end to end: a real `plexus serve` process takes concurrent writes and is killed
/// with SIGKILL mid-stream. After a restart, every batch that was acknowledged is there exactly once, and
/// every batch is either wholly there or wholly absent.
/// </summary>
public sealed class CrashTests
{
    private const string Token = "crash-test-token";
    private const int PointsPerBatch = 200;

    [Fact]
    public async Task Killed_server_loses_nothing_it_acknowledged_and_stores_nothing_twice()
    {
        using var dir = new TempDirectory("plexus-crash");
        var acknowledged = new ConcurrentBag<(int Writer, int Batch)>();

        int port = FreePort();
        using (var first = StartServer(dir.Path, port))
        {
            using var client = Client(port);
            await WaitHealthyAsync(client, first);

            using var stopWriters = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
            {
                for (int b = 0; !stopWriters.IsCancellationRequested; b++)
                {
                    try
                    {
                        using var response = await client.PostAsync("/api/v2/write", new StringContent(Batch(w, b)));
                        if (response.StatusCode == HttpStatusCode.NoContent)
                        {
                            acknowledged.Add((w, b));
                        }
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                    catch (TaskCanceledException)
                    {
                        return;
                    }
                }
            })).ToArray();

            await Eventually.TrueAsync(() => acknowledged.Count >= 60, TimeSpan.FromSeconds(60), "writers got acknowledgements");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
            await stopWriters.CancelAsync();
            await Task.WhenAll(writers);
        }

        port = FreePort();
        using var second = StartServer(dir.Path, port);
        try
        {
            using var client = Client(port);
            await WaitHealthyAsync(client, second);
            string csv = await QueryCsvAsync(client, "SELECT writer, batch, count(*) AS points, count(DISTINCT seq) AS distinct_points FROM crash GROUP BY ALL");
            var stored = csv.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Skip(1)
                .Select(line => line.Split(','))
                .ToDictionary(f => (int.Parse(f[0]), int.Parse(f[1])), f => (Points: long.Parse(f[2]), Distinct: long.Parse(f[3])));

            Assert.NotEmpty(acknowledged);
            foreach (var batch in acknowledged)
            {
                Assert.True(stored.TryGetValue(batch, out var count), $"acknowledged batch {batch} is missing after the crash");
                Assert.Equal(PointsPerBatch, count.Points);
            }

            Assert.All(stored.Values, c => Assert.Equal((PointsPerBatch, PointsPerBatch), c));
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task Sigterm_finishes_requests_in_flight_and_exits_cleanly()
    {
        using var dir = new TempDirectory("plexus-sigterm");
        int port = FreePort();
        var acknowledged = new ConcurrentBag<(int Writer, int Batch)>();
        using (var server = StartServer(dir.Path, port))
        {
            using var client = Client(port);
            await WaitHealthyAsync(client, server);
            var writers = Enumerable.Range(0, 2).Select(w => Task.Run(async () =>
            {
                for (int b = 0; ; b++)
                {
                    try
                    {
                        using var response = await client.PostAsync("/api/v2/write", new StringContent(Batch(w, b)));
                        if (response.StatusCode != HttpStatusCode.NoContent)
                        {
                            return;
                        }

                        acknowledged.Add((w, b));
                    }
                    catch (HttpRequestException)
                    {
                        return;
                    }
                }
            })).ToArray();

            await Eventually.TrueAsync(() => acknowledged.Count >= 20, TimeSpan.FromSeconds(60), "writers got acknowledgements");
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            await server.WaitForExitAsync();
            await Task.WhenAll(writers);
            Assert.Equal(0, server.ExitCode);
        }

        // The clean stop checkpointed: the log holds nothing left to replay.
        string wal = Path.Combine(dir.Path, "plexus.duckdb.wal");
        Assert.True(!File.Exists(wal) || new FileInfo(wal).Length == 0, "write-ahead log was not checkpointed on shutdown");

        port = FreePort();
        using var again = StartServer(dir.Path, port);
        try
        {
            using var client = Client(port);
            await WaitHealthyAsync(client, again);
            string csv = await QueryCsvAsync(client, "SELECT count(*) FROM crash");
            long stored = long.Parse(csv.Split("\r\n")[1]);
            Assert.True(stored >= acknowledged.Count * PointsPerBatch, $"stored {stored} points, acknowledged {acknowledged.Count} batches");
            Assert.Equal(0, stored % PointsPerBatch);
        }
        finally
        {
            again.Kill(entireProcessTree: true);
            await again.WaitForExitAsync();
        }
    }

    private static string Batch(int writer, int batch)
    {
        var text = new StringBuilder();
        for (int i = 0; i < PointsPerBatch; i++)
        {
            long seq = ((long)batch * PointsPerBatch) + i;
            text.Append("crash,writer=").Append(writer).Append(" batch=").Append(batch).Append("i,seq=").Append(seq).Append("i,v=").Append(i * 0.5)
                .Append(' ').Append(1_600_000_000_000_000_000L + seq).Append('\n');
        }

        return text.ToString();
    }

    private static Process StartServer(string dataDirectory, int port) =>
        ServerProcess.Start(["--data", dataDirectory, "--http", $"127.0.0.1:{port}", "--admin-token", Token, "--mqtt", "off", "--pg", "off", "--log-level", "warning"]);

    private static HttpClient Client(int port) => ServerProcess.Client(port, Token);
}
