using System.Net;
using System.Net.Sockets;

namespace Plexus.Compare;

internal sealed record DiskUsage(long ApparentBytes, long AllocatedBytes);

internal static class Support
{
    /// <summary>A free TCP port on 127.0.0.1 (bound to port 0 and released; the server binds it moments later).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// Polls <paramref name="condition"/> with a growing back-off (10 ms → 500 ms) until it holds or
    /// <paramref name="deadline"/> passes; a readiness wait, never a fixed sleep.
    /// </summary>
    public static async Task UntilAsync(string what, TimeSpan deadline, Func<Task<bool>> condition, CancellationToken cancellationToken, Func<bool>? abort = null)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            if (abort?.Invoke() == true)
            {
                throw new InvalidOperationException($"{what}: the process exited");
            }

            if (clock.Elapsed > deadline)
            {
                throw new TimeoutException($"{what}: not done after {deadline.TotalSeconds:0} s");
            }

            await Task.Delay(delay, TimeProvider.System, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(500, delay.TotalMilliseconds * 1.5));
        }
    }

    /// <summary>
    /// Bytes the folder takes: apparent (sum of file lengths) and allocated (blocks, from <c>du</c>). Allocated is the
    /// figure we quote: InfluxDB 1.6 pre-allocates sparse 4 MiB series-file segments, which are length, not disk.
    /// </summary>
    public static DiskUsage Measure(string path)
    {
        long allocated = -1;
        using (var du = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("du", ["-s", "--block-size=1", path]) { RedirectStandardOutput = true })!)
        {
            string text = du.StandardOutput.ReadToEnd();
            du.WaitForExit(60_000);
            if (du.ExitCode == 0)
            {
                allocated = long.Parse(text.Split('\t')[0], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return new DiskUsage(DirectoryBytes(path), allocated);
    }

    public static long DirectoryBytes(string path)
    {
        if (!Directory.Exists(path))
        {
            return 0;
        }

        long total = 0;
        foreach (var file in new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            try
            {
                total += file.Length;
            }
            catch (FileNotFoundException)
            {
                // A merge removed it while we walked.
            }
        }

        return total;
    }

    /// <summary>
    /// Waits until the folder's size has not changed for <paramref name="quiet"/> (polled every 250 ms), or the
    /// deadline; returns the last size. Used to let background merges/compactions finish.
    /// </summary>
    public static async Task<long> StableDirectoryBytesAsync(string path, TimeSpan quiet, TimeSpan deadline, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long last = DirectoryBytes(path);
        var sinceChange = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < deadline && sinceChange.Elapsed < quiet)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250), TimeProvider.System, cancellationToken);
            long now = DirectoryBytes(path);
            if (now != last)
            {
                last = now;
                sinceChange.Restart();
            }
        }

        return last;
    }

    public static async Task<string> ReadOrThrowAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        string body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: HTTP {(int)response.StatusCode}: {body[..Math.Min(body.Length, 600)]}");
        }

        return body;
    }
}
