using Microsoft.Extensions.Logging;
using Plexus.Storage.Deleting;
using Plexus.Storage.Writing;

namespace Plexus.Storage.Retention;

/// <summary>
/// Applies the retention policies every <c>--retention-check-interval</c> on the injected clock: for each policy, the
/// rows older than now − its duration are deleted through the store's one delete (<see cref="StoreWriter.DeleteAsync"/>),
/// so expiry is ordered with writes and durable like any delete. A namespace's policy covers its measurements that have
/// no policy of their own. Each run that deletes something is logged with the row count.
/// </summary>
/// <remarks>
/// There are no time partitions yet, so expiry is a DELETE over each measurement's time column; DuckDB's zone maps
/// skip the row groups that are newer than the cutoff, so a run over data that is all within retention costs little.
/// </remarks>
public sealed class RetentionEnforcer : IAsyncDisposable
{
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromMinutes(10);

    private readonly RetentionPolicies _policies;
    private readonly StoreWriter _writer;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly SemaphoreSlim _running = new(1, 1);
    private readonly PeriodicTimer _timer;

    public RetentionEnforcer(RetentionPolicies policies, StoreWriter writer, TimeSpan checkInterval, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(checkInterval, TimeSpan.Zero);
        _policies = policies;
        _writer = writer;
        _time = time;
        _logger = logger;
        CheckInterval = checkInterval;

        // Made here, not in the loop's task, so that the first check is due one interval after construction.
        _timer = new PeriodicTimer(checkInterval, time);
        _loop = Task.Run(LoopAsync);
    }

    public TimeSpan CheckInterval { get; }

    /// <summary>Runs completed since start.</summary>
    public long Runs => Interlocked.Read(ref _runs);

    private long _runs;

    /// <summary>Applies every policy once, now; returns the rows deleted. Runs never overlap.</summary>
    public async Task<long> RunOnceAsync(CancellationToken cancellationToken = default)
    {
        await _running.WaitAsync(cancellationToken);
        try
        {
            long total = 0;
            long nowNs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            var policies = _policies.List();
            foreach (var policy in policies)
            {
                long cutoff = nowNs - (policy.Raw.Ticks * 100);
                if (policy.Measurement is { } measurement)
                {
                    total += await ExpireAsync(policy, measurement, cutoff, cancellationToken);
                    continue;
                }

                foreach (string name in _policies.MeasurementsOf(policy.Namespace))
                {
                    // A measurement's own policy wins over its namespace's.
                    if (!policies.Any(p => p.Namespace == policy.Namespace && p.Measurement == name))
                    {
                        total += await ExpireAsync(policy, name, cutoff, cancellationToken);
                    }
                }
            }

            Interlocked.Increment(ref _runs);
            return total;
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task<long> ExpireAsync(RetentionPolicy policy, string measurement, long cutoffNs, CancellationToken cancellationToken)
    {
        // Cold partitions expire whole: rewriting a partition's file at every check to cut a few rows would cost more than
        // keeping them until the whole partition is past the cutoff.
        var selection = new DeleteSelection(policy.Namespace, measurement, ToNs: cutoffNs) { WholeColdPartitionsOnly = true };
        try
        {
            var result = await _writer.DeleteAsync(selection, cancellationToken);
            if (result.RowsDeleted > 0)
            {
                _logger.LogInformation("Retention {Raw} of {Target}: deleted {Rows} rows of {Namespace}.{Measurement} older than {Cutoff:O}",
                    RetentionPolicies.Format(policy.Raw), policy.Target, result.RowsDeleted, policy.Namespace, measurement, DateTimeOffset.UnixEpoch.AddTicks(cutoffNs / 100));
            }

            return result.RowsDeleted;
        }
        catch (DeleteTargetNotFoundException)
        {
            // A policy may name what holds no data yet (or any more): nothing to expire.
            return 0;
        }
    }

    private Task LoopAsync() => BackgroundLoop.RunAsync(_timer, RunOnceAsync,
        error => _logger.LogWarning("Retention could not delete expired rows now ({Reason}); it tries again in {Interval}", error.Message, CheckInterval),
        error => _logger.LogError(error, "A retention run failed; it runs again in {Interval}", CheckInterval), _stop.Token);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _timer.Dispose();
        _stop.Dispose();
        _running.Dispose();
    }
}
