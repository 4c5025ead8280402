using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Plexus.Storage.Deleting;

namespace Plexus.Storage.Writing;

/// <summary>A delete waiting in the writer's queue, with the task its caller awaits.</summary>
internal sealed class DeleteOperation(DeleteSelection selection)
{
    public DeleteSelection Selection { get; } = selection;

    public TaskCompletionSource<DeleteResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

// Deletes: one more kind of request in the writer's queue, committed in DuckDB directly like a write that changes the
// schema, so that it is ordered with the writes around it and durable once answered.
public sealed partial class StoreWriter
{
    /// <summary>
    /// Sees every delete once it is committed, on this writer's thread, before its caller is answered: whoever keeps
    /// values of stored data in memory (the live device state) forgets what was deleted. Set once, before the first delete.
    /// </summary>
    public Action<DeleteSelection, DeleteResult>? DeleteObserver { get; set; }

    /// <summary>
    /// Deletes the rows of <paramref name="selection"/>, or drops its measurement or namespace (docs/storage.md#deleting-data).
    /// </summary>
    /// <remarks>
    /// The delete goes through the writer's queue like a write: every write acknowledged before it was queued is applied
    /// to DuckDB first (its write-log records then count as applied, in DuckDB, so a replay after a crash can never bring
    /// them back), then the delete is committed in its own DuckDB transaction, which is durable when this returns. A write
    /// queued after it is stored after it and kept.
    /// </remarks>
    /// <exception cref="DeleteTargetNotFoundException">The namespace or measurement does not exist.</exception>
    /// <exception cref="DeletePredicateException">The predicate names a tag the measurement does not have.</exception>
    /// <exception cref="ArgumentException">The selection is not valid (<see cref="DeleteSelection.Validate"/>).</exception>
    /// <exception cref="StoreUnavailableException">The store cannot write now, or is shutting down; nothing was deleted.</exception>
    public async Task<DeleteResult> DeleteAsync(DeleteSelection selection, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        if (selection.Validate() is { } invalid)
        {
            throw new ArgumentException(invalid, nameof(selection));
        }

        var operation = new DeleteOperation(selection);
        try
        {
            await _queue.Writer.WriteAsync(new WriteRequest(selection.Namespace, NoPoints) { Delete = operation }, cancellationToken);
        }
        catch (ChannelClosedException)
        {
            throw new StoreUnavailableException("the store is shutting down and takes no more deletes; nothing was deleted");
        }

        // Once queued it runs whether or not the caller still waits, like a write.
        return await operation.Completion.Task;
    }

    private void RunDelete(DeleteOperation operation)
    {
        var selection = operation.Selection;
        if ((_logFault is { RestartRequired: true } ? _logFault : _databaseFault) is { } fault)
        {
            operation.Completion.TrySetException(new StoreUnavailableException(fault.Describe() + "; nothing was deleted", StoreUnavailableException.DefaultRetryAfter));
            return;
        }

        // The rows it deletes may still be only in the write log.
        if (!ApplyLog())
        {
            var failing = _databaseFault ?? new StoreFault("the database refuses to commit", false);
            operation.Completion.TrySetException(new StoreUnavailableException(failing.Describe() + "; nothing was deleted", StoreUnavailableException.DefaultRetryAfter));
            return;
        }

        DeleteResult result;
        var coldChanges = new ColdChanges();
        try
        {
            using var transaction = _connection.BeginTransaction();
            result = DeleteExecutor.Run(_connection, _committer.Catalog, selection, Cold, coldChanges);
            transaction.Commit();
        }
        catch (Exception error) when (error is DeleteTargetNotFoundException or DeletePredicateException)
        {
            // Refused before anything changed: the catalog is as the database has it.
            operation.Completion.TrySetException(error);
            return;
        }
        catch (Exception error)
        {
            foreach (string file in coldChanges.Written)
            {
                Cold!.Discard(file);
            }

            Recover(error);
            _logger.LogError(error, "Deleting ({What}) failed", selection.Describe());
            operation.Completion.TrySetException(StoreFault.IsIo(error)
                ? new StoreUnavailableException(StoreFault.Of(error).Describe() + "; nothing was deleted", StoreUnavailableException.DefaultRetryAfter, error)
                : new StorageException("The delete could not be committed: the database refused it (the server log has the details); nothing was deleted.", error));
            return;
        }

        foreach (string file in coldChanges.Retired)
        {
            Cold!.Retire(file);
        }

        if (result.MeasurementsDropped.Count > 0)
        {
            // Generated SQL that read a dropped view (device positions, ...) is regenerated like after a new measurement.
            _committer.NoteSchemaChanged();
        }

        _logger.LogInformation("Deleted {Rows} rows ({What}){Dropped}", result.RowsDeleted, selection.Describe(),
            result.MeasurementsDropped.Count == 0 ? "" : "; dropped measurements " + string.Join(", ", result.MeasurementsDropped));
        if (DeleteObserver is { } observer)
        {
            try
            {
                observer(selection, result);
            }
            catch (Exception error) when (error is not OutOfMemoryException)
            {
                // The delete is durable whatever the observer does.
                _logger.LogError(error, "The delete observer failed after {What}", selection.Describe());
            }
        }

        operation.Completion.TrySetResult(result);
    }
}
