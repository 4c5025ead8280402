using System.Net;
using Plexus.TestKit;
using static Plexus.Server.Tests.ServerProcess;

namespace Plexus.Server.Tests;

/// <summary>
/// A delete against a real `plexus serve` process killed with SIGKILL right after answering: the restart replays the
/// write log, and the deleted rows stay deleted while the writes acknowledged after the delete are there.
/// </summary>
public sealed class DeleteCrashTests
{
    private const string Token = "delete-crash-token";

    [Fact]
    public async Task Killed_server_does_not_bring_deleted_rows_back_when_it_replays_its_log()
    {
        using var dir = new TempDirectory("plexus-delete-crash");
        int port = FreePort();
        using (var first = Start(["--data", dir.Path, "--http", $"127.0.0.1:{port}", "--admin-token", Token, "--mqtt", "off", "--pg", "off", "--log-level", "warning"]))
        {
            using var client = Client(port, Token);
            await WaitHealthyAsync(client, first);

            // The first write creates the measurement (a direct commit); the next ones are acknowledged from the write log.
            await WriteAsync(client, "gone,device=a v=0 1");
            for (int t = 2; t <= 20; t++)
            {
                await WriteAsync(client, $"gone,device=a v={t} {t}\ngone,device=b v={t} {t}");
            }

            using (var deleted = await client.DeleteAsync("/api/v1/measurements/main.gone?where=" + Uri.EscapeDataString("device = 'a'")))
            {
                Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
                Assert.Contains("\"rows_deleted\":20", await deleted.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            // Acknowledged after the delete, from the log only when the process dies.
            await WriteAsync(client, "gone,device=a v=100 100");
            first.Kill(entireProcessTree: true);
            await first.WaitForExitAsync();
        }

        port = FreePort();
        using var second = Start(["--data", dir.Path, "--http", $"127.0.0.1:{port}", "--admin-token", Token, "--mqtt", "off", "--pg", "off", "--log-level", "warning"]);
        try
        {
            using var client = Client(port, Token);
            await WaitHealthyAsync(client, second);
            string csv = await QueryCsvAsync(client, "SELECT device, count(*) AS n, max(epoch_ns(time)) AS newest FROM gone GROUP BY ALL ORDER BY device");
            Assert.Equal("device,n,newest\r\na,1,100\r\nb,19,20\r\n", csv);
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            await second.WaitForExitAsync();
        }
    }

    private static async Task WriteAsync(HttpClient client, string lines)
    {
        using var response = await client.PostAsync("/api/v2/write?precision=ns", new StringContent(lines));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }
}
