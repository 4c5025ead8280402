using System.Diagnostics;
using Plexus.Core;
using Plexus.Ingest;
using Plexus.Ingest.LineProtocol;

namespace Plexus.LoadBench;

/// <summary>
/// Not a floor but a share: the line-protocol parser alone on the same request bodies, on one thread, into
/// one reused batch (as the write endpoint does), with no HTTP and no storage. Its CPU per million rows,
/// next to the HTTP floor's and Plexus's, splits Plexus's cost into transfer, parsing and the rest (series
/// keys, the store's commit, DuckDB).
/// </summary>
internal static class ParseOnlyStage
{
    public static async Task<(TimeSpan Wall, long Rows, ResourceUsage Usage)> RunAsync(TsbsIotDataSet data, TimeSpan minDuration)
    {
        var batch = new PointBatch();
        var errors = new LineErrorSink();
        var options = new LineProtocolOptions(TimePrecision.Nanoseconds, DefaultTimestamp: 0);
        long points = 0;
        long passes = 0;
        await JitQuiet.WaitAsync(TimeProvider.System);
        await using var sampler = ResourceSampler.Start();
        long started = Stopwatch.GetTimestamp();
        do
        {
            foreach (byte[] body in data.Batches)
            {
                batch.Reset();
                LineProtocolParser.Parse(body, 1, options, batch, errors);
                points += batch.Count;
            }

            passes++;
        }
        while (Stopwatch.GetElapsedTime(started) < minDuration);

        var wall = Stopwatch.GetElapsedTime(started);
        var usage = await sampler.StopAsync();
        if (points != passes * data.Rows || errors.Count != 0)
        {
            throw new InvalidOperationException($"the parser read {points} points and {errors.Count} errors from {passes} × {data.Rows} lines; first error: {(errors.Errors.Count > 0 ? errors.Errors[0] : null)}");
        }

        return (wall, points, usage);
    }
}
