using System.Net;
using System.Text.Json;

namespace Plexus.Compare.Systems;

/// <summary>
/// victoria-metrics (single node) with -storageDataPath in the run folder; Influx line protocol on /write
/// (metric names become measurement_field); MetricsQL instant queries on /api/v1/query.
/// </summary>
internal sealed class VictoriaMetricsSystem : BenchSystem
{
    private readonly string _executable;
    private QueryWindow? _window;

    public VictoriaMetricsSystem(HttpClient http, string executable, string version)
        : base(http)
    {
        _executable = executable;
        Version = version;
    }

    public override string Name => "victoriametrics";

    public override string SettleDefinition =>
        "/internal/force_flush, then /internal/force_merge (merges every partition), then the folder is measured once its size has been stable for 5 s";

    protected override async Task LaunchAsync(CancellationToken cancellationToken)
    {
        // -retentionPeriod: the data are from 2016; the default (1 month) would drop every sample.
        // -search.disableCache: no rollup-result cache, so repeated queries do the work each time like the others.
        Process = ChildProcess.Start(Name, _executable,
            [$"-storageDataPath={DataDirectory}", $"-httpListenAddr=127.0.0.1:{Port}", "-retentionPeriod=100y", "-search.disableCache", "-loggerLevel=ERROR"],
            Log(RunDirectory, Name));
        await WaitReadyAsync("health", (response, body) => response.StatusCode == HttpStatusCode.OK, cancellationToken);
    }

    public override List<LoadBatch> Batches(FleetDataSet dataSet, int batchSize) => dataSet.LineProtocolBatches(batchSize);

    public override HttpRequestMessage WriteRequest(LoadBatch batch) =>
        new(HttpMethod.Post, new Uri(BaseUri, "write")) { Content = Body(batch.Body, "text/plain") };

    public override async Task<DiskUsage> SettleAndMeasureAsync(CancellationToken cancellationToken)
    {
        await GetAsync("internal/force_flush", cancellationToken);
        await GetAsync("internal/force_merge", cancellationToken);
        await Support.StableDirectoryBytesAsync(DataDirectory, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(180), cancellationToken);
        return Support.Measure(DataDirectory);
    }

    private async Task GetAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync(new Uri(BaseUri, path), cancellationToken);
        await Support.ReadOrThrowAsync(response, "victoriametrics " + path, cancellationToken);
    }

    /// <summary>Result series, counted as distinct label sets without __name__ and the helper label "field".</summary>
    public override async Task<int> QueryAsync(string text, CancellationToken cancellationToken)
    {
        long time = (_window ?? throw new InvalidOperationException("Queries() first")).DataEnd.ToUnixTimeSeconds();
        string evaluateAt = text.StartsWith("@stationary ", StringComparison.Ordinal) ? _window.StationaryEnd.AddSeconds(-1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture) : time.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string query = text.StartsWith("@stationary ", StringComparison.Ordinal) ? text["@stationary ".Length..] : text;
        var uri = new Uri(BaseUri, $"api/v1/query?time={evaluateAt}&query={Uri.EscapeDataString(query)}");
        using var response = await Http.GetAsync(uri, cancellationToken);
        using var document = JsonDocument.Parse(await Support.ReadOrThrowAsync(response, "victoriametrics query", cancellationToken));
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var series in document.RootElement.GetProperty("data").GetProperty("result").EnumerateArray())
        {
            var labels = series.GetProperty("metric").EnumerateObject()
                .Where(p => p.Name is not "__name__" and not "field")
                .Select(p => p.Name + "=" + p.Value.GetString())
                .Order(StringComparer.Ordinal);
            keys.Add(string.Join(',', labels));
        }

        return keys.Count;
    }

    /// <summary>
    /// MetricsQL, evaluated as instant queries at the data's last timestamp with a look-back over the whole range
    /// (the window (t − W, t]); stationary-trucks at the window's last second, so (t0 − 1 s, t0 + 599 s] = [t0, t0 + 10 min)
    /// for whole-second data. A series is a truck's tag set, as in the others.
    /// </summary>
    public override IReadOnlyList<QuerySpec> Queries(QueryWindow w)
    {
        _window = w;
        string sel = $"fleet=\"{w.Fleet}\",name!=\"\"";
        string all = $"[{w.WholeRangeSeconds}s]";
        return
        [
            new("last-loc", $"union(label_set(last_over_time(readings_longitude{{{sel}}}{all}), \"field\", \"longitude\"), label_set(last_over_time(readings_latitude{{{sel}}}{all}), \"field\", \"latitude\"))",
                "last non-NULL value of each field, not the latest row's"),
            new("low-fuel", $"last_over_time(diagnostics_fuel_state{{{sel}}}{all}) < 0.1", "approximate: latest non-NULL fuel_state"),
            new("high-load", $"last_over_time(diagnostics_current_load{{{sel}}}{all}) / max_over_time(diagnostics_load_capacity{{{sel}}}{all}) > 0.9", "approximate: latest non-NULL current_load"),
            new("stationary-trucks", $"@stationary sum by (name, driver) (sum_over_time(readings_velocity{{{sel}}}[600s])) / sum by (name, driver) (count_over_time(readings_velocity{{{sel}}}[600s])) < 1"),
            new("avg-load", $"avg by (fleet, model) (avg_over_time(diagnostics_current_load{{name!=\"\"}}{all}) / max_over_time(diagnostics_load_capacity{{name!=\"\"}}{all}))",
                "grouped by (fleet, model); load_capacity follows from model"),
            new("daily-activity", null, "not expressed: per-bucket row counts with a HAVING on the bucket's mean need subqueries over 10-minute steps that count only non-NULL samples; no exact form"),
            new("breakdown-frequency", null, "not expressible: needs the row count per bucket and transitions between consecutive buckets"),
        ];
    }
}
