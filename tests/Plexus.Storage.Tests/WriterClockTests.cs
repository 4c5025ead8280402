using Microsoft.Extensions.Time.Testing;
using Plexus.TestKit;

namespace Plexus.Storage.Tests;

/// <summary>The writer's timing (when the log is applied) on an injected clock, so no test waits for real time.</summary>
public sealed class WriterClockTests : IDisposable
{
    private readonly TempDirectory _dir = new("plexus-clock");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Logged_writes_reach_the_database_when_the_apply_interval_passes_on_the_writers_clock()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        await using var store = PlexusStore.Open(new StorageOptions
        {
            DataDirectory = _dir.Path,
            Threads = 1,
            LogApplyInterval = TimeSpan.FromMinutes(1),
            Time = clock,
        });

        // The first write creates the measurement (committed directly); the next ones only reach the log.
        await LogFolders.WriteSeriesAsync(store, 1, 5);
        long applies = store.Writer.LogApplies;
        clock.Advance(TimeSpan.FromSeconds(59));
        await LogFolders.WriteSeriesAsync(store, 6, 1);
        Assert.Equal(applies, store.Writer.LogApplies);

        clock.Advance(TimeSpan.FromSeconds(1));

        await Eventually.TrueAsync(() => Task.FromResult(store.Writer.LogApplies > applies), TimeSpan.FromSeconds(10), "the writer applied the log once a minute had passed on its clock");
        Assert.Equal(6, LogFolders.Scalar(store, "SELECT count(*) FROM main.env"));
    }
}
