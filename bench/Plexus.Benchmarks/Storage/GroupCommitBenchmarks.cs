using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Plexus.Core;
using Plexus.Ingest;
using Plexus.Ingest.LineProtocol;
using Plexus.Storage;

namespace Plexus.Benchmarks.Storage;

/// <summary>
/// One direct group commit (no write log) of TSBS-like readings — 100 trucks, two tags, five fields, new times every
/// commit — at group sizes a writer sees when it keeps up (2,000 points) and when it falls behind (8,000 and 32,000).
/// The time per point should not grow with the group: a writer that pays more per point when it has more points
/// falls further behind. Under load, run it in process (`--inProcess`): building the boilerplate can time out.
/// </summary>
public class GroupCommitBenchmarks : IDisposable
{
    private const int Trucks = 100;

    private string _directory = "";
    private PlexusStore _store = null!;
    private PointBatch _batch = null!;
    private readonly LineErrorSink _errors = new();
    private long _nextTime = 1_451_606_400_000_000_000;

    [Params(2_000, 8_000, 32_000)]
    public int GroupPoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "plexus-bench-commit-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _store = PlexusStore.Open(new StorageOptions { DataDirectory = _directory, WriteLog = false });
        _batch = new PointBatch(GroupPoints);
    }

    /// <summary>Decodes the next group outside the measurement, each with times after the last, so no point merges.</summary>
    [IterationSetup]
    public void NextGroup()
    {
        var text = new StringBuilder(GroupPoints * 120);
        for (int i = 0; i < GroupPoints; i++)
        {
            int truck = i % Trucks;
            long time = _nextTime + ((i / Trucks) * 10_000_000_000L);
            text.Append(CultureInfo.InvariantCulture,
                $"readings,name=truck_{truck},fleet=f{truck % 5} latitude={truck * 0.37:F5},longitude={truck * -0.73:F5},velocity={i % 97},fuel_state={(i % 10) / 10.0:F1},load_capacity=1500i {time}\n");
        }

        _nextTime += ((GroupPoints / Trucks) + 1) * 10_000_000_000L;
        _batch.Reset();
        _errors.Reset();
        LineProtocolParser.Parse(Encoding.UTF8.GetBytes(text.ToString()), 1, new LineProtocolOptions(TimePrecision.Nanoseconds, 0), _batch, _errors);
        if (_errors.Count != 0 || _batch.Count != GroupPoints)
        {
            throw new InvalidOperationException($"the group did not decode cleanly: {_errors.Count} errors, {_batch.Count} points");
        }
    }

    [Benchmark]
    public long Commit() => _store.Writer.WriteAsync("main", _batch).GetAwaiter().GetResult().PointsWritten;

    [GlobalCleanup]
    public void Dispose()
    {
        _store?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }
}
