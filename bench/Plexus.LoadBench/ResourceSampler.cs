using System.Diagnostics;
using System.Runtime;

namespace Plexus.LoadBench;

/// <summary>
/// Process CPU time, peak working set, allocations and GC pauses over one timed section. Everything runs in
/// this process (server, load clients, GC), so the CPU figure is the whole cost of moving the rows; the
/// HTTP floor measured the same way is what the clients and Kestrel alone cost.
/// </summary>
/// <remarks>
/// The peak comes from two sources: a 50 ms sampling of the working set (misses short spikes) and, on
/// Linux, the kernel's high-water mark (VmHWM), which is reset at the start of each section by writing
/// "5" to /proc/self/clear_refs so that it covers this section only. Where the reset fails the
/// process-lifetime peak would be meaningless, so only the sampled one is used.
/// </remarks>
internal sealed class ResourceSampler : IAsyncDisposable
{
    private static readonly TimeSpan SamplePeriod = TimeSpan.FromMilliseconds(50);

    private readonly Process _process = Process.GetCurrentProcess();
    private readonly CancellationTokenSource _stop = new();
    private TimeSpan _cpuStart;
    private long _allocatedStart;
    private TimeSpan _pauseStart;
    private TimeSpan _jitStart;
    private int _gen0Start;
    private int _gen1Start;
    private int _gen2Start;
    private long _workingSetStart;
    private long _sampledPeak;
    private bool _kernelPeakReset;
    private Task _sampling = Task.CompletedTask;

    public static ResourceSampler Start()
    {
        // Garbage of the previous section (or of generating the data) is not this section's cost.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();

        var sampler = new ResourceSampler();
        sampler.Begin();
        return sampler;
    }

    private void Begin()
    {
        _process.Refresh();
        _workingSetStart = _process.WorkingSet64;
        _sampledPeak = _workingSetStart;
        _kernelPeakReset = TryResetKernelPeak();
        _allocatedStart = GC.GetTotalAllocatedBytes(precise: true);
        _pauseStart = GC.GetTotalPauseDuration();
        _jitStart = JitInfo.GetCompilationTime();
        _gen0Start = GC.CollectionCount(0);
        _gen1Start = GC.CollectionCount(1);
        _gen2Start = GC.CollectionCount(2);
        _cpuStart = _process.TotalProcessorTime;
        _sampling = SampleAsync(_stop.Token);
    }

    public async Task<ResourceUsage> StopAsync()
    {
        _process.Refresh();
        var cpu = _process.TotalProcessorTime - _cpuStart;
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - _allocatedStart;
        var pause = GC.GetTotalPauseDuration() - _pauseStart;
        var jit = JitInfo.GetCompilationTime() - _jitStart;
        await _stop.CancelAsync();
        await _sampling;
        _process.Refresh();
        long peak = Math.Max(_sampledPeak, _process.WorkingSet64);
        if (_kernelPeakReset)
        {
            peak = Math.Max(peak, _process.PeakWorkingSet64);
        }

        return new ResourceUsage(
            CpuSeconds: cpu.TotalSeconds,
            WorkingSetBeforeBytes: _workingSetStart,
            PeakWorkingSetBytes: peak,
            PeakIsKernelHighWaterMark: _kernelPeakReset,
            AllocatedBytes: allocated,
            GcPauseSeconds: pause.TotalSeconds,
            JitSeconds: jit.TotalSeconds,
            Gen0Collections: GC.CollectionCount(0) - _gen0Start,
            Gen1Collections: GC.CollectionCount(1) - _gen1Start,
            Gen2Collections: GC.CollectionCount(2) - _gen2Start);
    }

    private async Task SampleAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(SamplePeriod);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                _process.Refresh();
                _sampledPeak = Math.Max(_sampledPeak, _process.WorkingSet64);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private static bool TryResetKernelPeak()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
        }

        await _sampling;
        _stop.Dispose();
        _process.Dispose();
    }
}

internal sealed record ResourceUsage(
    double CpuSeconds,
    long WorkingSetBeforeBytes,
    long PeakWorkingSetBytes,
    bool PeakIsKernelHighWaterMark,
    long AllocatedBytes,
    double GcPauseSeconds,
    double JitSeconds,
    int Gen0Collections,
    int Gen1Collections,
    int Gen2Collections);
