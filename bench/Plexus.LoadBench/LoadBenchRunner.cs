using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.Json;
using Plexus.Devices;
using Plexus.Server;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.LoadBench;

/// <summary>
/// Runs every target on one data set. For each run index, and within it for each writer count, the HTTP
/// floor and Plexus run back to back; then the DuckDB baseline and the parser alone, once each.
/// Interleaving spreads the noise of a shared machine over all targets instead of letting it land on one.
/// </summary>
internal sealed class LoadBenchRunner(LoadBenchOptions options, TsbsIotDataSet data, TextWriter log)
{
    public const string Namespace = "bench";
    /// <summary>The HTTP floor and the parser repeat whole passes until this long, to sample the machine's noise over a window like Plexus's.</summary>
    public static readonly TimeSpan MinFloorDuration = TimeSpan.FromSeconds(1);

    public const string WritePath = "/api/v2/write?bucket=" + Namespace + "&precision=ns";
    private const string AdminToken = "loadbench-admin-token";

    private readonly string _root = Path.Combine(Path.GetTempPath(), "plexus-loadbench-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task<List<RunResult>> RunAllAsync()
    {
        var results = new List<RunResult>();
        try
        {
            await WarmUpAsync();
            for (int run = 1; run <= options.Runs; run++)
            {
                foreach (int writers in options.Writers)
                {
                    results.Add(Print(await RunHttpFloorAsync(writers, run, MinFloorDuration)));
                    foreach (int rules in options.Rules)
                    {
                        results.Add(Print(await RunPlexusAsync(writers, run, rules)));
                    }
                }

                if (options.DuckDbFloor)
                {
                    results.Add(Print(await RunDuckDbFloorAsync(run)));
                }

                results.Add(Print(await RunParseOnlyAsync(run)));
            }
        }
        finally
        {
            if (!options.KeepData && Directory.Exists(_root))
            {
                Directory.Delete(_root, recursive: true);
            }
        }

        return results;
    }

    // JIT, tiering and first-use costs (Kestrel, the parser, DuckDB) must land here, not in run 1. Methods
    // reach optimised (tier-1, PGO) code only after ~30 calls and a background compile, so one pass is not
    // enough: with one, run 1 still spent up to twice the CPU of runs 2-3. Whole passes repeat until one
    // spends under 2 % of its time in the JIT, at most MaxWarmUpPasses; each timed section then also waits
    // for the JIT to go quiet (JitQuiet), because every fresh server makes it compile some more.
    private const int MaxWarmUpPasses = 4;

    // Enough rules of every kind of the mix for the engine's code to reach its optimised tier; saving a thousand rules
    // over HTTP (each a transaction and an audit row) takes longer than the load itself on a busy machine.
    private const int MaxWarmUpRules = 100;

    private async Task WarmUpAsync()
    {
        int writers = options.Writers.Max();
        for (int pass = 1; pass <= MaxWarmUpPasses; pass++)
        {
            var jitBefore = JitInfo.GetCompilationTime();
            long methodsBefore = JitInfo.GetCompiledMethodCount();
            long started = Stopwatch.GetTimestamp();
            await RunHttpFloorAsync(writers, 0, TimeSpan.Zero);
            await RunPlexusAsync(writers, 0, Math.Min(options.Rules.Max(), MaxWarmUpRules), string.Create(CultureInfo.InvariantCulture, $"warm-{pass}"));
            await ParseOnlyStage.RunAsync(data, TimeSpan.Zero);
            if (options.DuckDbFloor)
            {
                await DuckDbAppenderFloor.RunAsync(data, Path.Combine(_root, string.Create(CultureInfo.InvariantCulture, $"duckdb-warm-{pass}")));
            }

            var wall = Stopwatch.GetElapsedTime(started);
            var jit = JitInfo.GetCompilationTime() - jitBefore;
            long methods = JitInfo.GetCompiledMethodCount() - methodsBefore;
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"warm-up pass {pass} (not counted): {wall.TotalSeconds:F2} s, {methods} methods compiled, {jit.TotalMilliseconds:F0} ms in the JIT"));
            if (pass >= 2 && jit < wall * 0.02)
            {
                break;
            }
        }
    }

    private async Task<RunResult> RunHttpFloorAsync(int writers, int run, TimeSpan minDuration)
    {
        await using var server = await DiscardHttpServer.StartAsync();
        using var client = HttpLoad.CreateClient(server.Address, token: null, writers);
        await HttpLoad.PrimeAsync(client, WritePath, writers);
        await JitQuiet.WaitAsync(TimeProvider.System);
        var sampler = ResourceSampler.Start();
        await using (sampler)
        {
            var load = await HttpLoad.PostAllAsync(client, WritePath, data.Batches, data.LinesPerBatch, data.Batches.Length, writers, minDuration);
            var usage = await sampler.StopAsync();
            return RunResult.Create(Targets.HttpFloor, writers, run, load.Rows, FieldValues(load.Rows), load.Wall, usage, load, commits: null, checkpoint: null, bytes: null, dataDirectory: null);
        }
    }

    private async Task<RunResult> RunPlexusAsync(int writers, int run, int rules, string? label = null)
    {
        string directory = Path.Combine(_root, string.Create(CultureInfo.InvariantCulture, $"plexus-w{writers}-rules{rules}-{label ?? "r" + run}"));
        long maxBody = data.Batches.Max(b => (long)b.Length);
        var server = await PlexusServer.StartAsync(new PlexusServerOptions
        {
            DataDirectory = directory,
            HttpEndpoint = "127.0.0.1:0",
            MqttEndpoint = PlexusServerOptions.MqttOff,
            PgEndpoint = PlexusServerOptions.MqttOff,
            AdminToken = AdminToken,
            MaxBodyBytes = Math.Max(25_000_000, 2 * maxBody),

            // The trucks' name tag is their device key, as a deployment of them would set it: rules keep state per truck.
            DeviceTag = DeviceTagMap.DefaultTag + "," + Namespace + "=name",
            RollupInterval = options.RollupInterval ?? PlexusServerOptions.DefaultRollupInterval,
        });
        RunResult result;
        var webhooks = rules > 0 ? await WebhookListener.StartAsync() : null;
        try
        {
            using var client = HttpLoad.CreateClient(server.HttpAddress, AdminToken, writers);
            await HttpLoad.PrimeAsync(client, WritePath, writers);
            await RuleMix.AddAsync(client, WritePath, Namespace, data.Batches[0], rules, webhooks?.HookAddress);

            foreach (string every in options.Rollups)
            {
                using var added = await client.PostAsync("/api/v1/rollups", new StringContent($"{{\"measurement\": \"{Namespace}.readings\", \"every\": \"{every}\"}}", System.Text.Encoding.UTF8, "application/json"));
                added.EnsureSuccessStatusCode();
            }

            // Saving the rules (and rollups) wrote a transaction each to the write-ahead log: checkpointed now, or the first commit of
            // the load would checkpoint them and the setup's cost would land in the timed section. Done for every count
            // (with none it is nearly free), so the runs differ only by their rules.
            server.Store.Checkpoint();

            await JitQuiet.WaitAsync(TimeProvider.System);
            HttpLoadResult load;
            ResourceUsage usage;
            var acknowledged = new long[data.Batches.Length];
            var sampler = ResourceSampler.Start();
            await using (sampler)
            {
                load = await HttpLoad.PostAllAsync(client, WritePath, data.Batches, data.LinesPerBatch, data.Batches.Length, writers, TimeSpan.Zero, acknowledged);
                usage = await sampler.StopAsync();
            }

            RulesOutcome? outcome = webhooks is null ? null : await AwaitRulesAsync(server, webhooks, load.Rows, acknowledged);

            long commits = server.Store.Writer.Commits;
            long stored = CountRows(server.Store);
            if (stored != load.Rows)
            {
                throw new InvalidOperationException($"Plexus stored {stored} rows, not the {load.Rows} sent (writers {writers}, run {run})");
            }

            long lateRows = CountLateRows(server.Store);
            if (options.Rollups.Count > 0)
            {
                // What is left for the maintainer once the load ends: the windows touched since its last run.
                long catchUpStarted = Stopwatch.GetTimestamp();
                await server.RollupMaintainer.RunOnceAsync();
                Console.Error.WriteLine($"rollups {string.Join(',', options.Rollups)}: runs during the load {server.RollupMaintainer.Runs - 1}, catch-up run after it {Stopwatch.GetElapsedTime(catchUpStarted).TotalMilliseconds:F0} ms");
            }

            if (rules > 0)
            {
                var engine = server.RuleEngine.Statistics;
                log.WriteLine($"  rules {engine.Rules}: points evaluated {engine.Points}, writes dropped {engine.Dropped}, points dropped {engine.DroppedPoints}, open alarms {server.Alarms.OpenCount}; alarms opened by kind of rule: {AlarmsByKind(server.Store)}");
            }

            long checkpointStarted = Stopwatch.GetTimestamp();
            server.Store.Checkpoint();
            var checkpoint = Stopwatch.GetElapsedTime(checkpointStarted);
            long usedBytes;
            using (var connection = server.Store.OpenReadConnection())
            {
                usedBytes = DiskUsage.UsedBlockBytesOf(connection);
            }

            await server.StopAsync();
            var bytes = DiskUsage.Measure(directory, StorageOptions.DatabaseFileName) with { UsedBlockBytes = usedBytes };
            result = RunResult.Create(Targets.Plexus, writers, run, load.Rows, FieldValues(load.Rows), load.Wall, usage, load, commits, checkpoint, bytes, options.KeepData ? directory : null) with
            {
                LateRows = lateRows,
                Rules = rules,
                EngineCatchUpSeconds = outcome?.CatchUp.TotalSeconds,
                OpenAlarms = outcome?.OpenAlarms,
                WebhookCalls = outcome?.Latencies.Length,
                WebhookLatencyP50Ms = outcome is null ? null : HttpLoad.Percentile(outcome.Latencies, 0.5),
                WebhookLatencyP99Ms = outcome is null ? null : HttpLoad.Percentile(outcome.Latencies, 0.99),
                WebhookLatencyMaxMs = outcome is null || outcome.Latencies.Length == 0 ? null : outcome.Latencies[^1],
            };
        }
        finally
        {
            await server.DisposeAsync();
            if (webhooks is not null)
            {
                await webhooks.DisposeAsync();
            }
        }

        DeleteUnlessKept(directory);
        return result;
    }

    /// <summary>How long the engine took to evaluate every point once the load was acknowledged, and the webhook latencies (sorted).</summary>
    private sealed record RulesOutcome(TimeSpan CatchUp, int OpenAlarms, double[] Latencies);

    private static readonly TimeSpan MaxCatchUp = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Waits until the engine has evaluated every point of the load (or dropped it) and the webhook calls stop coming,
    /// then matches each call to the batch that held its triggering point: a call's latency is its arrival less that
    /// batch's acknowledgement, the client's view of the point's durable commit (the store commits before it answers).
    /// </summary>
    private async Task<RulesOutcome> AwaitRulesAsync(PlexusServer server, WebhookListener webhooks, long rows, long[] acknowledged)
    {
        long loadEnded = acknowledged.Max();
        var deadline = Stopwatch.GetTimestamp() + (long)(MaxCatchUp.TotalSeconds * Stopwatch.Frequency);
        long caughtUp = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var engine = server.RuleEngine.Statistics;
            if (engine.Points + engine.DroppedPoints >= rows && engine.Waiting == 0)
            {
                caughtUp = Stopwatch.GetTimestamp();
                break;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20), TimeProvider.System);
        }

        if (caughtUp == 0)
        {
            throw new InvalidOperationException($"the rule engine had not evaluated the {rows} points {MaxCatchUp.TotalMinutes} minutes after the load");
        }

        // Calls still on their way: done once none arrived for a second.
        int seen = -1;
        while (webhooks.Count != seen && Stopwatch.GetTimestamp() < deadline)
        {
            seen = webhooks.Count;
            await Task.Delay(TimeSpan.FromSeconds(1), TimeProvider.System);
        }

        var firstLineOfBatch = new long[data.Batches.Length];
        for (int i = 1; i < firstLineOfBatch.Length; i++)
        {
            firstLineOfBatch[i] = firstLineOfBatch[i - 1] + data.LinesPerBatch[i - 1];
        }

        long startNs = (TsbsIotDataSet.Start - DateTimeOffset.UnixEpoch).Ticks * 100;
        long intervalNs = TsbsIotDataSet.Interval.Ticks * 100;
        var latencies = new List<double>();
        foreach (var (arrived, body) in webhooks.Received)
        {
            using var json = JsonDocument.Parse(body);
            var alarm = json.RootElement.GetProperty("alarm");
            var values = alarm.GetProperty(json.RootElement.GetProperty("transition").GetString() == "opened" ? "raised_value" : "last_value");
            long timeNs = values.GetProperty("time_ns").GetInt64();
            int truck = int.Parse(json.RootElement.GetProperty("device").GetString()!.AsSpan("truck_".Length), CultureInfo.InvariantCulture);

            // The webhook rules watch readings, the first half of each tick's lines.
            long line = ((timeNs - startNs) / intervalNs * 2 * data.Trucks.Count) + truck;
            int batch = Array.BinarySearch(firstLineOfBatch, line);
            batch = batch >= 0 ? batch : ~batch - 1;
            latencies.Add(Stopwatch.GetElapsedTime(acknowledged[batch], arrived).TotalMilliseconds);
        }

        latencies.Sort();
        return new RulesOutcome(Stopwatch.GetElapsedTime(loadEnded, caughtUp), server.Alarms.OpenCount, [.. latencies]);
    }

    /// <summary>Alarms opened during the run per kind of rule (the name without its number), to show which of the mix fired.</summary>
    private static string AlarmsByKind(PlexusStore store)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT regexp_replace(rule, '-[0-9]+$', '') AS kind, count(*) AS n, count(DISTINCT rule) AS rules FROM _plexus.alarms GROUP BY kind ORDER BY n DESC";
        using var reader = command.ExecuteReader();
        var kinds = new List<string>();
        while (reader.Read())
        {
            kinds.Add(string.Create(CultureInfo.InvariantCulture, $"{reader.GetString(0)} {reader.GetInt64(1)} (of {reader.GetInt64(2)} rules)"));
        }

        return kinds.Count == 0 ? "none" : string.Join(", ", kinds);
    }

    private async Task<RunResult> RunDuckDbFloorAsync(int run)
    {
        string directory = Path.Combine(_root, string.Create(CultureInfo.InvariantCulture, $"duckdb-r{run}"));
        var floor = await DuckDbAppenderFloor.RunAsync(data, directory);
        var result = RunResult.Create(Targets.DuckDbAppender, 1, run, data.Rows, data.FieldValues, floor.Wall, floor.Usage, load: null, commits: 1, floor.Checkpoint, floor.Bytes, options.KeepData ? directory : null);
        DeleteUnlessKept(directory);
        return result;
    }

    /// <summary>
    /// Rows stored out of time order: in physical (rowid) order after a newer row of their series. With one writer
    /// this is 0; with several, a batch committed after a later one makes all its rows late. Most are appended, not
    /// merged (the store's per-series window of recent times tells them from duplicates), so they cost compression
    /// rather than the merge; rows the merge inserts are counted too. Reads the internal tables (measurement
    /// ids in _plexus.measurements, data tables _plexus.d{id}), so it follows the store's layout.
    /// </summary>
    private static long CountLateRows(PlexusStore store)
    {
        using var connection = store.OpenReadConnection();
        var ids = new List<int>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = $"SELECT id FROM {SqlNames.InternalSchema}.measurements WHERE namespace = {SqlNames.Literal(Namespace)}";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                ids.Add(reader.GetInt32(0));
            }
        }

        long late = 0;
        foreach (int id in ids)
        {
            using var command = connection.CreateCommand();
            string series = SqlNames.SeriesIdColumn;
            string time = SqlNames.TimeColumn;
            command.CommandText =
                $"SELECT count(*) FROM (SELECT {time} < max({time}) OVER (PARTITION BY {series} ORDER BY rowid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS late " +
                $"FROM {SqlNames.Qualified(SqlNames.DataTable(id))}) WHERE late";
            late += Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }

        return late;
    }

    private async Task<RunResult> RunParseOnlyAsync(int run)
    {
        var (wall, rows, usage) = await ParseOnlyStage.RunAsync(data, MinFloorDuration);
        return RunResult.Create(Targets.ParseOnly, 1, run, rows, FieldValues(rows), wall, usage, load: null, commits: null, checkpoint: null, bytes: null, dataDirectory: null);
    }

    private static long CountRows(PlexusStore store)
    {
        using var connection = store.OpenReadConnection();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT (SELECT count(*) FROM {Namespace}.{TsbsIotDataSet.ReadingsMeasurement}) + (SELECT count(*) FROM {Namespace}.{TsbsIotDataSet.DiagnosticsMeasurement})";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    // Every line of a batch is one row; the field count per row differs by measurement, but the floors
    // repeat whole passes, so the data set's average per row is exact for them.
    private long FieldValues(long rows) => rows == data.Rows ? data.FieldValues : (long)Math.Round((double)rows * data.FieldValues / data.Rows);

    private void DeleteUnlessKept(string directory)
    {
        if (!options.KeepData && Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private RunResult Print(RunResult result)
    {
        string bytes = result.BytesPerFieldValue is { } perValue ? string.Create(CultureInfo.InvariantCulture, $"  {perValue:F2} B/value ({result.UsedBytesPerFieldValue:F2} used)") : "";
        if (result.LateRows is { } late)
        {
            bytes += string.Create(CultureInfo.InvariantCulture, $"  {result.Commits} commits  {late:N0} late rows");
        }

        if (result.Target == Targets.Plexus)
        {
            bytes += string.Create(CultureInfo.InvariantCulture, $"  rules {result.Rules}");
        }

        if (result.WebhookCalls is { } calls)
        {
            bytes += string.Create(CultureInfo.InvariantCulture,
                $"  engine caught up {result.EngineCatchUpSeconds:F2} s after  {result.OpenAlarms} open alarms  {calls} webhooks");
            if (calls > 0)
            {
                bytes += string.Create(CultureInfo.InvariantCulture, $" p50 {result.WebhookLatencyP50Ms:F1} ms p99 {result.WebhookLatencyP99Ms:F1} ms max {result.WebhookLatencyMaxMs:F1} ms");
            }
        }

        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"run {result.Run} {result.Target,-15} writers {result.Writers}: {result.WallSeconds,7:F3} s  {result.RowsPerSecond,10:N0} rows/s  cpu {result.CpuSeconds,6:F2} s  peak {result.PeakWorkingSetBytes / 1048576.0,6:F0} MiB{bytes}"));
        if (result.DataDirectory is not null)
        {
            log.WriteLine($"  data kept in {result.DataDirectory}");
        }

        return result;
    }
}

internal static class Targets
{
    public const string HttpFloor = "http-floor";
    public const string Plexus = "plexus";
    public const string DuckDbAppender = "duckdb-appender";
    public const string ParseOnly = "parse-only";
}
