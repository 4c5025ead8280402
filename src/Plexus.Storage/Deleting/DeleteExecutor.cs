using System.Text;
using DuckDB.NET.Data;
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
    public static DeleteResult Run(DuckDBConnection connection, Catalog catalog, DeleteSelection selection)
    {
        var ns = catalog.FindNamespace(selection.Namespace)
            ?? throw new DeleteTargetNotFoundException($"namespace \"{selection.Namespace}\" holds no data");
        if (selection.Measurement is { } name)
        {
            var measurement = ns.Find(Encoding.UTF8.GetBytes(name))
                ?? throw new DeleteTargetNotFoundException(NoSuchMeasurement(ns, name));
            if (selection.Drops)
            {
                long dropped = Drop(connection, catalog, ns, measurement);
                return new DeleteResult(dropped, [measurement.Name], false);
            }

            return new DeleteResult(DeleteRows(connection, measurement, selection), [], false);
        }

        var measurements = ns.Measurements.OrderBy(m => m.Id).ToList();
        if (!selection.Drops)
        {
            long rows = 0;
            foreach (var measurement in measurements)
            {
                rows += DeleteRows(connection, measurement, selection);
            }

            return new DeleteResult(rows, [], false);
        }

        long total = 0;
        foreach (var measurement in measurements)
        {
            total += Drop(connection, catalog, ns, measurement);
        }

        // CASCADE takes the views Plexus generated in the namespace along; user SQL cannot create objects there. (main is
        // never dropped whole: DeleteSelection.Validate refuses it.)
        Catalog.Execute(connection, $"DROP SCHEMA IF EXISTS {SqlNames.Quote(ns.Name)} CASCADE");
        catalog.RemoveNamespace(ns.Name);
        return new DeleteResult(total, [.. measurements.Select(m => m.Name)], true);
    }

    private static string NoSuchMeasurement(NamespaceSchema ns, string name)
    {
        string hint = ns.FindFolded(name) is { } folded ? $" (did you mean \"{folded.Name}\"? names are matched exactly)" : "";
        return $"measurement \"{name}\" does not exist in namespace {ns.Name}{hint}";
    }

    private static long DeleteRows(DuckDBConnection connection, MeasurementSchema measurement, DeleteSelection selection)
    {
        var sql = new StringBuilder("DELETE FROM ").Append(measurement.DataTable).Append(" WHERE true");
        var parameters = new List<object?>();
        if (selection.FromNs is { } from)
        {
            parameters.Add(from);
            sql.Append($" AND {SqlNames.TimeColumn} >= make_timestamp_ns(${parameters.Count})");
        }

        if (selection.ToNs is { } to)
        {
            parameters.Add(to);
            sql.Append($" AND {SqlNames.TimeColumn} < make_timestamp_ns(${parameters.Count})");
        }

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

    private static long Drop(DuckDBConnection connection, Catalog catalog, NamespaceSchema ns, MeasurementSchema measurement)
    {
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
        catalog.RemoveMeasurement(ns, measurement);
        return rows;
    }
}
