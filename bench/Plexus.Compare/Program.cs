using System.Runtime.InteropServices;
using Plexus.Compare;
using Plexus.Compare.Systems;
using Spectre.Console;

CompareOptions options;
try
{
    options = CompareOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    Console.Error.WriteLine(CompareOptions.Usage);
    return 2;
}

// Whatever happens (Ctrl+C, SIGTERM, a crash), the servers we started are stopped by PID.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; cancellation.Cancel(); });
AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
AppDomain.CurrentDomain.UnhandledException += (_, _) => ChildProcess.KillAll();

var startedAt = TimeProvider.System.GetUtcNow();
try
{
    AnsiConsole.MarkupLineInterpolated($"Reading {options.DataFile} …");
    var dataSet = FleetDataSet.Load(options.DataFile);
    AnsiConsole.MarkupLineInterpolated($"  {dataSet.Rows:N0} rows ({dataSet.ReadingsRows:N0} readings, {dataSet.DiagnosticsRows:N0} diagnostics), {dataSet.FieldValues:N0} field values (+ {dataSet.FakeTagValues:N0} numeric-tag fields), {dataSet.Trucks:N0} trucks, {dataSet.Bytes / 1048576.0:0.0} MiB");

    var start = DateTimeOffset.FromUnixTimeMilliseconds(dataSet.MinTimeNs / 1_000_000);
    var end = DateTimeOffset.FromUnixTimeMilliseconds(dataSet.MaxTimeNs / 1_000_000);
    // TSBS draws the windows at random; we fix them so every system and every run answers the same question:
    // the 10-minute window on the data's grid nearest the middle of the range.
    var window = new QueryWindow(options.Fleet, start, end, start.AddMinutes(Math.Floor((end - start).TotalMinutes / 2 / 10) * 10));

    using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2), UseProxy = false };
    using var http = new HttpClient(handler) { Timeout = TimeSpan.FromMinutes(10) };
    Directory.CreateDirectory(options.WorkDirectory);
    var runner = new Runner(options, dataSet, http);
    var results = new List<SystemResult>();
    foreach (var name in options.Systems)
    {
        BenchSystem system = name switch
        {
            "plexus" => new PlexusSystem(http, options.PlexusExecutable, options.AdminToken, options.PlexusVersion),
            "plexus-tsbs" => new PlexusTsbsSystem(http, options.PlexusExecutable, options.AdminToken, options.PlexusVersion),
            "influxdb" => new InfluxDbSystem(http, options.InfluxdExecutable, Machine.PackageVersion("influxdb")),
            "victoriametrics" => new VictoriaMetricsSystem(http, options.VictoriaMetricsExecutable, Machine.PackageVersion("victoria-metrics")),
            _ => new ClickHouseSystem(http, options.ClickHouseExecutable, Machine.PackageVersion("clickhouse-server")),
        };
        AnsiConsole.MarkupLineInterpolated($"[bold]{system.Name}[/] {system.Version}");
        results.Add(await runner.RunAsync(system, window, cancellation.Token));
    }

    // Plexus and ClickHouse express every query with the same semantics: their answers must agree.
    var checks = new List<string>();
    var plexus = results.FirstOrDefault(r => r.Name == "plexus");
    var clickhouse = results.FirstOrDefault(r => r.Name == "clickhouse");
    if (plexus is not null && clickhouse is not null)
    {
        foreach (var q in plexus.Queries)
        {
            var other = clickhouse.Queries.FirstOrDefault(c => c.Name == q.Name);
            string line = $"{q.Name}: plexus {q.Rows?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "error"} rows, clickhouse {other?.Rows?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "error"} rows";
            checks.Add((q.Rows is not null && q.Rows == other?.Rows ? "agree   " : "MISMATCH ") + line);
        }
    }

    AnsiConsole.WriteLine();
    Report.Console(results, options.Writers);
    foreach (var line in checks)
    {
        AnsiConsole.WriteLine(line);
    }

    foreach (var r in results.Where(r => r.Errors.Count > 0))
    {
        AnsiConsole.MarkupLineInterpolated($"[red]{r.Name}:[/] {string.Join("; ", r.Errors)}");
    }

    string output = options.Output ?? Path.Combine(RepositoryRoot(), "bench", "results", $"compare-{startedAt:yyyyMMdd-HHmmss}.json");
    var document = new
    {
        StartedAt = startedAt,
        FinishedAt = TimeProvider.System.GetUtcNow(),
        Machine = Machine.Describe(),
        Parameters = new
        {
            options.DataFile,
            options.DataLabel,
            options.Writers,
            options.Runs,
            options.BatchSize,
            options.QueryRuns,
            options.Fleet,
            StationaryWindow = new { From = window.StationaryStart, To = window.StationaryEnd },
        },
        DataSet = new { dataSet.Rows, dataSet.ReadingsRows, dataSet.DiagnosticsRows, dataSet.FieldValues, dataSet.FakeTagValues, dataSet.Trucks, dataSet.Bytes, Start = start, End = end },
        Systems = results,
        AnswerChecks = checks,
        Markdown = Report.Markdown(results, options.Writers),
    };
    await Report.WriteJsonAsync(output, document, CancellationToken.None);
    await File.WriteAllTextAsync(Path.ChangeExtension(output, ".md"), Report.Markdown(results, options.Writers) + "\n" + string.Join("\n", checks) + "\n");
    AnsiConsole.MarkupLineInterpolated($"Results: {output} (+ .md)");
    return checks.Any(c => c.StartsWith("MISMATCH", StringComparison.Ordinal)) ? 3 : 0;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled: stopping the servers");
    return 130;
}
finally
{
    ChildProcess.KillAll();
}

static string RepositoryRoot()
{
    for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "Plexus.slnx")))
        {
            return dir.FullName;
        }
    }

    return Environment.CurrentDirectory;
}
