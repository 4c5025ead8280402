using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Console.Tests;

/// <summary><c>GET /metrics</c> scraped and parsed as Prometheus's text format (docs/http-api.md#metrics).</summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Metrics_need_a_read_token_and_parse_as_Prometheus_text()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var refused = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        using var written = await server.WriteAsync("cpu,host=a usage=1\ncpu,host=b usage=2");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        using var partial = await server.WriteAsync("cpu,host=c usage=3\ncpu,host=d usage=");
        Assert.Equal(HttpStatusCode.BadRequest, partial.StatusCode);
        _ = await server.SqlAsync("SELECT count(*) FROM cpu");
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "scraper", scope = "read" });
        string token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var scraper = server.ClientWithToken(token);
        using var response = await scraper.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain; version=0.0.4", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        var metrics = Parse(await response.Content.ReadAsStringAsync());
        Assert.True(metrics["plexus_points_committed_total"] >= 2);
        Assert.True(metrics["plexus_commits_total"] >= 1);
        Assert.True(metrics["plexus_disk_bytes"] > 0);
        Assert.True(metrics["plexus_disk_bytes{tier=\"hot\"}"] > 0);
        Assert.True(metrics["plexus_disk_bytes{tier=\"log\"}"] >= 0);
        Assert.Equal(0, metrics["plexus_disk_bytes{tier=\"cold\"}"]);
        Assert.Equal(
            metrics["plexus_disk_bytes"],
            new[] { "hot", "log", "cold", "other" }.Sum(tier => metrics[$"plexus_disk_bytes{{tier=\"{tier}\"}}"]));

        // Both writes that stored points waited for their commit: the histogram holds each.
        Assert.True(metrics["plexus_commit_duration_seconds_count"] >= 2);
        Assert.Equal(metrics["plexus_commit_duration_seconds_count"], metrics["plexus_commit_duration_seconds_bucket{le=\"+Inf\"}"]);
        Assert.True(metrics["plexus_commit_duration_seconds_sum"] > 0);
        Assert.Equal(0, metrics["plexus_mqtt_connections"]);
        Assert.Equal(0, metrics["plexus_mqtt_messages_dropped_total{reason=\"rate\"}"]);
        Assert.Equal(1, metrics["plexus_store_healthy"]);
        Assert.Equal(3, metrics["plexus_ingest_points_total{source=\"http_write\"}"]);
        Assert.Equal(2, metrics["plexus_ingest_writes_total{source=\"http_write\"}"]);
        Assert.Equal(2, metrics["plexus_ingest_write_duration_seconds_count{source=\"http_write\"}"]);
        Assert.Equal(2, metrics["plexus_ingest_write_duration_seconds_bucket{source=\"http_write\",le=\"+Inf\"}"]);
        Assert.Equal(1, metrics["plexus_http_lines_rejected_total"]);
        Assert.Equal(1, metrics["plexus_sql_query_duration_seconds_count"]);
        Assert.Equal(0, metrics["plexus_sql_query_failures_total"]);
    }

    [Fact]
    public async Task Metrics_public_serves_them_without_a_token()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: options => options with { MetricsPublic = true });
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        var metrics = Parse(await anonymous.GetStringAsync("/metrics"));
        Assert.True(metrics.ContainsKey("plexus_points_committed_total"));

        // Only /metrics: the rest of the API still needs a token.
        using var refused = await anonymous.GetAsync("/api/v1/overview");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    /// <summary>
    /// The text format as Prometheus reads it: every sample line is a name (with labels) and a float; every name has one
    /// HELP and one TYPE before its samples.
    /// </summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        var typed = new HashSet<string>(StringComparer.Ordinal);
        var histograms = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                Assert.True(typed.Add(parts[2]), $"a second TYPE line for {parts[2]}");
                Assert.Contains(parts[3], new[] { "counter", "gauge", "histogram" });
                if (parts[3] == "histogram")
                {
                    histograms.Add(parts[2]);
                }

                continue;
            }

            if (line.StartsWith('#'))
            {
                Assert.StartsWith("# HELP ", line, StringComparison.Ordinal);
                continue;
            }

            int space = line.LastIndexOf(' ');
            string name = line[..space];
            Assert.Matches("^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})?$", name);
            string metric = name.Split('{')[0];
            string? histogram = new[] { "_bucket", "_sum", "_count" }.Where(metric.EndsWith).Select(suffix => metric[..^suffix.Length]).FirstOrDefault(histograms.Contains);
            Assert.True(typed.Contains(metric) || histogram is not null, $"{name} has no TYPE line before it");
            samples.Add(name, double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture));
        }

        return samples;
    }
}
