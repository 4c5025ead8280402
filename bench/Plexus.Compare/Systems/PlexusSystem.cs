using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Plexus.Compare.Systems;

/// <summary>The real <c>plexus serve</c> as a child process; SQL over <c>POST /api/v1/sql</c>.</summary>
internal class PlexusSystem : BenchSystem
{
    private const string Tags = "name, fleet, driver, model, device_version";
    private readonly string _executable;
    private readonly string _token;

    public PlexusSystem(HttpClient http, string executable, string token, string version)
        : base(http)
    {
        _executable = executable;
        _token = token;
        Version = version;
    }

    public override string Name => "plexus";

    public override string SettleDefinition =>
        "SIGTERM: the server finishes requests, runs CHECKPOINT and exits 0; then plexus.duckdb (+ .wal) is measured and the server restarted on the same folder for the queries";

    protected override async Task LaunchAsync(CancellationToken cancellationToken)
    {
        Process = ChildProcess.Start(Name, _executable,
            ["serve", "--data", DataDirectory, "--http", $"127.0.0.1:{Port}", "--admin-token", _token, "--mqtt", "off", "--log-level", "warning"],
            Log(RunDirectory, Name));
        await WaitReadyAsync("health", (response, _) => response.StatusCode == HttpStatusCode.OK, cancellationToken);
    }

    public override List<LoadBatch> Batches(FleetDataSet dataSet, int batchSize) => dataSet.LineProtocolBatches(batchSize);

    public override HttpRequestMessage WriteRequest(LoadBatch batch)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, "api/v2/write?bucket=bench&precision=ns"))
        {
            Content = Body(batch.Body, "text/plain"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", _token);
        return request;
    }

    public override async Task<DiskUsage> SettleAndMeasureAsync(CancellationToken cancellationToken)
    {
        await StopAsync();
        var bytes = Support.Measure(DataDirectory);
        await LaunchAsync(cancellationToken);
        return bytes;
    }

    public override async Task<int> QueryAsync(string text, CancellationToken cancellationToken)
    {
        using var document = await SqlAsync(text, cancellationToken);
        if (document.RootElement.GetProperty("truncated").GetBoolean())
        {
            throw new InvalidOperationException("result truncated by --query-max-rows");
        }

        return document.RootElement.GetProperty("row_count").GetInt32();
    }

    public override async Task<long?> StoredRowsAsync(CancellationToken cancellationToken)
    {
        using var document = await SqlAsync("SELECT (SELECT count(*) FROM bench.readings) + (SELECT count(*) FROM bench.diagnostics)", cancellationToken);
        return document.RootElement.GetProperty("rows")[0][0].GetInt64();
    }

    private async Task<JsonDocument> SqlAsync(string sql, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUri, "api/v1/sql"))
        {
            Content = new StringContent(JsonSerializer.Serialize(new { sql, db = "bench" }), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Token", _token);
        using var response = await Http.SendAsync(request, cancellationToken);
        return JsonDocument.Parse(await Support.ReadOrThrowAsync(response, "plexus sql", cancellationToken));
    }

    private static string Ts(DateTimeOffset t) => $"TIMESTAMP '{t.UtcDateTime:yyyy-MM-dd HH:mm:ss}'";

    /// <summary>
    /// TimescaleDB-reference semantics (performance-anchors.md §1.4) on Plexus's schema. A "truck" (TimescaleDB's
    /// tags row) is a series: the five string tags, NULLs included. The numeric tags are fields in TSBS's line
    /// protocol, so a series' load capacity is max(load_capacity) over its rows. "Latest row" is
    /// arg_max_null (the value at the latest time even when it is NULL, like ORDER BY time DESC LIMIT 1).
    /// </summary>
    public override IReadOnlyList<QuerySpec> Queries(QueryWindow w) =>
    [
        new("last-loc", $"""
            SELECT name, driver, arg_max_null(longitude, time) AS longitude, arg_max_null(latitude, time) AS latitude
            FROM bench.readings WHERE name IS NOT NULL AND fleet = '{w.Fleet}'
            GROUP BY {Tags}
            """),
        new("low-fuel", $"""
            SELECT name, driver, fuel_state FROM (
              SELECT name, driver, arg_max_null(fuel_state, time) AS fuel_state
              FROM bench.diagnostics WHERE name IS NOT NULL AND fleet = '{w.Fleet}'
              GROUP BY {Tags})
            WHERE fuel_state < 0.1
            """),
        new("high-load", $"""
            SELECT name, driver, current_load, load_capacity FROM (
              SELECT name, driver, arg_max_null(current_load, time) AS current_load, max(load_capacity) AS load_capacity
              FROM bench.diagnostics WHERE name IS NOT NULL AND fleet = '{w.Fleet}'
              GROUP BY {Tags})
            WHERE current_load / load_capacity > 0.9
            """),
        new("stationary-trucks", $"""
            SELECT name, driver FROM bench.readings
            WHERE time >= {Ts(w.StationaryStart)} AND time < {Ts(w.StationaryEnd)} AND name IS NOT NULL AND fleet = '{w.Fleet}'
            GROUP BY name, driver
            HAVING avg(velocity) < 1
            """),
        new("avg-load", $"""
            SELECT fleet, model, load_capacity, avg(avg_load / load_capacity) AS avg_load_percentage FROM (
              SELECT fleet, model, max(load_capacity) AS load_capacity, avg(current_load) AS avg_load
              FROM bench.diagnostics WHERE name IS NOT NULL
              GROUP BY {Tags})
            GROUP BY fleet, model, load_capacity
            """),
        new("daily-activity", $"""
            SELECT fleet, model, day, sum(rows_in_bucket) // 144 AS daily_activity FROM (
              SELECT fleet, model, time_bucket(INTERVAL '24 hours', time) AS day,
                     time_bucket(INTERVAL '10 minutes', time) AS ten_minutes, count(*) AS rows_in_bucket
              FROM bench.diagnostics WHERE name IS NOT NULL
              GROUP BY {Tags}, day, ten_minutes
              HAVING avg(status) < 1)
            GROUP BY fleet, model, day
            ORDER BY day
            """),
        new("breakdown-frequency", $"""
            WITH buckets AS (
              SELECT {Tags}, time_bucket(INTERVAL '10 minutes', time) AS ten_minutes,
                     (count(status) // count(*)) >= 0.5 AS broken_down
              FROM bench.diagnostics
              GROUP BY {Tags}, ten_minutes),
            transitions AS (
              SELECT name, model, broken_down,
                     lead(broken_down) OVER (PARTITION BY {Tags} ORDER BY ten_minutes) AS next_broken_down
              FROM buckets)
            SELECT model, count(*) AS breakdowns FROM transitions
            WHERE name IS NOT NULL AND NOT broken_down AND next_broken_down
            GROUP BY model
            """),
    ];
}
