using System.Globalization;
using Plexus.InfluxQL.Translation;
using Plexus.Query;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Execution;

/// <summary>
/// Reads what a database holds from Plexus's catalog, through the query service like any query: whether the namespace
/// exists (<c>duckdb_schemas()</c>), its measurements (<c>_plexus.measurements</c>), and which of their columns are tags
/// (the series table <c>_plexus.s&lt;id&gt;</c>) and which are fields, with their types (the data table
/// <c>_plexus.d&lt;id&gt;</c>), from <c>duckdb_columns()</c>.
/// </summary>
internal static class InfluxCatalog
{
    public static string Sql(string ns)
    {
        string name = SqlNames.Literal(ns);
        string schema = SqlNames.Literal(SqlNames.InternalSchema);
        return
            $"SELECT 0 AS kind, NULL::INTEGER AS id, NULL::VARCHAR AS measurement, NULL::VARCHAR AS column_name, NULL::VARCHAR AS data_type " +
            $"FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name = {name} " +
            $"UNION ALL SELECT CASE WHEN c.table_name = 's' || m.id THEN 1 ELSE 2 END, m.id, m.name, c.column_name, c.data_type " +
            $"FROM {SqlNames.InternalSchema}.measurements AS m JOIN duckdb_columns() AS c ON c.database_name = current_database() AND c.schema_name = {schema} " +
            $"AND (c.table_name = 's' || m.id OR c.table_name = 'd' || m.id) " +
            $"WHERE m.namespace = {name} AND c.column_name NOT IN ({SqlNames.Literal(SqlNames.SeriesIdColumn)}, {SqlNames.Literal(SqlNames.TimeColumn)})";
    }

    public static async Task<InfluxDatabase> LoadAsync(SqlQueryService queries, string ns, CancellationToken cancellationToken)
    {
        var result = await queries.ExecuteAsync(Sql(ns), null, cancellationToken);
        if (result.Truncated)
        {
            throw new StatementException($"database {ns} has more tag and field columns than --query-max-rows ({queries.Options.MaxRows}) rows can list; raise --query-max-rows or use SQL on POST /api/v1/sql");
        }

        bool exists = result.Rows.Any(r => Convert.ToInt32(r[0], CultureInfo.InvariantCulture) == 0);
        var database = new InfluxDatabase(ns, exists);
        foreach (var row in result.Rows)
        {
            int kind = Convert.ToInt32(row[0], CultureInfo.InvariantCulture);
            if (kind == 0)
            {
                continue;
            }

            var measurement = database.GetOrAdd(Convert.ToInt32(row[1], CultureInfo.InvariantCulture), (string)row[2]!);
            string column = (string)row[3]!;
            if (kind == 1)
            {
                measurement.AddTag(column);
            }
            else if (InfluxDatabase.FieldTypeOf((string)row[4]!) is { } type)
            {
                measurement.AddField(column, type);
            }
        }

        return database;
    }
}
