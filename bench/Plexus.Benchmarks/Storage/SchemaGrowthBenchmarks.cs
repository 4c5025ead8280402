using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using Plexus.Core;
using Plexus.Storage;

namespace Plexus.Benchmarks.Storage;

/// <summary>
/// How long the single writer is busy with one write that grows the schema by N measurements or columns: every other
/// writer waits that long. Each operation is one direct group on a fresh store (no limits), timed from the write to its
/// acknowledgement, so it holds the DDL, the view refresh, the first append and the commit. The baseline is a write of
/// one point into a measurement that exists. These figures are what the defaults of <see cref="SchemaLimits"/> rest on.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 1, iterationCount: 5)]
public class SchemaGrowthBenchmarks
{
    private static readonly SchemaLimits Unlimited = new()
    {
        MaxNamespaces = int.MaxValue,
        MaxMeasurementsPerNamespace = int.MaxValue,
        MaxColumnsPerMeasurement = int.MaxValue,
        MaxNewMeasurementsPerWrite = int.MaxValue,
        MaxNewColumnsPerWrite = int.MaxValue,
        MaxNewSeriesPerWrite = int.MaxValue,
    };

    private string _directory = "";
    private PlexusStore _store = null!;
    private PointBatch _batch = null!;

    [Params(10, 100, 256, 1000)]
    public int N { get; set; }

    [IterationSetup(Target = nameof(KnownMeasurement))]
    public void SetupKnown() => Setup(Point("existing", "f", 3, time: 2));

    [IterationSetup(Target = nameof(NewMeasurements))]
    public void SetupMeasurements()
    {
        var batch = new PointBatch();
        for (int i = 0; i < N; i++)
        {
            AddPoint(batch, "m" + i, "f", 1, time: 1);
        }

        Setup(batch);
    }

    [IterationSetup(Target = nameof(NewMeasurementWithNColumns))]
    public void SetupWide() => Setup(Point("wide", "f", N, time: 1));

    [IterationSetup(Target = nameof(NColumnsAddedToExisting))]
    public void SetupAdded() => Setup(Point("existing", "added", N, time: 2));

    [IterationCleanup]
    public void Cleanup()
    {
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public Task KnownMeasurement() => _store.Writer.WriteAsync("main", _batch);

    [Benchmark]
    public Task NewMeasurements() => _store.Writer.WriteAsync("main", _batch);

    [Benchmark]
    public Task NewMeasurementWithNColumns() => _store.Writer.WriteAsync("main", _batch);

    [Benchmark]
    public Task NColumnsAddedToExisting() => _store.Writer.WriteAsync("main", _batch);

    private void Setup(PointBatch batch)
    {
        _directory = Path.Combine(Path.GetTempPath(), "plexus-bench-schema-" + Guid.NewGuid().ToString("N"));

        // Every group direct, as a schema change always is.
        _store = PlexusStore.Open(new StorageOptions { DataDirectory = _directory, SchemaLimits = Unlimited, MinPointsForDirectCommit = 1 });
        _store.Writer.WriteAsync("main", Point("existing", "f", 3, time: 1)).GetAwaiter().GetResult();
        _batch = batch;
    }

    private static PointBatch Point(string measurement, string prefix, int fields, long time)
    {
        var batch = new PointBatch();
        AddPoint(batch, measurement, prefix, fields, time);
        return batch;
    }

    private static void AddPoint(PointBatch batch, string measurement, string prefix, int fields, long time)
    {
        batch.BeginPoint(Encoding.UTF8.GetBytes(measurement), batch.Count + 1);
        batch.AddTag(batch.AppendText("host"u8), batch.AppendText("a"u8));
        for (int i = 0; i < fields; i++)
        {
            batch.AddFloat(batch.AppendText(Encoding.UTF8.GetBytes(prefix + i)), i);
        }

        batch.EndPoint(time);
    }
}
