using System.Net;
using System.Text;
using System.Text.Json;

namespace Plexus.Compare.Systems;

/// <summary>
/// clickhouse-server 18.16 with its own config.xml/users.xml in the run folder; HTTP interface; two MergeTree tables
/// ordered by (name, time). Tags are String ('' when the row lacks the tag: 18.16 cannot have Nullable columns in the
/// sorting key), fields Nullable(Float64)/Nullable(Int64), time DateTime (seconds; 18.16 has no DateTime64).
/// </summary>
internal sealed class ClickHouseSystem : BenchSystem
{
    private const string Tags = "name, fleet, driver, model, device_version";
    private readonly string _executable;

    public ClickHouseSystem(HttpClient http, string executable, string version)
        : base(http)
    {
        _executable = executable;
        Version = version;
    }

    public override string Name => "clickhouse";

    /// <summary>Only the database's folder: the run folder also holds the empty system database and metadata.</summary>
    public override string DataDirectory => Path.Combine(RunDirectory, "data");

    public override string SettleDefinition => "OPTIMIZE TABLE … FINAL on both tables (merges every partition into one part), then data/bench/ is measured once its size has been stable for 3 s (merged-away parts are removed after 1 s: old_parts_lifetime and cleanup_delay_period are set to 1 in the generated config)";

    protected override async Task LaunchAsync(CancellationToken cancellationToken)
    {
        int tcpPort = Support.FreePort();
        string config = Path.Combine(RunDirectory, "config.xml");
        await File.WriteAllTextAsync(config, $"""
            <?xml version="1.0"?>
            <yandex>
              <logger><level>warning</level><log>{RunDirectory}/clickhouse-server.log</log><errorlog>{RunDirectory}/clickhouse-server.err.log</errorlog><size>100M</size><count>1</count></logger>
              <http_port>{Port}</http_port>
              <tcp_port>{tcpPort}</tcp_port>
              <listen_host>127.0.0.1</listen_host>
              <max_connections>64</max_connections>
              <keep_alive_timeout>3</keep_alive_timeout>
              <max_concurrent_queries>16</max_concurrent_queries>
              <uncompressed_cache_size>8589934592</uncompressed_cache_size>
              <mark_cache_size>5368709120</mark_cache_size>
              <path>{RunDirectory}/</path>
              <tmp_path>{RunDirectory}/tmp/</tmp_path>
              <user_files_path>{RunDirectory}/user_files/</user_files_path>
              <format_schema_path>{RunDirectory}/format_schemas/</format_schema_path>
              <users_config>{RunDirectory}/users.xml</users_config>
              <default_profile>default</default_profile>
              <default_database>default</default_database>
              <timezone>UTC</timezone>
              <mlock_executable>false</mlock_executable>
              <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
              <max_session_timeout>3600</max_session_timeout>
              <merge_tree><old_parts_lifetime>1</old_parts_lifetime><cleanup_delay_period>1</cleanup_delay_period></merge_tree>
              <default_session_timeout>60</default_session_timeout>
            </yandex>
            """, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(RunDirectory, "users.xml"), """
            <?xml version="1.0"?>
            <yandex>
              <profiles><default><max_memory_usage>10000000000</max_memory_usage><use_uncompressed_cache>0</use_uncompressed_cache><load_balancing>random</load_balancing></default></profiles>
              <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
              <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
            </yandex>
            """, cancellationToken);
        Process = ChildProcess.Start(Name, _executable, [$"--config-file={config}"], Log(RunDirectory, Name), RunDirectory);
        await WaitReadyAsync("ping", (response, body) => response.StatusCode == HttpStatusCode.OK && body.StartsWith("Ok", StringComparison.Ordinal), cancellationToken);
    }

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        await ExecuteAsync("CREATE DATABASE IF NOT EXISTS bench", cancellationToken);
        foreach (var (table, fields) in new[] { ("readings", FleetDataSet.ReadingsFields), ("diagnostics", FleetDataSet.DiagnosticsFields) })
        {
            var columns = new StringBuilder("time DateTime");
            foreach (var tag in FleetDataSet.StringTags)
            {
                columns.Append(", ").Append(tag).Append(" String");
            }

            foreach (var field in FleetDataSet.FakeTags.Concat(fields))
            {
                columns.Append(", ").Append(field).Append(field == "status" ? " Nullable(Int64)" : " Nullable(Float64)");
            }

            await ExecuteAsync($"CREATE TABLE bench.{table} ({columns}) ENGINE = MergeTree() PARTITION BY toYYYYMM(time) ORDER BY (name, time)", cancellationToken);
        }
    }

    public override List<LoadBatch> Batches(FleetDataSet dataSet, int batchSize) => dataSet.ClickHouseBatches(batchSize);

    public override HttpRequestMessage WriteRequest(LoadBatch batch) =>
        new(HttpMethod.Post, new Uri(BaseUri, "?query=" + Uri.EscapeDataString($"INSERT INTO bench.{batch.Table} FORMAT TabSeparated")))
        {
            Content = Body(batch.Body, "text/tab-separated-values"),
        };

    public override async Task<DiskUsage> SettleAndMeasureAsync(CancellationToken cancellationToken)
    {
        await ExecuteAsync("OPTIMIZE TABLE bench.readings FINAL", cancellationToken);
        await ExecuteAsync("OPTIMIZE TABLE bench.diagnostics FINAL", cancellationToken);
        string folder = Path.Combine(RunDirectory, "data", "bench");
        await Support.StableDirectoryBytesAsync(folder, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(120), cancellationToken);
        return Support.Measure(folder);
    }

    public override async Task<int> QueryAsync(string text, CancellationToken cancellationToken)
    {
        using var document = JsonDocument.Parse(await ExecuteAsync(text + "\nFORMAT JSON", cancellationToken));
        return document.RootElement.GetProperty("rows").GetInt32();
    }

    public override async Task<long?> StoredRowsAsync(CancellationToken cancellationToken)
    {
        string text = await ExecuteAsync("SELECT (SELECT count() FROM bench.readings) + (SELECT count() FROM bench.diagnostics)", cancellationToken);
        return long.Parse(text.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<string> ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        using var content = new StringContent(sql, Encoding.UTF8, "text/plain");
        using var response = await Http.PostAsync(BaseUri, content, cancellationToken);
        return await Support.ReadOrThrowAsync(response, "clickhouse", cancellationToken);
    }

    private static string Ts(DateTimeOffset t) => $"toDateTime('{t.UtcDateTime:yyyy-MM-dd HH:mm:ss}')";

    /// <summary>
    /// The same semantics as Plexus's queries (not TSBS's ClickHouse generator, whose stationary-trucks,
    /// breakdown-frequency and daily-driving queries answer other questions, anchors §1.4). Latest row per series:
    /// argMax over a tuple, because argMax(x, time) skips rows where x is NULL. 10-minute buckets:
    /// intDiv(toUInt32(time), 600), which is TimescaleDB's grid. breakdown-frequency: 18.16 has no window
    /// functions; the lead() is done with arrays per series.
    /// </summary>
    public override IReadOnlyList<QuerySpec> Queries(QueryWindow w) =>
    [
        new("last-loc", $"""
            SELECT name, driver, tupleElement(loc, 1) AS longitude, tupleElement(loc, 2) AS latitude FROM (
              SELECT name, driver, argMax((longitude, latitude), time) AS loc
              FROM bench.readings WHERE name != '' AND fleet = '{w.Fleet}'
              GROUP BY {Tags})
            """),
        new("low-fuel", $"""
            SELECT name, driver, fuel_state FROM (
              SELECT name, driver, tupleElement(argMax(tuple(fuel_state), time), 1) AS fuel_state
              FROM bench.diagnostics WHERE name != '' AND fleet = '{w.Fleet}'
              GROUP BY {Tags})
            WHERE fuel_state < 0.1
            """),
        new("high-load", $"""
            SELECT name, driver, current_load, load_capacity FROM (
              SELECT name, driver, tupleElement(argMax(tuple(current_load), time), 1) AS current_load, max(load_capacity) AS load_capacity
              FROM bench.diagnostics WHERE name != '' AND fleet = '{w.Fleet}'
              GROUP BY {Tags})
            WHERE current_load / load_capacity > 0.9
            """),
        new("stationary-trucks", $"""
            SELECT name, driver FROM bench.readings
            WHERE time >= {Ts(w.StationaryStart)} AND time < {Ts(w.StationaryEnd)} AND name != '' AND fleet = '{w.Fleet}'
            GROUP BY name, driver
            HAVING avg(velocity) < 1
            """),
        new("avg-load", $"""
            SELECT fleet, model, load_capacity, avg(avg_load / load_capacity) AS avg_load_percentage FROM (
              SELECT fleet, model, max(load_capacity) AS load_capacity, avg(current_load) AS avg_load
              FROM bench.diagnostics WHERE name != ''
              GROUP BY {Tags})
            GROUP BY fleet, model, load_capacity
            """),
        new("daily-activity", $"""
            SELECT fleet, model, day, intDiv(sum(rows_in_bucket), 144) AS daily_activity FROM (
              SELECT fleet, model, toStartOfDay(time) AS day, intDiv(toUInt32(time), 600) AS ten_minutes, count() AS rows_in_bucket
              FROM bench.diagnostics WHERE name != ''
              GROUP BY {Tags}, day, ten_minutes
              HAVING avg(status) < 1)
            GROUP BY fleet, model, day
            ORDER BY day
            """),
        new("breakdown-frequency", $"""
            SELECT model, sum(transitions) AS breakdowns FROM (
              SELECT name, model,
                     arrayMap(x -> x.2, arraySort(x -> x.1, groupArray((ten_minutes, broken_down)))) AS states,
                     arrayCount((a, b) -> a = 0 AND b = 1, arrayPopBack(states), arrayPopFront(states)) AS transitions
              FROM (
                SELECT {Tags}, intDiv(toUInt32(time), 600) AS ten_minutes, intDiv(count(status), count()) >= 0.5 AS broken_down
                FROM bench.diagnostics
                GROUP BY {Tags}, ten_minutes)
              GROUP BY {Tags})
            WHERE name != ''
            GROUP BY model
            HAVING breakdowns > 0
            """),
    ];
}
