using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Pipeline.Observers;
using Plexus.Storage.Writing;

namespace Plexus.Pipeline;

/// <summary>
/// The one way data enters the store. Every source — HTTP writes, MQTT device topics on every transport and QoS, the
/// HTTP device API, Plexus's own device data — hands its decoded, attributed points here:
/// <code>
///   source ─▶ decode ─▶ authorise/attribute ─▶ stage ─▶ durable commit ─▶ observers ─▶ schema reactions ─▶ acknowledge
///   (HTTP,     (Ingest    (the source: scope,    (a batch, or   (StoreWriter:   (ObserverStage,   (views generated
///    MQTT…)     decoders)  device tag, allow-     the MQTT       write log or    every durable     from the schema)
///                          list; here: reserved   shared batch)  DuckDB commit)  write once)
///                          names)
/// </code>
/// The acknowledgement (an HTTP answer, a PUBACK) follows the returned task: it completes once the points are durable,
/// every observer has seen them, and the SQL objects generated from the schema caught up with a write that changed it.
/// </summary>
public sealed class IngestPipeline : IPointWriter
{
    private readonly StoreWriter _store;
    private readonly IIngestGuard[] _guards;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _schemaGate = new();
    private volatile SchemaReaction[] _schemaReactions = [];
    private long _schemaSeen;

    public IngestPipeline(StoreWriter store, IEnumerable<IIngestGuard>? guards = null, ILogger? logger = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _time = time ?? TimeProvider.System;
        _guards = [.. guards ?? [new ReservedMeasurementGuard()]];
        _logger = logger ?? NullLogger.Instance;
        Observers = new ObserverStage(_logger);
        if (store.CommitObserver is not null)
        {
            throw new InvalidOperationException("the store already has a commit observer: one pipeline per store");
        }

        store.CommitObserver = Observers;
        _schemaSeen = store.SchemaVersion;
    }

    /// <summary>Writes, points stored and refused, and write durations per source (<c>GET /metrics</c>).</summary>
    public IngestStatistics Statistics { get; } = new();

    /// <summary>Where components observe stored data (<see cref="ObserverStage"/> has the contract).</summary>
    public ObserverStage Observers { get; }

    /// <summary>The store's writer, for what the pipeline does not do itself (namespaces, statistics).</summary>
    public StoreWriter Store => _store;

    /// <summary>
    /// Runs <paramref name="react"/> after every durable write that changed the schema (a namespace, measurement or
    /// column appeared), before that write is acknowledged: for SQL objects generated from the schema, so that data is
    /// in them as soon as the write that brings it is answered. A failing reaction is logged; the write stays stored.
    /// </summary>
    public void OnSchemaChanged(string name, Action react)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(react);
        lock (_schemaGate)
        {
            _schemaReactions = [.. _schemaReactions, new SchemaReaction(name, react)];
        }
    }

    /// <summary>A writer for one source: every write through it carries <paramref name="origin"/>.</summary>
    public IPointWriter For(IngestOrigin origin) => new SourceWriter(this, origin);

    public Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default) =>
        WriteAsync(ns, batch, default, cancellationToken);

    /// <summary>
    /// Checks, stores and observes <paramref name="batch"/>; completes when it is durable and observed. The caller owns the
    /// batch again once the task completes. Plexus's own data (<see cref="IngestSource.Internal"/>) skips the guards and
    /// the schema limits.
    /// </summary>
    /// <exception cref="Storage.SchemaLimitException">The write would pass a per-write schema limit; nothing is stored.</exception>
    /// <exception cref="Storage.StoreUnavailableException">The store cannot write now.</exception>
    public async Task<WriteResult> WriteAsync(string ns, PointBatch batch, IngestOrigin origin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        long started = _time.GetTimestamp();
        PointBatch stored = batch;
        List<LineError>? refused = null;
        if (origin.Source != IngestSource.Internal)
        {
            foreach (var guard in _guards)
            {
                stored = guard.Check(ns, stored, ref refused);
            }
        }

        var result = stored.Count == 0 ? WriteResult.Empty : await _store.WriteAsync(ns, stored, origin, cancellationToken);
        ReactToSchemaChanges();
        Count(origin.Source, result.PointsWritten, result.Rejected.Count + (refused?.Count ?? 0), _time.GetElapsedTime(started));
        if (refused is not { Count: > 0 })
        {
            return result;
        }

        // Refusals of the guards and of the store, in line order, as if one had decided them all.
        return new WriteResult(result.PointsWritten, [.. result.Rejected.Concat(refused).OrderBy(e => e.Line)]);
    }

    private void Count(IngestSource source, int stored, int refused, TimeSpan duration)
    {
        var counters = Statistics.Of(source);
        Interlocked.Increment(ref counters.WritesCount);
        Interlocked.Add(ref counters.StoredCount, stored);
        if (refused > 0)
        {
            Interlocked.Add(ref counters.RefusedCount, refused);
        }

        counters.Duration.Observe(duration);
    }

    private void ReactToSchemaChanges()
    {
        long version = _store.SchemaVersion;
        if (version == Volatile.Read(ref _schemaSeen))
        {
            return;
        }

        lock (_schemaGate)
        {
            if (version == _schemaSeen)
            {
                return;
            }

            foreach (var reaction in _schemaReactions)
            {
                try
                {
                    reaction.React();
                }
                catch (Exception error) when (error is not OutOfMemoryException)
                {
                    // The write is stored; what was not regenerated now is at the next change, listing or start.
                    _logger.LogWarning(error, "Could not update {Reaction} after a schema change", reaction.Name);
                }
            }

            Volatile.Write(ref _schemaSeen, version);
        }
    }

    private sealed record SchemaReaction(string Name, Action React);

    private sealed class SourceWriter(IngestPipeline pipeline, IngestOrigin origin) : IPointWriter
    {
        public Task<WriteResult> WriteAsync(string ns, PointBatch batch, CancellationToken cancellationToken = default) =>
            pipeline.WriteAsync(ns, batch, origin, cancellationToken);
    }
}
