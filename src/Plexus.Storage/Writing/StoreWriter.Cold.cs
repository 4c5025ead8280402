using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Plexus.Storage.Cold;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Writing;

/// <summary>A step of the cold tier waiting in the writer's queue, with the task its caller awaits.</summary>
internal sealed class WriterJob(Func<object?> body)
{
    public TaskCompletionSource<object?> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Run()
    {
        try
        {
            Completion.TrySetResult(body());
        }
        catch (Exception error)
        {
            Completion.TrySetException(error);
        }
    }
}

/// <summary>
/// What a compaction read, decided on the writer's thread: the measurement as the writer knows it, the partition, the
/// count of late writes at that moment, the partition's current file, and the SELECT that gives the partition's rows.
/// </summary>
internal sealed record CompactionPlan(MeasurementSchema Measurement, long StartNs, long EndNs, long LateWrites, ColdPartition? Existing, string SelectSql, IReadOnlyList<string> Fields);

// The writer's side of the cold tier: a compaction starts and commits on this thread, so that both are ordered with the
// writes around them; the slow part (reading the rows and writing the file) runs on the compactor's own connection.
public sealed partial class StoreWriter
{
    internal ColdStore? Cold { get; }

    /// <summary>Runs <paramref name="body"/> on the writer's thread between two groups and returns what it returned.</summary>
    internal async Task<T> RunOnWriterAsync<T>(Func<T> body, CancellationToken cancellationToken)
    {
        var job = new WriterJob(() => body());
        try
        {
            await _queue.Writer.WriteAsync(new WriteRequest("", NoPoints) { Job = job }, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new StoreUnavailableException("the store is shutting down");
        }

        return (T)(await job.Completion.Task)!;
    }

    private void RefreshColdViews()
    {
        using var transaction = _connection.BeginTransaction();
        foreach (var measurement in _committer.Catalog.Namespaces.SelectMany(ns => ns.Measurements))
        {
            if (measurement.ColdPartitions.Count > 0)
            {
                _committer.Catalog.RefreshView(_connection, measurement);
            }
        }

        _committer.Catalog.RefreshStaleViews(_connection);
        transaction.Commit();
    }

    private MeasurementSchema? FindMeasurement(int id) =>
        _committer.Catalog.Namespaces.SelectMany(ns => ns.Measurements).FirstOrDefault(m => m.Id == id);

    /// <summary>
    /// Starts compacting one partition: from now on every write below its end is counted, so that the commit can tell
    /// whether the rows it read are still the partition's. Every acknowledged write is applied first, so the read sees it.
    /// Null when the measurement is gone.
    /// </summary>
    internal CompactionPlan? BeginCompaction(int measurementId, long startNs, long endNs)
    {
        if ((_logFault ?? _databaseFault) is not null || !ApplyLog())
        {
            throw new StoreUnavailableException((_logFault ?? _databaseFault)?.Describe() ?? "the store cannot write now");
        }

        var measurement = FindMeasurement(measurementId);
        if (measurement is null)
        {
            return null;
        }

        measurement.CompactionFence = Math.Max(measurement.CompactionFence, endNs);
        var existing = measurement.ColdPartitions.FirstOrDefault(p => p.StartNs == startNs);
        return new CompactionPlan(measurement, startNs, endNs, measurement.LateWrites, existing, CompactionSelect(measurement, startNs, endNs, existing),
            [.. measurement.Fields.Select(f => f.Name)]);
    }

    /// <summary>
    /// Commits a compaction whose file is written and synced: in one transaction the partition's hot rows go, the
    /// manifest names the new file instead of the old one, and the view reads it. False, changing nothing, when a write
    /// or a delete touched the partition since <see cref="BeginCompaction"/> (the caller discards the file and tries
    /// again later).
    /// </summary>
    internal bool CommitCompaction(CompactionPlan plan, ColdPartition? written)
    {
        var measurement = plan.Measurement;
        try
        {
            var current = measurement.ColdPartitions.FirstOrDefault(p => p.StartNs == plan.StartNs);
            if (!ReferenceEquals(FindMeasurement(measurement.Id), measurement) || measurement.LateWrites != plan.LateWrites || !ReferenceEquals(current, plan.Existing)
                || (_logFault ?? _databaseFault) is not null)
            {
                return false;
            }

            var partitions = measurement.ColdPartitions.Where(p => p.StartNs != plan.StartNs).ToList();
            if (written is not null)
            {
                partitions.Add(written);
            }

            try
            {
                using var transaction = _connection.BeginTransaction();
                Catalog.Execute(_connection, $"DELETE FROM {measurement.DataTable} WHERE {SqlNames.TimeColumn} >= make_timestamp_ns($1) AND {SqlNames.TimeColumn} < make_timestamp_ns($2)",
                    plan.StartNs, plan.EndNs);
                if (plan.Existing is not null)
                {
                    ColdStore.DeleteManifest(_connection, plan.Existing);
                }

                if (written is not null)
                {
                    ColdStore.InsertManifest(_connection, written);
                }

                measurement.SetColdPartitions(partitions, hotRowsBelowHorizon: false);
                measurement.SetColdPartitions(partitions, Catalog.HasHotRowsBelowHorizon(_connection, measurement));
                _committer.Catalog.RefreshView(_connection, measurement);
                transaction.Commit();
            }
            catch (Exception error)
            {
                Recover(error);
                throw;
            }

            if (plan.Existing is not null)
            {
                Cold!.Retire(plan.Existing.FileName);
            }

            return true;
        }
        finally
        {
            measurement.CompactionFence = long.MinValue;
        }
    }

    /// <summary>A compaction that failed before its commit: writes below the partition's end are no longer its concern.</summary>
    internal static bool AbandonCompaction(CompactionPlan plan)
    {
        plan.Measurement.CompactionFence = long.MinValue;
        return true;
    }

    /// <summary>
    /// The rows of a partition as the file holds them: <c>_series_id</c>, <c>time</c>, the tags, the fields (the file's
    /// writer sorts them). With a file already there, its rows and the hot ones are merged: a hot row is the later write
    /// of its series and time and wins field by field, as in the hot store.
    /// </summary>
    private string CompactionSelect(MeasurementSchema measurement, long startNs, long endNs, ColdPartition? existing)
    {
        string range = $"{SqlNames.TimeColumn} >= make_timestamp_ns({startNs.ToString(CultureInfo.InvariantCulture)}) AND {SqlNames.TimeColumn} < make_timestamp_ns({endNs.ToString(CultureInfo.InvariantCulture)})";
        var hot = new StringBuilder("SELECT ").Append(SqlNames.SeriesIdColumn).Append(", ").Append(SqlNames.TimeColumn);
        foreach (var field in measurement.Fields)
        {
            hot.Append(", ").Append(SqlNames.Quote(field.Name));
        }

        hot.Append(" FROM ").Append(measurement.DataTable).Append(" WHERE ").Append(range);
        string source = hot.ToString();
        if (existing is not null)
        {
            var merged = new StringBuilder("SELECT coalesce(h.").Append(SqlNames.SeriesIdColumn).Append(", c.").Append(SqlNames.SeriesIdColumn).Append(") AS ").Append(SqlNames.SeriesIdColumn)
                .Append(", coalesce(h.").Append(SqlNames.TimeColumn).Append(", c.").Append(SqlNames.TimeColumn).Append(") AS ").Append(SqlNames.TimeColumn);
            foreach (var field in measurement.Fields)
            {
                string name = SqlNames.Quote(field.Name);
                merged.Append(", coalesce(h.").Append(name).Append(", c.").Append(name).Append(") AS ").Append(name);
            }

            merged.Append(" FROM (").Append(measurement.ColdSelect(Cold!.Directory, [existing])).Append(") AS c FULL OUTER JOIN (").Append(source)
                .Append(") AS h ON c.").Append(SqlNames.SeriesIdColumn).Append(" = h.").Append(SqlNames.SeriesIdColumn)
                .Append(" AND c.").Append(SqlNames.TimeColumn).Append(" = h.").Append(SqlNames.TimeColumn);
            source = merged.ToString();
        }

        var select = new StringBuilder("SELECT d.").Append(SqlNames.SeriesIdColumn).Append(", d.").Append(SqlNames.TimeColumn);
        foreach (var tag in measurement.Tags)
        {
            select.Append(", s.").Append(SqlNames.Quote(tag.Name));
        }

        foreach (var field in measurement.Fields)
        {
            select.Append(", d.").Append(SqlNames.Quote(field.Name));
        }

        select.Append(" FROM (").Append(source).Append(") AS d");
        if (measurement.Tags.Count > 0)
        {
            select.Append(" LEFT JOIN ").Append(measurement.SeriesTable).Append(" AS s ON s.").Append(SqlNames.SeriesIdColumn).Append(" = d.").Append(SqlNames.SeriesIdColumn);
        }

        return select.ToString();
    }
}
