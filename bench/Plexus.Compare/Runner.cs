using System.Diagnostics;
using Plexus.Compare.Systems;
using Spectre.Console;

namespace Plexus.Compare;

/// <summary>
/// For each system in turn: for each writer count, <c>--runs</c> loads each on a fresh empty data folder; after the
/// last load of the first writer count, settle, measure the disk, check the stored row count and time the queries.
/// </summary>
internal sealed class Runner(CompareOptions options, FleetDataSet dataSet, HttpClient http)
{
    public async Task<SystemResult> RunAsync(BenchSystem system, QueryWindow window, CancellationToken cancellationToken)
    {
        var result = new SystemResult { Name = system.Name, Version = system.Version, SettleDefinition = system.SettleDefinition };
        List<LoadBatch> batches;
        try
        {
            batches = system.Batches(dataSet, options.BatchSize);
        }
        catch (InvalidDataException e)
        {
            result.Errors.Add("preparing the load: " + e.Message);
            return result;
        }

        foreach (int writers in options.Writers)
        {
            for (int run = 1; run <= options.Runs; run++)
            {
                bool measureRest = writers == options.Writers[0] && run == options.Runs;
                string folder = Path.Combine(options.WorkDirectory, $"{system.Name}-w{writers}-r{run}");
                if (Directory.Exists(folder))
                {
                    Directory.Delete(folder, recursive: true);
                }

                try
                {
                    await system.StartAsync(folder, cancellationToken);
                    await system.PrepareAsync(cancellationToken);
                    var ingest = await LoadAsync(system, batches, writers, run, cancellationToken);
                    result.Runs.Add(ingest);
                    AnsiConsole.MarkupLineInterpolated($"  {system.Name} writers={writers} run {run}: [bold]{ingest.RowsPerSecond:N0}[/] rows/s, {ingest.Seconds:0.00} s, CPU {ingest.CpuSeconds:0.0} s, peak RSS {ingest.PeakRssBytes / 1048576.0:0} MiB");
                    if (measureRest)
                    {
                        await SettleQueryAsync(system, result, window, cancellationToken);
                    }
                }
                catch (Exception e) when (e is InvalidOperationException or HttpRequestException or TimeoutException or IOException or System.Text.Json.JsonException or KeyNotFoundException)
                {
                    result.Errors.Add($"writers={writers} run {run}: {e.Message}");
                    AnsiConsole.MarkupLineInterpolated($"  [red]{system.Name} writers={writers} run {run} failed:[/] {e.Message}");
                }
                finally
                {
                    await system.StopAsync();
                    if (!options.KeepData && Directory.Exists(folder))
                    {
                        Directory.Delete(folder, recursive: true);
                    }
                }
            }
        }

        return result;
    }

    private async Task<IngestRun> LoadAsync(BenchSystem system, List<LoadBatch> batches, int writers, int run, CancellationToken cancellationToken)
    {
        var process = system.Process!;
        double cpuBefore = process.CpuSeconds();
        int next = -1;
        var clock = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            while (true)
            {
                int index = Interlocked.Increment(ref next);
                if (index >= batches.Count)
                {
                    return;
                }

                using var request = system.WriteRequest(batches[index]);
                using var response = await http.SendAsync(request, cancellationToken);
                if (!response.IsSuccessStatusCode)
                {
                    await Support.ReadOrThrowAsync(response, $"{system.Name} write of batch {index}", cancellationToken);
                }
            }
        }, cancellationToken)).ToArray();
        await Task.WhenAll(tasks);
        double seconds = clock.Elapsed.TotalSeconds;
        double cpu = process.CpuSeconds() - cpuBefore;
        long rows = batches.Sum(b => (long)b.Rows);
        return new IngestRun(system.Name, writers, run, rows, seconds, rows / seconds, dataSet.FieldValues / seconds, cpu, process.PeakRssBytes(), batches.Count);
    }

    private async Task SettleQueryAsync(BenchSystem system, SystemResult result, QueryWindow window, CancellationToken cancellationToken)
    {
        var usage = await system.SettleAndMeasureAsync(cancellationToken);
        result.DiskBytes = usage.AllocatedBytes;
        result.DiskApparentBytes = usage.ApparentBytes;
        result.BytesPerValue = (double)usage.AllocatedBytes / dataSet.FieldValues;
        AnsiConsole.MarkupLineInterpolated($"  {system.Name} settled: {usage.AllocatedBytes / 1048576.0:0.0} MiB allocated ({usage.ApparentBytes / 1048576.0:0.0} MiB of file lengths), {result.BytesPerValue:0.00} B/value");
        result.StoredRows = await system.StoredRowsAsync(cancellationToken);
        if (result.StoredRows is { } stored && stored != dataSet.Rows)
        {
            // Not an error: Plexus, InfluxDB and VictoriaMetrics keep one row per (series, time); the simulator can emit a
            // repeated key (TSBS chaos), which ClickHouse's MergeTree keeps twice.
            AnsiConsole.MarkupLineInterpolated($"  {system.Name}: {stored:N0} rows stored of {dataSet.Rows:N0} sent (repeated series+time keys merged)");
        }

        double cpuBefore = system.Process!.CpuSeconds();
        foreach (var spec in system.Queries(window))
        {
            result.Queries.Add(await TimeQueryAsync(system, spec, cancellationToken));
        }

        result.QueryPhaseCpuSeconds = system.Process.CpuSeconds() - cpuBefore;
        // A restart (Plexus, InfluxDB settle) resets VmHWM: the peak is the larger of the load's and the query phase's.
        result.PeakRssBytesWithQueries = Math.Max(system.Process.PeakRssBytes(), result.Runs[^1].PeakRssBytes);
    }

    private async Task<QueryResult> TimeQueryAsync(BenchSystem system, QuerySpec spec, CancellationToken cancellationToken)
    {
        if (spec.Text is null)
        {
            return new QueryResult(spec.Name, null, spec.Note, null, null, null, null, [], null);
        }

        try
        {
            int rows = await system.QueryAsync(spec.Text, cancellationToken); // warm-up
            var samples = new List<double>();
            for (int i = 0; i < options.QueryRuns; i++)
            {
                var clock = Stopwatch.StartNew();
                int again = await system.QueryAsync(spec.Text, cancellationToken);
                samples.Add(clock.Elapsed.TotalMilliseconds);
                if (again != rows)
                {
                    throw new InvalidOperationException($"row count changed between runs: {rows} then {again}");
                }
            }

            var summary = Summary.Of(samples)!;
            AnsiConsole.MarkupLineInterpolated($"    {spec.Name}: {summary.Median:0.0} ms, {rows} rows");
            return new QueryResult(spec.Name, spec.Text, spec.Note, rows, summary.Median, summary.Min, summary.Max, samples, null);
        }
        catch (Exception e) when (e is InvalidOperationException or HttpRequestException or System.Text.Json.JsonException or KeyNotFoundException or TaskCanceledException)
        {
            AnsiConsole.MarkupLineInterpolated($"    [red]{spec.Name} failed:[/] {e.Message}");
            return new QueryResult(spec.Name, spec.Text, spec.Note, null, null, null, null, [], e.Message);
        }
    }
}
