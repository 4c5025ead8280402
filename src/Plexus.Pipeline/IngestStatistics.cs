using Plexus.Core;

namespace Plexus.Pipeline;

/// <summary>
/// What the pipeline counts per source (HTTP writes, the HTTP device API, MQTT, Plexus's own data): writes, points
/// stored, points refused (by the guards or the store), and how long a write took to become durable and observed.
/// Per write, not per point: a few interlocked adds.
/// </summary>
public sealed class IngestStatistics
{
    private readonly SourceCounters[] _bySource = [.. Enum.GetValues<IngestSource>().Select(source => new SourceCounters(source))];

    public IReadOnlyList<SourceCounters> Sources => _bySource;

    internal SourceCounters Of(IngestSource source) => _bySource[(int)source];

    public sealed class SourceCounters(IngestSource source)
    {
        internal long WritesCount;
        internal long StoredCount;
        internal long RefusedCount;

        public IngestSource Source { get; } = source;

        public long Writes => Interlocked.Read(ref WritesCount);

        public long PointsStored => Interlocked.Read(ref StoredCount);

        public long PointsRefused => Interlocked.Read(ref RefusedCount);

        /// <summary>From entering the pipeline to durable and observed (queueing behind other writes included).</summary>
        public LatencyHistogram Duration { get; } = new();
    }
}
