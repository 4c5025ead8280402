using System.Globalization;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Storage.Cold;

/// <summary>
/// Moves closed partitions from the hot store to Parquet files, one partition of one measurement at a time, every
/// <see cref="ColdTierOptions.CheckInterval"/> (docs/storage.md#hot-and-cold-tiers).
/// </summary>
/// <remarks>
/// A partition is closed once its end is <see cref="ColdTierOptions.Grace"/> in the past. For each closed partition
/// that still has hot rows (new ones, or late ones for a partition already cold) the compactor asks the writer to
/// begin (<see cref="StoreWriter.BeginCompaction"/>), writes the partition's rows, merged with its current file if it
/// has one, into a new synced file on its own connection, and asks the writer to commit
/// (<see cref="StoreWriter.CommitCompaction"/>). The writer refuses the commit if any write or delete reached the
/// partition in between; the file is then discarded and the partition is tried again at the next check.
/// </remarks>
internal sealed class Compactor : IAsyncDisposable
{
    private readonly Func<DuckDBConnection> _open;
    private readonly StoreWriter _writer;
    private readonly ColdStore _cold;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly Task _loop;

    public Compactor(Func<DuckDBConnection> open, StoreWriter writer, ColdStore cold, TimeProvider time, ILogger logger)
    {
        _open = open;
        _writer = writer;
        _cold = cold;
        _time = time;
        _logger = logger;
        _loop = cold.Options.Enabled ? Task.Run(RunAsync) : Task.CompletedTask;
    }

    /// <summary>Partitions committed to the cold tier since start.</summary>
    public long PartitionsCompacted => Interlocked.Read(ref _partitionsCompacted);

    private long _partitionsCompacted;

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_cold.Options.CheckInterval, _time, _stop.Token);
                await CompactAsync(_stop.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (StoreUnavailableException error)
            {
                _logger.LogWarning("Compaction skipped: {Reason}", error.Message);
            }
            catch (Exception error)
            {
                _logger.LogError(error, "Compacting closed partitions failed; the next check tries again");
            }
        }
    }

    /// <summary>Compacts every closed partition that has hot rows now; returns how many were committed.</summary>
    public async Task<int> CompactAsync(CancellationToken cancellationToken)
    {
        await _oneAtATime.WaitAsync(cancellationToken);
        try
        {
            _cold.DeleteRetiredFiles();
            long nowNs = (_time.GetUtcNow() - DateTimeOffset.UnixEpoch).Ticks * 100;
            long closedBefore = _cold.Options.PartitionStart(nowNs - (_cold.Options.Grace.Ticks * 100));
            long span = _cold.Options.PartitionSpanNs;
            int committed = 0;
            using var connection = _open();
            foreach (var (measurementId, start) in ClosedPartitions(connection, closedBefore, span))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (await CompactPartitionAsync(connection, measurementId, start, start + span, cancellationToken))
                {
                    committed++;
                    Interlocked.Increment(ref _partitionsCompacted);
                }
            }

            return committed;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private static List<(int MeasurementId, long Start)> ClosedPartitions(DuckDBConnection connection, long closedBefore, long span)
    {
        var ids = new List<int>();
        MetadataConnection.ForEachRow(connection, $"SELECT id FROM {SqlNames.InternalSchema}.measurements ORDER BY id", reader => ids.Add(reader.GetInt32(0)));
        var partitions = new List<(int, long)>();
        string spanText = span.ToString(CultureInfo.InvariantCulture);
        foreach (int id in ids)
        {
            string start = $"epoch_ns({SqlNames.TimeColumn}) - ((epoch_ns({SqlNames.TimeColumn}) % {spanText}) + {spanText}) % {spanText}";
            try
            {
                MetadataConnection.ForEachRow(connection,
                    $"SELECT DISTINCT {start} AS p FROM {SqlNames.Qualified(SqlNames.DataTable(id))} WHERE {SqlNames.TimeColumn} < make_timestamp_ns($1) ORDER BY p",
                    reader => partitions.Add((id, reader.GetInt64(0))), closedBefore);
            }
            catch (DuckDBException)
            {
                // Dropped since the list was read.
            }
        }

        return partitions;
    }

    private async Task<bool> CompactPartitionAsync(DuckDBConnection connection, int measurementId, long start, long end, CancellationToken cancellationToken)
    {
        var plan = await _writer.RunOnWriterAsync(() => _writer.BeginCompaction(measurementId, start, end), cancellationToken);
        if (plan is null)
        {
            return false;
        }

        ColdPartition? written;
        try
        {
            written = _cold.Write(connection, measurementId, start, end, plan.SelectSql, plan.Fields);
        }
        catch
        {
            await _writer.RunOnWriterAsync(() => StoreWriter.AbandonCompaction(plan), CancellationToken.None);
            throw;
        }

        bool committed;
        try
        {
            committed = await _writer.RunOnWriterAsync(() => _writer.CommitCompaction(plan, written), CancellationToken.None);
        }
        catch
        {
            if (written is not null)
            {
                _cold.Discard(written.FileName);
            }

            throw;
        }

        if (!committed)
        {
            if (written is not null)
            {
                _cold.Discard(written.FileName);
            }

            _logger.LogInformation("Compaction of a partition of {Measurement} gave way to writes or deletes that reached it meanwhile; the next check tries again",
                plan.Measurement.Namespace + "." + plan.Measurement.Name);
            return false;
        }

        _logger.LogInformation("Compacted {Rows} rows of {Measurement} from {Start} into {File} ({Bytes} bytes)", written?.Rows ?? 0,
            plan.Measurement.Namespace + "." + plan.Measurement.Name, DateTimeOffset.UnixEpoch.AddTicks(start / 100).ToString("O", CultureInfo.InvariantCulture),
            written?.FileName ?? "(nothing left)", written?.Bytes ?? 0);
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
        _oneAtATime.Dispose();
    }
}
