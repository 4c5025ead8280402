using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Plexus.Storage.Cold;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Deleting;

/// <summary>
/// Runs one delete on the writer's connection, in the writer's thread, inside the caller's transaction: the rows of
/// the selection go (one <c>DELETE</c> per measurement, the tag predicate as a subquery on the series table with bound
/// values), or a measurement's tables and view are dropped and the catalog forgets it.
/// </summary>
/// <remarks>
/// Series rows are kept when their data rows go: series ids must stay dense, and a series without rows costs one
/// small row. The writer's record of each series' newest time is kept too: it only tells the writer that a time may
/// be stored, so a point written again after a delete is merged (and inserted, finding no row) instead of appended.
/// </remarks>
internal static class DeleteExecutor
{
    public static DeleteResult Run(DuckDBConnection connection, Catalog catalog, DeleteSelection selection) =>
        Run(connection, catalog, selection, null, new ColdChanges());

    /// <summary>
    /// Runs the delete on the hot and the cold tier. Cold files it writes (a partition's rows without the deleted ones)
    /// and files it stops naming are listed in <paramref name="changes"/>: the caller discards the first or retires the
    /// second once it knows whether the transaction committed.
    /// </summary>
    public static DeleteResult Run(DuckDBConnection connection, Catalog catalog, DeleteSelection selection, ColdStore? cold, ColdChanges changes)
    {
        var ns = catalog.FindNamespace(selection.Namespace)
            ?? throw new DeleteTargetNotFoundException($"namespace \"{selection.Namespace}\" holds no data");
        if (selection.Measurement is { } name)
        {
            var measurement = ns.Find(Encoding.UTF8.GetBytes(name))
                ?? throw new DeleteTargetNotFoundException(NoSuchMeasurement(ns, name));
            if (selection.Drops)
            {
                long dropped = Drop(connection, catalog, ns, measurement, changes);
                catalog.RefreshStaleViews(connection);
                return new DeleteResult(dropped, [measurement.Name], false);
            }

            return new DeleteResult(DeleteRows(connection, catalog, measurement, selection, cold, changes), [], false);
        }

        var measurements = ns.Measurements.OrderBy(m => m.Id).ToList();
        if (!selection.Drops)
        {
            long rows = 0;
            foreach (var measurement in measurements)
            {
                rows += DeleteRows(connection, catalog, measurement, selection, cold, changes);
            }

            return new DeleteResult(rows, [], false);
        }

        long total = 0;
        foreach (var measurement in measurements)
        {
            total += Drop(connection, catalog, ns, measurement, changes);
        }

        // CASCADE takes the views Plexus generated in the namespace along; user SQL cannot create objects there. (main is
        // never dropped whole: DeleteSelection.Validate refuses it.)
        Catalog.Execute(connection, $"DROP SCHEMA IF EXISTS {SqlNames.Quote(ns.Name)} CASCADE");
        catalog.RemoveNamespace(ns.Name);
        catalog.RefreshStaleViews(connection);
        return new DeleteResult(total, [.. measurements.Select(m => m.Name)], true);
    }

    private static string NoSuchMeasurement(NamespaceSchema ns, string name)
    {
        string hint = ns.FindFolded(name) is { } folded ? $" (did you mean \"{folded.Name}\"? names are matched exactly)" : "";
        return $"measurement \"{name}\" does not exist in namespace {ns.Name}{hint}";
    }

    private static long DeleteRows(DuckDBConnection connection, Catalog catalog, MeasurementSchema measurement, DeleteSelection selection, ColdStore? cold, ColdChanges changes)
    {
        measurement.NoteDelete();
        long rows = DeleteHotRows(connection, measurement, selection);
        if (cold is not null && measurement.ColdPartitions.Count > 0)
        {
            rows += DeleteColdRows(connection, catalog, measurement, selection, cold, changes);
        }

        return rows;
    }

    /// <summary>
    /// The cold side of a delete: a partition every row of which is selected is dropped whole (its manifest row goes, its
    /// file is retired); one partly selected is rewritten without the selected rows into a new file that replaces it in
    /// the same transaction; one the delete does not reach is left alone (its time range, from the manifest, tells).
    /// </summary>
    private static long DeleteColdRows(DuckDBConnection connection, Catalog catalog, MeasurementSchema measurement, DeleteSelection selection, ColdStore cold, ColdChanges changes)
    {
        long from = selection.FromNs ?? long.MinValue;
        long to = selection.ToNs ?? long.MaxValue;
        List<int>? seriesIds = selection.Where is null ? null : MatchingSeries(connection, measurement, selection.Where);
        var kept = new List<ColdPartition>();
        long deleted = 0;
        bool changed = false;
        // The rows a partly selected file loses, the same for every file (literals: the statement is the file's COPY).
        var condition = new StringBuilder("true");
        AppendTimeBounds(condition, selection, ns => ns.ToString(CultureInfo.InvariantCulture));
        if (seriesIds is not null)
        {
            condition.Append($" AND {SqlNames.SeriesIdColumn} IN (").AppendJoin(", ", seriesIds).Append(')');
        }

        foreach (var partition in measurement.ColdPartitions)
        {
            bool reached = partition.MaxTimeNs >= from && partition.MinTimeNs < to && seriesIds is not { Count: 0 };
            if (!reached)
            {
                kept.Add(partition);
                continue;
            }

            if (seriesIds is null && from <= partition.MinTimeNs && to > partition.MaxTimeNs)
            {
                ColdStore.DeleteManifest(connection, partition);
                changes.Retired.Add(partition.FileName);
                deleted += partition.Rows;
                changed = true;
                continue;
            }

            if (selection.WholeColdPartitionsOnly)
            {
                kept.Add(partition);
                continue;
            }

            string select = $"SELECT * FROM read_parquet({SqlNames.Literal(cold.PathOf(partition.FileName))}) WHERE NOT ({condition})";
            var rewritten = cold.Write(connection, measurement.Id, partition.StartNs, partition.EndNs, select, partition.Fields);
            long left = rewritten?.Rows ?? 0;
            if (left == partition.Rows)
            {
                cold.Discard(rewritten!.FileName);
                kept.Add(partition);
                continue;
            }

            ColdStore.DeleteManifest(connection, partition);
            changes.Retired.Add(partition.FileName);
            if (rewritten is not null)
            {
                changes.Written.Add(rewritten.FileName);
                ColdStore.InsertManifest(connection, rewritten);
                kept.Add(rewritten);
            }

            deleted += partition.Rows - left;
            changed = true;
        }

        if (changed)
        {
            measurement.SetColdPartitions(kept, measurement.HotRowsBelowHorizon);
            catalog.RefreshView(connection, measurement);
        }

        return deleted;
    }

    private static List<int> MatchingSeries(DuckDBConnection connection, MeasurementSchema measurement, TagPredicate where)
    {
        var sql = new StringBuilder($"SELECT s.{SqlNames.SeriesIdColumn} FROM {measurement.SeriesTable} AS s WHERE ");
        var parameters = new List<object?>();
        where.AppendSql(sql, parameters, measurement);
        var ids = new List<int>();
        using var command = connection.CreateCommand();
        command.CommandText = sql.ToString();
        foreach (object? value in parameters)
        {
            command.Parameters.Add(new DuckDBParameter(value ?? DBNull.Value));
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetInt32(0));
        }

        return ids;
    }

    private static long DeleteHotRows(DuckDBConnection connection, MeasurementSchema measurement, DeleteSelection selection)
    {
        var sql = new StringBuilder("DELETE FROM ").Append(measurement.DataTable).Append(" WHERE true");
        var parameters = new List<object?>();
        AppendTimeBounds(sql, selection, ns =>
        {
            parameters.Add(ns);
            return "$" + parameters.Count.ToString(CultureInfo.InvariantCulture);
        });

        if (selection.Where is { } where)
        {
            sql.Append($" AND {SqlNames.SeriesIdColumn} IN (SELECT s.{SqlNames.SeriesIdColumn} FROM {measurement.SeriesTable} AS s WHERE ");
            where.AppendSql(sql, parameters, measurement);
            sql.Append(')');
        }

        using var command = connection.CreateCommand();
        command.CommandText = sql.ToString();
        foreach (object? value in parameters)
        {
            command.Parameters.Add(new DuckDBParameter(value ?? DBNull.Value));
        }

        return command.ExecuteNonQuery();
    }

    /// <summary>
    /// Appends the selection's time bounds, only those it has (an open end as long.MaxValue is out of TIMESTAMP_NS's
    /// range), each value written by <paramref name="value"/> (a parameter or a literal).
    /// </summary>
    private static void AppendTimeBounds(StringBuilder sql, DeleteSelection selection, Func<long, string> value)
    {
        if (selection.FromNs is { } from)
        {
            sql.Append($" AND {SqlNames.TimeColumn} >= make_timestamp_ns({value(from)})");
        }

        if (selection.ToNs is { } to)
        {
            sql.Append($" AND {SqlNames.TimeColumn} < make_timestamp_ns({value(to)})");
        }
    }

    private static long Drop(DuckDBConnection connection, Catalog catalog, NamespaceSchema ns, MeasurementSchema measurement, ColdChanges changes)
    {
        measurement.NoteDelete();
        long rows;
        using (var count = connection.CreateCommand())
        {
            count.CommandText = $"SELECT count(*) FROM {measurement.DataTable}";
            rows = Convert.ToInt64(count.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }

        Catalog.Execute(connection, $"DROP VIEW IF EXISTS {SqlNames.Quote(ns.Name)}.{SqlNames.Quote(measurement.Name)}");
        Catalog.Execute(connection, $"DROP TABLE {measurement.DataTable}");
        Catalog.Execute(connection, $"DROP TABLE {measurement.SeriesTable}");
        Catalog.Execute(connection, $"DELETE FROM {SqlNames.InternalSchema}.measurements WHERE id = $1", measurement.Id);
        ColdStore.DeleteManifest(connection, measurement.Id);
        foreach (var partition in measurement.ColdPartitions)
        {
            rows += partition.Rows;
            changes.Retired.Add(partition.FileName);
        }

        catalog.RemoveMeasurement(ns, measurement);
        return rows;
    }
}

/// <summary>The cold files one delete wrote and the ones it stopped naming, for its caller to discard or retire after the transaction.</summary>
internal sealed class ColdChanges
{
    public List<string> Written { get; } = [];

    public List<string> Retired { get; } = [];
}
