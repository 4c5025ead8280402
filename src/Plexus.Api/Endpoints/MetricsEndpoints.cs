using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Api.Endpoints;

/// <summary>One sample of <c>GET /metrics</c>: a Prometheus metric name, its help line, counter or gauge, and labels.</summary>
public sealed record MetricSample(string Name, string Help, string Type, double Value, string? Labels = null)
{
    /// <summary>Appended to the name on its sample line: a histogram's <c>_bucket</c>, <c>_sum</c> and <c>_count</c>.</summary>
    public string Suffix { get; init; } = string.Empty;
}

/// <summary>Builds samples of <c>GET /metrics</c> for the API and for the server's other parts.</summary>
public static class MetricSamples
{
    /// <summary>A histogram's cumulative <c>_bucket</c> samples with their <c>le</c> bounds, then <c>_sum</c> and <c>_count</c>.</summary>
    public static void AddHistogram(List<MetricSample> samples, string name, string help, LatencyHistogram histogram, string? labels)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(histogram);
        string prefix = string.IsNullOrEmpty(labels) ? string.Empty : labels + ",";
        long[] cumulative = histogram.Cumulative();
        for (int i = 0; i < cumulative.Length; i++)
        {
            string bound = i < LatencyHistogram.BoundsSeconds.Length ? LatencyHistogram.BoundsSeconds[i].ToString("R", CultureInfo.InvariantCulture) : "+Inf";
            samples.Add(new(name, help, "histogram", cumulative[i], $"{prefix}le=\"{bound}\"") { Suffix = "_bucket" });
        }

        samples.Add(new(name, help, "histogram", histogram.SumSeconds, labels) { Suffix = "_sum" });
        samples.Add(new(name, help, "histogram", histogram.Count, labels) { Suffix = "_count" });
    }
}

/// <summary>
/// <c>GET /metrics</c> in Prometheus's text format (version 0.0.4): the counters the server already keeps, with scope
/// read, or without a token when <c>--metrics-public</c> is set (docs/http-api.md#metrics).
/// </summary>
internal static class MetricsEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapGet("/metrics", http => MetricsAsync(http, context));

    private static async Task MetricsAsync(HttpContext http, ApiContext context)
    {
        if (context.Options.MetricsPublic && context.Phase != ServerPhase.Ready)
        {
            http.Response.Headers.RetryAfter = "1";
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "unavailable", "the server is starting");
            return;
        }

        if (!context.Options.MetricsPublic && await PlexusApi.AdmitAsync(http, context, ApiScope.Read, namespaced: true) is null)
        {
            return;
        }

        var samples = new List<MetricSample>();
        if (context.StoreWriter is { } writer)
        {
            samples.Add(new("plexus_points_committed_total", "Points made durable by the store since start.", "counter", writer.PointsCommitted));
            samples.Add(new("plexus_commits_total", "Durable commits (write log fsyncs or DuckDB commits) since start.", "counter", writer.Commits));
            MetricSamples.AddHistogram(samples, "plexus_commit_duration_seconds",
                "Time from a write being handed to the store to its durable commit (write-log sync or DuckDB commit), queueing included.", writer.CommitLatency, null);
            samples.Add(new("plexus_store_healthy", "1 while the store can write, 0 while it refuses writes (a full disk).", "gauge", writer.Fault is null ? 1 : 0));
        }

        if (context.DeviceState is { } live)
        {
            samples.Add(new("plexus_dead_letters_total", "Device messages that could not be stored, kept as dead letters.", "counter", live.DeadLettersTotal));
            samples.Add(new("plexus_devices_known", "Devices seen since the database was created.", "gauge", live.Count));
        }

        if (context.Devices is { } devices)
        {
            samples.Add(new("plexus_devices_registered", "Devices in the registry.", "gauge", devices.List(null, null, 0, 0).Total));
        }

        if (context.Alarms is { } alarms)
        {
            samples.Add(new("plexus_alarms_open", "Alarms not cleared.", "gauge", alarms.OpenCount));
        }

        if (context.RuleEngine is { } engine)
        {
            var stats = engine.Statistics;
            samples.Add(new("plexus_rule_points_evaluated_total", "Points the rules were evaluated on.", "counter", stats.Points));
            samples.Add(new("plexus_rule_writes_dropped_total", "Writes the rule engine's full queue dropped.", "counter", stats.Dropped));
        }

        if (context.Queries is { } queries)
        {
            samples.Add(new("plexus_queries_running", "SQL queries running now.", "gauge", queries.Running));
        }

        if (context.LiveFeed is { } feed)
        {
            samples.Add(new("plexus_live_clients", "Open live streams of device data (the console's live charts).", "gauge", feed.Clients));
            samples.Add(new("plexus_live_points_sent_total", "Points queued for live streams.", "counter", feed.Sent));
            samples.Add(new("plexus_live_points_dropped_total", "Points dropped for live streams whose client was too slow.", "counter", feed.Dropped));
        }

        var api = context.Statistics;
        MetricSamples.AddHistogram(samples, "plexus_sql_query_duration_seconds", "Duration of POST /api/v1/sql requests, to the last byte of the answer.", api.SqlQueries, null);
        samples.Add(new("plexus_sql_query_failures_total", "SQL requests answered with an error status.", "counter", api.SqlFailures));
        samples.Add(new("plexus_http_lines_rejected_total", "Lines of HTTP line-protocol writes that were not stored (parse errors and store refusals).", "counter", api.LinesRejected));
        // The unlabelled sample is the whole folder; the tier samples add up to it (sum by tier, not over the name).
        var disk = DiskUsage.Measure(context.DataDirectory!);
        const string DiskHelp = "Bytes of the files in the data folder: all of them, and per tier (hot: DuckDB files, log: the write log, cold: Parquet files under cold/, other: tokens, credentials, retained messages).";
        samples.Add(new("plexus_disk_bytes", DiskHelp, "gauge", disk.Total));
        samples.Add(new("plexus_disk_bytes", DiskHelp, "gauge", disk.Hot, "tier=\"hot\""));
        samples.Add(new("plexus_disk_bytes", DiskHelp, "gauge", disk.Log, "tier=\"log\""));
        samples.Add(new("plexus_disk_bytes", DiskHelp, "gauge", disk.Cold, "tier=\"cold\""));
        samples.Add(new("plexus_disk_bytes", DiskHelp, "gauge", disk.Other, "tier=\"other\""));
        if (context.Services?.ServerMetrics is { } more)
        {
            samples.AddRange(more());
        }

        http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsync(Format(samples), http.RequestAborted);
    }

    /// <summary>Samples of one name together under one HELP and TYPE, as the format requires.</summary>
    internal static string Format(IReadOnlyList<MetricSample> samples)
    {
        var text = new StringBuilder();
        foreach (var group in samples.GroupBy(sample => sample.Name, StringComparer.Ordinal))
        {
            var first = group.First();
            text.Append("# HELP ").Append(first.Name).Append(' ').Append(first.Help).Append('\n');
            text.Append("# TYPE ").Append(first.Name).Append(' ').Append(first.Type).Append('\n');
            foreach (var sample in group)
            {
                text.Append(sample.Name).Append(sample.Suffix);
                if (!string.IsNullOrEmpty(sample.Labels))
                {
                    text.Append('{').Append(sample.Labels).Append('}');
                }

                text.Append(' ').Append(sample.Value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
            }
        }

        return text.ToString();
    }
}
