using System.Collections.Concurrent;
using System.Text;
using Plexus.Core;
using Plexus.Pipeline.Observers;
using Plexus.Storage;
using Plexus.Storage.Writing;
using Plexus.TestKit;

namespace Plexus.Pipeline.Tests;

public sealed class IngestPipelineTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _dir = new("plexus-pipeline");
    private PlexusStore _store = null!;
    private IngestPipeline _pipeline = null!;

    public Task InitializeAsync()
    {
        _store = PlexusStore.Open(new StorageOptions { DataDirectory = _dir.Path, Threads = 2 });
        _pipeline = new IngestPipeline(_store.Writer);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _store.DisposeAsync();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Observer_sees_every_stored_point_once_with_the_writes_origin()
    {
        var observer = new RecordingObserver();
        _pipeline.Observers.Add(observer);
        var origin = new IngestOrigin(IngestSource.HttpDevice, "pump-1");

        await _pipeline.For(origin).WriteAsync("main", new PointBuilder().Point("env", 1, null, ("t", 1.5)).Point("env", 2, null, ("t", 2.5)).Batch);
        await _pipeline.For(new IngestOrigin(IngestSource.HttpWrite)).WriteAsync("main", new PointBuilder().Point("env", 3, null, ("t", 3.5)).Batch);

        Assert.Equal(["main env 1 HttpDevice", "main env 2 HttpDevice", "main env 3 HttpWrite"], observer.Points);
        Assert.Equal(3L, StoreRows.Read(_store, "SELECT count(*) FROM main.env")[0][0]);
        Assert.Equal([origin, new IngestOrigin(IngestSource.HttpWrite)], observer.Origins);
    }

    [Fact]
    public async Task Points_the_store_refuses_are_marked_not_stored()
    {
        var observer = new RecordingObserver();
        _pipeline.Observers.Add(observer);
        await _pipeline.WriteAsync("main", new PointBuilder().Point("env", 1, null, ("t", 1.5)).Batch);
        observer.Points.Clear();

        // The second point's field is a string where the column is a float: refused, the others stored.
        var result = await _pipeline.WriteAsync("main", new PointBuilder()
            .Point("env", 2, null, ("t", 2.5))
            .Point("env", 3, null, ("t", "warm"))
            .Point("env", 4, null, ("t", 4.5)).Batch);

        Assert.Single(result.Rejected);
        Assert.Equal(["main env 2 Unspecified", "main env 4 Unspecified"], observer.Points);
    }

    [Fact]
    public async Task Reserved_points_are_refused_before_the_store_and_never_observed()
    {
        var observer = new RecordingObserver();
        _pipeline.Observers.Add(observer);

        var result = await _pipeline.WriteAsync("main", new PointBuilder().Point("devices", 1, null, ("v", 1.0)).Point("env", 2, null, ("t", 1.0)).Batch);

        Assert.Equal(1, result.PointsWritten);
        Assert.Equal(1, Assert.Single(result.Rejected).Line);
        Assert.Equal(["main env 2 Unspecified"], observer.Points);
    }

    [Fact]
    public async Task Internal_writes_skip_the_guards()
    {
        var result = await _pipeline.For(IngestOrigin.Internal).WriteAsync("main", new PointBuilder().Point("devices", 1, null, ("v", 1.0)).Batch);

        Assert.Equal(1, result.PointsWritten);
    }

    [Fact]
    public async Task A_throwing_observer_loses_nothing_and_the_next_observer_still_sees_the_write()
    {
        var failing = new ThrowingObserver();
        var after = new RecordingObserver();
        _pipeline.Observers.Add(failing);
        _pipeline.Observers.Add(after);

        var result = await _pipeline.WriteAsync("main", new PointBuilder().Point("env", 1, null, ("t", 1.5)).Batch);

        Assert.Equal(1, result.PointsWritten);
        Assert.Equal(["main env 1 Unspecified"], after.Points);
        Assert.Equal(1L, StoreRows.Read(_store, "SELECT count(*) FROM main.env")[0][0]);
        var statistics = _pipeline.Observers.Statistics;
        Assert.Equal(("throwing", 1L, 1L), (statistics[0].Name, statistics[0].Calls, statistics[0].Failures));
        Assert.Equal(0L, statistics[1].Failures);
    }

    [Fact]
    public async Task Schema_reaction_runs_once_per_write_that_changed_the_schema_before_it_is_acknowledged()
    {
        int reactions = 0;
        bool tableVisibleToReaction = false;
        _pipeline.OnSchemaChanged("count", () =>
        {
            reactions++;
            tableVisibleToReaction = StoreRows.Read(_store, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'env'")[0][0] is 1L;
        });

        await _pipeline.WriteAsync("main", new PointBuilder().Point("env", 1, null, ("t", 1.5)).Batch);
        Assert.Equal(1, reactions);
        Assert.True(tableVisibleToReaction);

        await _pipeline.WriteAsync("main", new PointBuilder().Point("env", 2, null, ("t", 2.5)).Batch);
        Assert.Equal(1, reactions);

        await _pipeline.WriteAsync("main", new PointBuilder().Point("env", 3, null, ("t", 2.5), ("h", 40.0)).Batch);
        Assert.Equal(2, reactions);
    }

    [Fact]
    public void A_store_takes_one_pipeline()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new IngestPipeline(_store.Writer));
        Assert.Contains("one pipeline per store", error.Message, StringComparison.Ordinal);
    }

    private sealed class RecordingObserver : IIngestObserver
    {
        public List<string> Points { get; } = [];

        public List<IngestOrigin> Origins { get; } = [];

        public string Name => "recording";

        public void OnStored(in CommittedWrite write)
        {
            Origins.Add(write.Origin);
            for (int i = 0; i < write.Batch.Count; i++)
            {
                if (write.IsStored(i))
                {
                    Points.Add($"{write.Namespace} {Encoding.UTF8.GetString(write.Batch.Text(write.Batch[i].Measurement))} {write.Batch[i].Timestamp} {write.Origin.Source}");
                }
            }
        }
    }

    private sealed class ThrowingObserver : IIngestObserver
    {
        public string Name => "throwing";

        public void OnStored(in CommittedWrite write) => throw new InvalidOperationException("observer bug");
    }
}

public sealed class QueuedObserverTests
{
    [Fact]
    public async Task A_full_queue_drops_new_items_and_counts_them_while_the_writer_goes_on()
    {
        var gate = new TaskCompletionSource();
        await using var observer = new GatedObserver(capacity: 2, gate.Task);

        // The first item is taken by the worker and blocks there; two fill the queue; the rest are dropped.
        observer.Offer(1);
        await Eventually.TrueAsync(() => observer.Started.Count == 1);
        for (int i = 2; i <= 6; i++)
        {
            observer.Offer(i);
        }

        Assert.Equal(3, observer.Dropped);
        Assert.Equal(2, observer.Waiting);
        gate.SetResult();
        await Eventually.TrueAsync(() => observer.Processed.Count == 3);
        Assert.Equal([1, 2, 3], observer.Processed.Order());
    }

    [Fact]
    public async Task A_failing_item_is_logged_and_the_next_is_processed()
    {
        await using var observer = new GatedObserver(capacity: 4, Task.CompletedTask, failOn: 1);

        observer.Offer(1);
        observer.Offer(2);

        await Eventually.TrueAsync(() => observer.Processed.Contains(2));
        Assert.DoesNotContain(1, observer.Processed);
    }

    private sealed class GatedObserver(int capacity, Task gate, int failOn = -1) : QueuedObserver<int>("gated", capacity)
    {
        public ConcurrentQueue<int> Started { get; } = new();

        public ConcurrentQueue<int> Processed { get; } = new();

        public void Offer(int item) => Enqueue(item);

        protected override void Extract(in CommittedWrite write)
        {
        }

        protected override async ValueTask ProcessAsync(int item)
        {
            Started.Enqueue(item);
            await gate;
            if (item == failOn)
            {
                throw new InvalidOperationException("item failed");
            }

            Processed.Enqueue(item);
        }
    }
}
