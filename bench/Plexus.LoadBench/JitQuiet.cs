using System.Diagnostics;
using System.Runtime;

namespace Plexus.LoadBench;

/// <summary>
/// Waits, before a timed section, until the JIT has been idle for a while. Every run starts a fresh server,
/// and starting one makes the runtime re-compile its start-up and first-request code in the background
/// (tier-1 promotion, dependency-injection resolvers emitted as IL): measured inside the first timed Plexus
/// run that was 150-200 ms of JIT on another core, a quarter of the run's CPU, which a long-running server
/// pays once. This is polling with a deadline, not a sleep to synchronise: the condition is "no JIT time
/// was added during the last windows".
/// </summary>
internal static class JitQuiet
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(100);
    private const int QuietWindowsNeeded = 3;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(5);

    /// <summary>Returns how long it waited.</summary>
    public static async Task<TimeSpan> WaitAsync(TimeProvider time)
    {
        long started = Stopwatch.GetTimestamp();
        int quiet = 0;
        var before = JitInfo.GetCompilationTime();
        while (quiet < QuietWindowsNeeded && Stopwatch.GetElapsedTime(started) < Deadline)
        {
            await Task.Delay(Window, time);
            var now = JitInfo.GetCompilationTime();
            quiet = now - before < TimeSpan.FromMilliseconds(1) ? quiet + 1 : 0;
            before = now;
        }

        return Stopwatch.GetElapsedTime(started);
    }
}
