using System.Text;
using Plexus.Simulator.Tests.TestSupport;

namespace Plexus.Simulator.Tests.Output;

public sealed class FleetRunTests
{
    [Fact]
    public async Task As_fast_as_possible_the_run_writes_exactly_what_the_simulator_makes()
    {
        var options = Fleet.Options(trucks: 50, TimeSpan.FromHours(1), seed: 8);
        byte[] expected = Fleet.Bytes(options, FleetFormat.LineProtocol);

        var simulator = new FleetSimulator(options);
        var output = new MemoryStream();
        using var writer = new FleetRowWriter(output, FleetFormatters.Create(FleetFormat.LineProtocol, simulator.Trucks), bufferSize: 16 * 1024);
        int flushes = 0, progress = 0;
        await FleetRun.RunAsync(simulator, writer, new FleetRunOptions
        {
            AfterFlush = _ =>
            {
                flushes++;
                return ValueTask.CompletedTask;
            },
            Progress = () => progress++,
        });

        Assert.Equal(expected, output.ToArray());
        Assert.Equal(1, flushes); // only at the end when not in real time
        Assert.True(progress > 10, "progress is reported as buffers fill");
        Assert.True(simulator.IsFinished);
        Assert.Equal(simulator.TotalEntries, simulator.EntriesGenerated);
    }

    [Fact]
    public async Task In_real_time_each_tick_is_flushed_when_the_clock_reaches_it()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30)); // a hang fails instead of blocking the run
        var start = Fleet.Start;
        var clock = new ManualTimeProvider(start);
        var options = Fleet.Options(trucks: 4, TimeSpan.FromSeconds(30), FleetChaosOptions.None);
        var simulator = new FleetSimulator(options);
        var output = new MemoryStream();
        using var writer = new FleetRowWriter(output, FleetFormatters.Create(FleetFormat.LineProtocol, simulator.Trucks));
        var ticks = new List<(DateTimeOffset At, string[] Lines)>();
        var run = FleetRun.RunAsync(simulator, writer, new FleetRunOptions
        {
            Realtime = clock,
            AfterFlush = _ =>
            {
                var lines = Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
                ticks.Add((clock.GetUtcNow(), lines));
                output.SetLength(0);
                return ValueTask.CompletedTask;
            },
        });

        // Tick 0 is due at once; then the run waits 10 s for each following tick.
        for (int tick = 1; tick < 3; tick++)
        {
            var wait = await clock.TimersCreated.Reader.ReadAsync(deadline.Token);
            Assert.Equal(TimeSpan.FromSeconds(10), wait);
            Assert.Equal(tick, ticks.Count);
            Assert.False(run.IsCompleted);
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        await run;
        Assert.Equal(3, ticks.Count);
        for (int tick = 0; tick < 3; tick++)
        {
            Assert.Equal(start.AddSeconds(10 * tick), ticks[tick].At);
            Assert.Equal(8, ticks[tick].Lines.Length); // 4 trucks × 2 measurements
            long expected = Fleet.UnixNanoseconds(start.AddSeconds(10 * tick));
            Assert.All(ticks[tick].Lines, line => Assert.EndsWith($" {expected}", line, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task In_real_time_late_rows_go_out_with_the_tick_they_are_emitted_in()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var clock = new ManualTimeProvider(Fleet.Start);
        var options = Fleet.Options(trucks: 3, TimeSpan.FromMinutes(2), seed: 2);
        var simulator = new FleetSimulator(options);
        var output = new MemoryStream();
        using var writer = new FleetRowWriter(output, FleetFormatters.Create(FleetFormat.LineProtocol, simulator.Trucks));
        long sentUpTo = 0;
        var run = FleetRun.RunAsync(simulator, writer, new FleetRunOptions
        {
            Realtime = clock,
            AfterFlush = _ =>
            {
                long now = FleetRun.UnixNanoseconds(clock);
                foreach (var line in Encoding.UTF8.GetString(output.ToArray()).Split('\n', StringSplitOptions.RemoveEmptyEntries))
                {
                    long timestamp = long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                    Assert.True(timestamp <= now, "no row is sent before its time");
                }

                sentUpTo = now;
                output.SetLength(0);
                return ValueTask.CompletedTask;
            },
        });

        while (!run.IsCompleted)
        {
            var reading = clock.TimersCreated.Reader.ReadAsync(deadline.Token).AsTask();
            if (await Task.WhenAny(reading, run) == run)
            {
                break;
            }

            clock.Advance(await reading);
        }

        await run;
        Assert.True(sentUpTo >= Fleet.UnixNanoseconds(Fleet.Start.AddSeconds(110)));
    }

    [Fact]
    public async Task Cancellation_stops_a_run()
    {
        var simulator = new FleetSimulator(Fleet.Options(trucks: 100, TimeSpan.FromDays(30)));
        using var writer = new FleetRowWriter(Stream.Null, FleetFormatters.Create(FleetFormat.LineProtocol, simulator.Trucks));
        using var cancel = new CancellationTokenSource();
        var run = FleetRun.RunAsync(simulator, writer, new FleetRunOptions { Progress = () => cancel.Cancel() }, cancel.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        Assert.False(simulator.IsFinished);
    }
}
