using System.Net.Http.Headers;

namespace Plexus.Compare.Systems;

/// <summary>One query as a system expresses it: text, or null when the system cannot express it (with why).</summary>
internal sealed record QuerySpec(string Name, string? Text, string Note = "");

/// <summary>Where the TSBS query windows fall in the data set (TSBS picks them at random; we fix them, see docs).</summary>
internal sealed record QueryWindow(string Fleet, DateTimeOffset DataStart, DateTimeOffset DataEnd, DateTimeOffset StationaryStart)
{
    public DateTimeOffset StationaryEnd => StationaryStart.AddMinutes(10);

    /// <summary>A look-back that covers every row, for the systems that query "as of" an instant.</summary>
    public long WholeRangeSeconds => (long)(DataEnd - DataStart).TotalSeconds + 10;
}

/// <summary>
/// A server under test: started as a child process on 127.0.0.1 with its data and configuration in a fresh folder,
/// loaded over HTTP, settled, measured on disk and queried over HTTP.
/// </summary>
internal abstract class BenchSystem
{
    protected BenchSystem(HttpClient http)
    {
        Http = http;
    }

    public abstract string Name { get; }

    public string Version { get; protected set; } = "?";

    public ChildProcess? Process { get; protected set; }

    protected HttpClient Http { get; }

    protected int Port { get; set; }

    protected Uri BaseUri => new($"http://127.0.0.1:{Port}/");

    /// <summary>The folder holding this run's data (the whole of it is what "on disk" measures unless overridden).</summary>
    public string RunDirectory { get; private set; } = "";

    public virtual string DataDirectory => Path.Combine(RunDirectory, "data");

    /// <summary>How "settled" is defined for this system, for the report and the docs.</summary>
    public abstract string SettleDefinition { get; }

    public async Task StartAsync(string runDirectory, CancellationToken cancellationToken)
    {
        RunDirectory = runDirectory;
        Directory.CreateDirectory(runDirectory);
        Directory.CreateDirectory(DataDirectory);
        Port = Support.FreePort();
        await LaunchAsync(cancellationToken);
    }

    /// <summary>Starts the process (on <see cref="Port"/>) and waits for it to answer, with a deadline.</summary>
    protected abstract Task LaunchAsync(CancellationToken cancellationToken);

    protected async Task WaitReadyAsync(string path, Func<HttpResponseMessage, string, bool> isReady, CancellationToken cancellationToken)
    {
        await Support.UntilAsync($"{Name} ready on port {Port}", TimeSpan.FromSeconds(60), async () =>
        {
            using var response = await Http.GetAsync(new Uri(BaseUri, path), cancellationToken);
            return isReady(response, await response.Content.ReadAsStringAsync(cancellationToken));
        }, cancellationToken, () => Process?.HasExited == true);
    }

    /// <summary>Creates the database / tables before the load (not timed).</summary>
    public virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract List<LoadBatch> Batches(FleetDataSet dataSet, int batchSize);

    public abstract HttpRequestMessage WriteRequest(LoadBatch batch);

    /// <summary>Brings the data to its settled state and returns the bytes it takes on disk. May restart the server.</summary>
    public abstract Task<DiskUsage> SettleAndMeasureAsync(CancellationToken cancellationToken);

    public abstract IReadOnlyList<QuerySpec> Queries(QueryWindow window);

    /// <summary>Runs one query and returns the number of result rows (series for VictoriaMetrics).</summary>
    public abstract Task<int> QueryAsync(string text, CancellationToken cancellationToken);

    /// <summary>Rows stored, for the sanity check after a load (null when the system cannot count them cheaply).</summary>
    public virtual Task<long?> StoredRowsAsync(CancellationToken cancellationToken) => Task.FromResult<long?>(null);

    public async Task StopAsync()
    {
        if (Process is { } process)
        {
            await process.StopAsync(TimeSpan.FromSeconds(60));
            process.Dispose();
            Process = null;
        }
    }

    protected async Task RestartAsync(CancellationToken cancellationToken)
    {
        await StopAsync();
        await LaunchAsync(cancellationToken);
    }

    protected static ByteArrayContent Body(byte[] bytes, string mediaType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    protected static string Log(string runDirectory, string name) => Path.Combine(runDirectory, name + ".log");
}
