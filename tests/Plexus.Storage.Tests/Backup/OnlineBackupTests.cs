using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using MQTTnet;
using Plexus.Storage.Backup;
using Plexus.Storage.Cold;
using Plexus.TestKit;

namespace Plexus.Storage.Tests.Backup;

/// <summary>
/// <c>POST /api/v1/backup</c> against a real server that keeps taking writes, read back as <c>plexus backup</c> reads it, restored
/// into a new folder and served again: the same rows (hot and cold), devices, tokens, rules and retained messages.
/// </summary>
public sealed class OnlineBackupTests
{
    // 2026-01-01T00:00:00Z and the day after: closed partitions that the compactor moves to Parquet.
    private const long Day0 = 1_767_225_600_000_000_000;
    private const long Day = 86_400_000_000_000;

    private const string SeedQuery = "SELECT device, epoch_ns(time) AS t, v FROM readings ORDER BY device, t";

    private static Task<PlexusTestServer> StartAsync(string? dataDirectory = null) => PlexusTestServer.StartAsync(dataDirectory, o => o with
    {
        ColdTier = new ColdTierOptions { Grace = TimeSpan.FromSeconds(1), CheckInterval = TimeSpan.FromMilliseconds(100) },
    });

    [Fact]
    public async Task A_backup_taken_while_a_writer_writes_restores_every_acknowledged_write_and_every_registry()
    {
        using var backupFolder = new TempDirectory("plexus-backup");
        using var restoredFolder = new TempDirectory("plexus-restored");
        string deviceToken, apiToken;
        string seedRows, devicesBefore, rulesBefore, tokensBefore;
        long ackedAtStart;
        long lastAcked = -1;
        await using (var server = await StartAsync())
        {
            await SeedAsync(server);
            deviceToken = await CreateAsync(server, "/api/v1/devices", """{"id": "truck-1", "name": "Truck one"}""");
            apiToken = await CreateAsync(server, "/api/v1/tokens", """{"name": "dashboard", "scope": "read"}""");
            await CreateAsync(server, "/api/v1/rules", """{"name": "hot", "from": "readings", "where": "v > 1000", "severity": "minor"}""");
            using (var publisher = await MqttTestClients.ConnectAsync(server))
            {
                await publisher.PublishAsync("site/a/status", "open", retain: true);
            }

            seedRows = (await server.SqlAsync(SeedQuery)).GetRawText();
            devicesBefore = await server.Client.GetStringAsync("/api/v1/devices");
            rulesBefore = await server.Client.GetStringAsync("/api/v1/rules");
            tokensBefore = await server.Client.GetStringAsync("/api/v1/tokens");

            // One writer, one request at a time: the rows it was answered for before the backup was asked for must all be in it.
            using var stop = new CancellationTokenSource();
            var writer = Task.Run(async () =>
            {
                for (long n = 0; !stop.IsCancellationRequested; n++)
                {
                    using var response = await server.WriteAsync($"stream,w=a n={n}i {Day0 + (40 * Day) + n}");
                    Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
                    Volatile.Write(ref lastAcked, n);
                }
            });
            await Eventually.TrueAsync(() => Volatile.Read(ref lastAcked) >= 5, TimeSpan.FromSeconds(60), "the writer is writing");

            ackedAtStart = Volatile.Read(ref lastAcked);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/backup");
            using var response = await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(BackupArchive.ContentType, response.Content.Headers.ContentType?.MediaType);
            long reported = -1;
            await using (var body = await response.Content.ReadAsStreamAsync())
            {
                await BackupArchive.ExtractAsync(body, backupFolder.Path, (_, received) => reported = received, CancellationToken.None);
            }

            long ackedDuring = Volatile.Read(ref lastAcked);
            await stop.CancelAsync();
            await writer;
            Assert.True(ackedDuring > ackedAtStart, "the writer kept being answered while the backup ran");

            var manifest = BackupManifest.Parse(await File.ReadAllBytesAsync(Path.Combine(backupFolder.Path, BackupManifest.FileName)));
            Assert.Equal(manifest.TotalBytes, reported);
            Assert.Equal(manifest.TotalBytes.ToString(CultureInfo.InvariantCulture), Assert.Single(response.Headers.GetValues("X-Plexus-Backup-Bytes")));
            // Both days of readings, and the writer's own closed day once the compactor got to it.
            Assert.InRange(manifest.Files.Count(f => f.Path.StartsWith("cold/", StringComparison.Ordinal)), 2, 3);
            await Eventually.TrueAsync(() => !Directory.Exists(Path.Combine(server.Server.Store.Options.DataDirectory, BackupSnapshot.StagingFolderName)), because: "the staged snapshot is gone once sent");

            // Every file the data folder holds is in the backup, or is one that a restored server does not need.
            var inBackup = manifest.Files.Select(f => f.Path.Split('/')[0]).ToHashSet(StringComparer.Ordinal);
            string[] notNeeded = ["plexus.duckdb.wal", "plexus.log"];
            var missed = Directory.EnumerateFileSystemEntries(server.Server.Store.Options.DataDirectory).Select(Path.GetFileName)
                .Where(name => !inBackup.Contains(name!) && !notNeeded.Contains(name)).ToList();
            Assert.True(missed.Count == 0, "not backed up: " + string.Join(", ", missed));
            Assert.Contains("mqtt-retained.journal", inBackup);
            Assert.Contains("device-credentials.journal", inBackup);
            Assert.Contains("api-tokens.json", inBackup);
        }

        BackupRestore.Restore(backupFolder.Path, restoredFolder.Path, force: false);

        await using (var restored = await StartAsync(restoredFolder.Path))
        {
            Assert.Equal(seedRows, (await restored.SqlAsync(SeedQuery)).GetRawText());
            Assert.Equal(2, (await restored.RowsAsync("SELECT count(*) FROM main.partitions WHERE tier = 'cold' AND measurement = 'readings'"))[0][0].GetInt64());
            var stream = await restored.RowsAsync("SELECT count(*), max(n), count(*) FILTER (WHERE n <= " + ackedAtStart + ") FROM stream");
            Assert.Equal(ackedAtStart + 1, stream[0][2].GetInt64());
            Assert.Equal(stream[0][1].GetInt64() + 1, stream[0][0].GetInt64());

            Assert.Equal(devicesBefore, await restored.Client.GetStringAsync("/api/v1/devices"));
            Assert.Equal(rulesBefore, await restored.Client.GetStringAsync("/api/v1/rules"));
            Assert.Equal(tokensBefore, await restored.Client.GetStringAsync("/api/v1/tokens"));
            using (var device = restored.ClientWithToken(deviceToken))
            using (var sent = await device.PostAsync("/api/v1/devices/truck-1/telemetry", new StringContent("""{"speed": 3}""", Encoding.UTF8, "application/json")))
            {
                Assert.True(sent.IsSuccessStatusCode, "the device token still works: " + await sent.Content.ReadAsStringAsync());
            }

            using (var reader = restored.ClientWithToken(apiToken))
            using (var query = await reader.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT count(*) FROM readings" }))
            {
                Assert.Equal(HttpStatusCode.OK, query.StatusCode);
            }

            using var subscriber = await MqttTestClients.ConnectAsync(restored);
            var received = await subscriber.SubscribeCollectingAsync("site/#");
            await Eventually.TrueAsync(() => MqttTestClients.Count(received) == 1, because: "the retained message is back");
            lock (received)
            {
                Assert.Equal("open", MqttTestClients.Text(received[0]));
            }
        }
    }

    [Fact]
    public async Task A_read_token_cannot_take_a_backup()
    {
        await using var server = await StartAsync();
        string reader = await CreateAsync(server, "/api/v1/tokens", """{"name": "reader", "scope": "read"}""");
        using var readClient = server.ClientWithToken(reader);
        using var refused = await readClient.PostAsync("/api/v1/backup", null);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    private static async Task SeedAsync(PlexusTestServer server)
    {
        var lines = new StringBuilder();
        for (int i = 0; i < 48; i++)
        {
            lines.Append(CultureInfo.InvariantCulture, $"readings,device=d{i % 2} v={i} {Day0 + (i * (Day / 24))}\n");
        }

        long now = (TimeProvider.System.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
        lines.Append(CultureInfo.InvariantCulture, $"readings,device=d0 v=1000 {now}\n");
        using var response = await server.WriteAsync(lines.ToString());
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Eventually.TrueAsync(async () => (await server.RowsAsync("SELECT count(*) FROM main.partitions WHERE tier = 'cold'"))[0][0].GetInt64() == 2,
            TimeSpan.FromSeconds(30), "both closed days are cold");
    }

    private static async Task<string> CreateAsync(PlexusTestServer server, string path, string json)
    {
        using var response = await server.Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {body}");
        using var document = JsonDocument.Parse(body);
        return document.RootElement.TryGetProperty("token", out var token) ? token.GetString()! : "";
    }
}
