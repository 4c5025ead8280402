namespace Plexus.Simulator;

/// <summary>How <see cref="FleetRun.RunAsync"/> paces and reports.</summary>
public sealed class FleetRunOptions
{
    /// <summary>
    /// When set, rows are paced by this clock: a row is written once the clock has reached its timestamp, so each
    /// tick goes out at its wall-clock time (late, out-of-order rows go out with the tick they are emitted in).
    /// When null, rows are written as fast as they are made.
    /// </summary>
    public TimeProvider? Realtime { get; init; }

    /// <summary>
    /// Called after the writer has flushed everything to its stream: after each tick in real time, and once at the end.
    /// A live sender hands the flushed bytes on from here.
    /// </summary>
    public Func<CancellationToken, ValueTask>? AfterFlush { get; init; }

    /// <summary>Called now and then (after each buffer written and each tick) so a progress bar can read <see cref="FleetSimulator.EntriesGenerated"/>.</summary>
    public Action? Progress { get; init; }
}

/// <summary>Drives a simulator into a writer: as fast as possible, or in real time against a clock.</summary>
public static class FleetRun
{
    /// <summary>
    /// Writes every row of <paramref name="simulator"/> to <paramref name="writer"/> and flushes it. Cancellation stops
    /// between rows; rows already formatted are then not flushed.
    /// </summary>
    public static async Task RunAsync(FleetSimulator simulator, FleetRowWriter writer, FleetRunOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(simulator);
        ArgumentNullException.ThrowIfNull(writer);
        options ??= new FleetRunOptions();
        var clock = options.Realtime;
        long rowsSinceCancellationCheck = 0;
        while (simulator.TryRead(out var row))
        {
            if (clock is not null && row.Timestamp > UnixNanoseconds(clock))
            {
                // The tick before this row is complete: send it, then wait for this row's time. The clock is read
                // again after the flush (which may take a while, e.g. an HTTP request) and after every wake-up.
                await FlushAsync(writer, options, cancellationToken);
                long now;
                while (row.Timestamp > (now = UnixNanoseconds(clock)))
                {
                    await Task.Delay(FromNanoseconds(row.Timestamp - now), clock, cancellationToken);
                }
            }
            else if (!writer.HasRoom)
            {
                await writer.WriteBufferAsync(cancellationToken);
                options.Progress?.Invoke();
            }
            else if (++rowsSinceCancellationCheck == 65536)
            {
                rowsSinceCancellationCheck = 0;
                cancellationToken.ThrowIfCancellationRequested();
            }

            writer.Write(row);
        }

        await FlushAsync(writer, options, cancellationToken);
    }

    private static async ValueTask FlushAsync(FleetRowWriter writer, FleetRunOptions options, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        await writer.FlushAsync(cancellationToken);
        if (options.AfterFlush is { } afterFlush)
        {
            await afterFlush(cancellationToken);
        }

        options.Progress?.Invoke();
    }

    /// <summary>The clock's time in Unix nanoseconds.</summary>
    public static long UnixNanoseconds(TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        return (clock.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
    }

    /// <summary>Rounds up to the next 100 ns tick so a wait never ends before the row's time.</summary>
    private static TimeSpan FromNanoseconds(long nanoseconds) => TimeSpan.FromTicks((nanoseconds + 99) / 100);
}
