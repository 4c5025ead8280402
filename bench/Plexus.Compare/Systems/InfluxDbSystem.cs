using System.Net;
using System.Text.Json;

namespace Plexus.Compare.Systems;

/// <summary>influxd 1.6 with its own config in the run folder (tsm1 engine, default inmem index); InfluxQL over /query.</summary>
internal sealed class InfluxDbSystem : BenchSystem
{
    private readonly string _executable;

    public InfluxDbSystem(HttpClient http, string executable, string version)
        : base(http)
    {
        _executable = executable;
        Version = version;
    }

    public override string Name => "influxdb";

    public override string SettleDefinition =>
        "cache-snapshot-write-cold-duration and compact-full-write-cold-duration set to 5 s (defaults 10 min / 4 h) so 1.6 snapshots the cache and fully compacts each shard soon after the load; wait until the folder size has been stable for 10 s, then SIGTERM and measure meta+data+wal; restart for the queries";

    protected override async Task LaunchAsync(CancellationToken cancellationToken)
    {
        int rpcPort = Support.FreePort();
        string config = Path.Combine(RunDirectory, "influxdb.conf");
        await File.WriteAllTextAsync(config, $"""
            reporting-disabled = true
            bind-address = "127.0.0.1:{rpcPort}"
            [meta]
              dir = "{DataDirectory}/meta"
            [data]
              dir = "{DataDirectory}/data"
              wal-dir = "{DataDirectory}/wal"
              query-log-enabled = false
              cache-snapshot-write-cold-duration = "5s"
              compact-full-write-cold-duration = "5s"
            [retention]
              enabled = false
            [shard-precreation]
              enabled = false
            [monitor]
              store-enabled = false
            [http]
              enabled = true
              bind-address = "127.0.0.1:{Port}"
              auth-enabled = false
              log-enabled = false
            [continuous_queries]
              enabled = false
            [subscriber]
              enabled = false
            """, cancellationToken);
        Process = ChildProcess.Start(Name, _executable, ["-config", config], Log(RunDirectory, Name));
        await WaitReadyAsync("ping", (response, _) => response.StatusCode == HttpStatusCode.NoContent, cancellationToken);
    }

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        using var content = new FormUrlEncodedContent([new("q", "CREATE DATABASE bench")]);
        using var response = await Http.PostAsync(new Uri(BaseUri, "query"), content, cancellationToken);
        await Support.ReadOrThrowAsync(response, "influxdb create database", cancellationToken);
    }

    public override List<LoadBatch> Batches(FleetDataSet dataSet, int batchSize) => dataSet.LineProtocolBatches(batchSize);

    public override HttpRequestMessage WriteRequest(LoadBatch batch) =>
        new(HttpMethod.Post, new Uri(BaseUri, "write?db=bench&precision=ns")) { Content = Body(batch.Body, "text/plain") };

    public override async Task<DiskUsage> SettleAndMeasureAsync(CancellationToken cancellationToken)
    {
        await Support.StableDirectoryBytesAsync(DataDirectory, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(180), cancellationToken);
        await StopAsync();
        var bytes = Support.Measure(DataDirectory);
        await LaunchAsync(cancellationToken);
        return bytes;
    }

    public override async Task<int> QueryAsync(string text, CancellationToken cancellationToken)
    {
        var uri = new Uri(BaseUri, "query?db=bench&epoch=ns&q=" + Uri.EscapeDataString(text));
        using var response = await Http.GetAsync(uri, cancellationToken);
        using var document = JsonDocument.Parse(await Support.ReadOrThrowAsync(response, "influxdb query", cancellationToken));
        int rows = 0;
        foreach (var result in document.RootElement.GetProperty("results").EnumerateArray())
        {
            if (result.TryGetProperty("error", out var error))
            {
                throw new InvalidOperationException("influxdb: " + error.GetString());
            }

            if (result.TryGetProperty("series", out var series))
            {
                foreach (var one in series.EnumerateArray())
                {
                    rows += one.GetProperty("values").GetArrayLength();
                }
            }
        }

        return rows;
    }

    private static string Ts(DateTimeOffset t) => $"'{t.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}'";

    /// <summary>
    /// InfluxQL 1.6. Series (GROUP BY *) are the trucks; "name IS NOT NULL" is "name" != ''. Latest row per series is
    /// ORDER BY time DESC LIMIT 1 per series, filtered by an outer query; the numeric tags are fields, so
    /// current_load / load_capacity is a field expression. Approximations are noted.
    /// </summary>
    public override IReadOnlyList<QuerySpec> Queries(QueryWindow w)
    {
        string all = $"time >= {Ts(w.DataStart)} AND time <= {Ts(w.DataEnd)}";
        string days = $"time >= {Ts(new DateTimeOffset(w.DataStart.UtcDateTime.Date, TimeSpan.Zero))} AND time <= {Ts(w.DataEnd)}";
        return
        [
            new("last-loc", $"SELECT longitude, latitude FROM \"readings\" WHERE fleet = '{w.Fleet}' AND \"name\" != '' GROUP BY * ORDER BY time DESC LIMIT 1",
                "latest row carrying longitude or latitude (a row with both NULL is not a point of these fields)"),
            new("low-fuel", $"SELECT * FROM (SELECT fuel_state FROM \"diagnostics\" WHERE fleet = '{w.Fleet}' AND \"name\" != '' GROUP BY * ORDER BY time DESC LIMIT 1) WHERE fuel_state < 0.1 ORDER BY time DESC",
                "approximate: latest non-NULL fuel_state, not the latest row's"),
            new("high-load", $"SELECT * FROM (SELECT current_load / load_capacity AS load_ratio FROM \"diagnostics\" WHERE fleet = '{w.Fleet}' AND \"name\" != '' GROUP BY * ORDER BY time DESC LIMIT 1) WHERE load_ratio > 0.9 ORDER BY time DESC",
                "approximate: latest row carrying the fields, not the latest row"),
            new("stationary-trucks", $"SELECT * FROM (SELECT mean(velocity) AS mean_velocity FROM \"readings\" WHERE fleet = '{w.Fleet}' AND \"name\" != '' AND time >= {Ts(w.StationaryStart)} AND time < {Ts(w.StationaryEnd)} GROUP BY \"name\", driver) WHERE mean_velocity < 1"),
            new("avg-load", $"SELECT mean(load_percentage) FROM (SELECT mean(current_load) / max(load_capacity) AS load_percentage FROM \"diagnostics\" WHERE \"name\" != '' AND {all} GROUP BY *) GROUP BY fleet, model",
                "grouped by (fleet, model); load_capacity follows from model"),
            new("daily-activity", $"SELECT sum(n) FROM (SELECT count(status) AS n, mean(status) AS s FROM \"diagnostics\" WHERE \"name\" != '' AND {days} GROUP BY time(10m), *) WHERE s < 1 AND {days} GROUP BY time(1d), fleet, model",
                "approximate: counts rows with a status (count(*) of rows is not expressible); // 144 left to the client"),
            new("breakdown-frequency", null, "not expressible: needs the row count per bucket and a transition (lead) between buckets"),
        ];
    }
}
