using Plexus.Core;

namespace Plexus.Api;

/// <summary>What the API counts for <c>GET /metrics</c>: SQL queries and their durations, lines refused on HTTP writes.</summary>
public sealed class ApiStatistics
{
    private long _sqlFailures;
    private long _linesRejected;

    /// <summary>Durations of <c>POST /api/v1/sql</c> requests, from admission to the last byte of the answer.</summary>
    public LatencyHistogram SqlQueries { get; } = new();

    /// <summary>SQL requests answered with an error status (400, 403, 408, 503...).</summary>
    public long SqlFailures => Interlocked.Read(ref _sqlFailures);

    /// <summary>Lines of HTTP line-protocol writes that were not stored (parse errors and store refusals).</summary>
    public long LinesRejected => Interlocked.Read(ref _linesRejected);

    internal void SqlAnswered(TimeSpan duration, bool failed)
    {
        SqlQueries.Observe(duration);
        if (failed)
        {
            Interlocked.Increment(ref _sqlFailures);
        }
    }

    internal void LinesRefused(int count) => Interlocked.Add(ref _linesRejected, count);
}
