using System.Globalization;
using DuckDB.NET.Data;

namespace Plexus.LoadBench;

/// <summary>
/// Ingest load benchmark: a TSBS-IoT-like data set posted to an in-process Plexus server over real HTTP,
/// against two floors measured in the same run (bench/README.md, "Ingest load benchmark").
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        LoadBenchOptions options;
        try
        {
            options = LoadBenchOptions.Parse(args);
        }
        catch (Exception error) when (error is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync(error.Message);
            await Console.Error.WriteLineAsync(LoadBenchOptions.Usage);
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(LoadBenchOptions.Usage);
            return 0;
        }

        var startedUtc = TimeProvider.System.GetUtcNow();
        var output = Console.Out;
        var data = TsbsIotDataSet.Generate(options.Trucks, options.Hours, options.BatchSize, options.Seed, typedRows: options.DuckDbFloor);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"data: {options.Trucks} trucks × {data.Ticks} ticks of 10 s = {data.Rows:N0} rows ({data.FieldValues:N0} field values), " +
            $"{data.Batches.Length} batches of ≤ {options.BatchSize:N0} lines, {data.BodyBytes / 1048576.0:F1} MiB of line protocol ({(double)data.BodyBytes / data.Rows:F0} B/line), generated in {data.GenerationTime.TotalSeconds:F1} s"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"machine: {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}; writers {string.Join(",", options.Writers)}, runs {options.Runs}"));

        List<RunResult> runs;
        try
        {
            runs = await new LoadBenchRunner(options, data, output).RunAllAsync();
        }
        catch (InvalidOperationException error)
        {
            await Console.Error.WriteLineAsync("benchmark failed: " + error.Message);
            return 1;
        }

        var summaries = Report.Summarize(runs);
        output.WriteLine();
        output.WriteLine(Report.Tables(summaries));

        string path = options.OutputPath ?? DefaultOutputPath(startedUtc);
        await Report.WriteJsonAsync(path, options, data, startedUtc, DuckDbVersion(), runs, summaries);
        output.WriteLine("results: " + Path.GetFullPath(path));
        return 0;
    }

    // bench/results/ of the repository when run from inside it (it is git-ignored), else the current folder.
    private static string DefaultOutputPath(DateTimeOffset startedUtc)
    {
        string name = "load-" + startedUtc.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".json";
        for (var folder = new DirectoryInfo(Directory.GetCurrentDirectory()); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Directory.Packages.props")) && Directory.Exists(Path.Combine(folder.FullName, "bench")))
            {
                return Path.Combine(folder.FullName, "bench", "results", name);
            }
        }

        return name;
    }

    private static string DuckDbVersion()
    {
        using var connection = new DuckDBConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT version()";
        return command.ExecuteScalar()?.ToString() ?? "unknown";
    }
}
