using System.Text.Json;
using DuckDB.NET.Data;
using DuckDB.NET.Native;
using Plexus.Storage.Schema;

namespace Plexus.Query.ReadOnly;

/// <summary>
/// Decides whether a statement may run on the query API, from the engine's own bound plan rather than from the
/// statement's text. The connection it runs on is already read-only (see <c>PlexusStore.OpenReadConnection</c>):
/// this check refuses, before anything runs, what a read-only transaction does not stop — functions that act outside
/// the transaction, plan operators that are not reads — and what a namespace-limited token may not see.
/// </summary>
/// <remarks>
/// Design note: <c>json_serialize_plan</c> parses, binds and plans the statement on the query's own connection, so the
/// plan it returns is the one the statement will get: views and macros expanded, <c>query('…')</c> strings parsed,
/// every scanned table and every function resolved. Walking that tree is what makes wrappers irrelevant: an
/// <c>EXPLAIN ANALYZE</c>, a CTE, a macro or a table function that hides a statement all show up as the operators and
/// functions they really run. <c>EXPLAIN</c> itself has no serializable plan, so it is taken apart
/// (<see cref="ExplainStatement"/>), the statement it wraps is checked like any other, and what runs is rebuilt from
/// the checked statement.
/// </remarks>
internal static partial class ReadOnlyQuery
{
    /// <summary>What every refused write is told: what may run here, and where data comes in instead.</summary>
    internal const string ReadOnlyRule = "the SQL API only reads: SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN run here; data comes in through the write API (POST /api/v2/write) or MQTT, and devices, assets and geofences are changed through their own endpoints";

    /// <summary>Checks <paramref name="sql"/>; returns the statement to run (the same text, or a rebuilt EXPLAIN).</summary>
    /// <exception cref="QueryRefusedException">The statement is not a read, or reaches beyond the caller's namespaces.</exception>
    /// <exception cref="QueryFailedException">The statement does not parse or bind.</exception>
    public static string Check(DuckDBConnection connection, string sql, IReadOnlyCollection<string>? namespaces, string? coldDirectory = null)
    {
        if (sql.Contains('\0', StringComparison.Ordinal))
        {
            throw new QueryFailedException("the SQL holds a NUL character");
        }

        RequireOneStatement(connection, sql);
        string checkedSql = sql;
        string runSql = sql;
        if (ExplainStatement.TryParse(sql, out var explain, out string? problem))
        {
            if (explain is null)
            {
                throw new QueryRefusedException(problem!);
            }

            RequireOneStatement(connection, explain.Inner);
            checkedSql = explain.Inner;
            runSql = explain.ToSql();
        }

        string plan = SerializePlan(connection, checkedSql);
        using var document = JsonDocument.Parse(plan);
        var root = document.RootElement;
        if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.True)
        {
            var failure = PlanError(root);

            // A write that does not even bind (INSERT into a view, DELETE from a missing table) is still a write: the
            // person gets the query API's rule, not the engine's complaint about the statement they should not send.
            if (failure is QueryFailedException && !IsQuery(connection, checkedSql))
            {
                throw new QueryRefusedException(ReadOnlyRule);
            }

            throw failure;
        }

        var scope = namespaces is null ? null : NamespaceScope.Load(connection, namespaces);
        Walk(root.GetProperty("plans"), scope, coldDirectory);
        return runSql;
    }

    private static string SerializePlan(DuckDBConnection connection, string sql)
    {
        // The function takes a constant only. Doubling quotes is the whole of a standard string literal's escaping,
        // and the engine reads the text up to a NUL (refused before this), so the literal holds exactly the statement.
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT json_serialize_plan(" + SqlNames.Literal(sql) + ")";
        try
        {
            return (string)command.ExecuteScalar()!;
        }
        catch (DuckDBException error)
        {
            throw new QueryFailedException(error.Message, error);
        }
    }

    /// <summary>
    /// Whether the statement parses as a query (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, PIVOT …) or as a CALL or
    /// PRAGMA of a table function. Only used to choose between two refusals' wording, never to let anything run.
    /// </summary>
    private static bool IsQuery(DuckDBConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT json_serialize_sql(" + SqlNames.Literal(sql) + ")";
        string parsed = (string)command.ExecuteScalar()!;
        if (!parsed.Contains("Only SELECT statements", StringComparison.Ordinal))
        {
            return true;
        }

        string start = sql.TrimStart();
        return start.StartsWith("CALL", StringComparison.OrdinalIgnoreCase) || start.StartsWith("PRAGMA", StringComparison.OrdinalIgnoreCase);
    }

    private static Exception PlanError(JsonElement root)
    {
        string type = root.TryGetProperty("error_type", out var t) ? t.GetString() ?? "" : "";
        string message = root.TryGetProperty("error_message", out var m) ? m.GetString() ?? "" : "";
        if (type.Equals("permission", StringComparison.OrdinalIgnoreCase))
        {
            return new QueryRefusedException("Permission Error: " + message);
        }

        if (message.Contains("statement of type MULTI", StringComparison.Ordinal))
        {
            return new QueryRefusedException("this PIVOT first creates a type of its values, which a read-only query cannot do; list the values instead: PIVOT t ON col IN ('a', 'b') USING ...");
        }

        if (message.Contains("does not support serialization", StringComparison.Ordinal) || message.Contains("Only SELECT statements", StringComparison.Ordinal)
            || message.Contains("Cannot plan statement", StringComparison.Ordinal))
        {
            return new QueryRefusedException(ReadOnlyRule);
        }

        if (type.Equals("internal", StringComparison.OrdinalIgnoreCase))
        {
            return new QueryFailedException("the statement could not be planned; the query API takes no parameters ($1, ?): write values into the statement");
        }

        string kind = type.Length == 0 ? "" : char.ToUpperInvariant(type[0]) + type[1..];
        return new QueryFailedException(kind.Length == 0 ? message : $"{kind} Error: {message}");
    }

    private static void Walk(JsonElement element, NamespaceScope? scope, string? coldDirectory)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, scope, coldDirectory);
                }

                break;
            case JsonValueKind.Object:
                CheckNode(element, scope, coldDirectory);
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
                    {
                        Walk(property.Value, scope, coldDirectory);
                    }
                }

                break;
        }
    }

    private static void CheckNode(JsonElement node, NamespaceScope? scope, string? coldDirectory)
    {
        if (node.TryGetProperty("expression_class", out var expressionClass))
        {
            if (expressionClass.ValueEquals("BOUND_FUNCTION") && node.TryGetProperty("name", out var function)
                && SqlFunctionPolicy.RefusedScalarFunctions.TryGetValue(function.GetString() ?? "", out string? why))
            {
                throw new QueryRefusedException($"{function.GetString()}() is not available on the query API: {why}");
            }

            return;
        }

        if (!node.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || !node.TryGetProperty("children", out _))
        {
            return;
        }

        string op = type.GetString()!;
        if (!SqlFunctionPolicy.ReadOperators.Contains(op))
        {
            string what = op.StartsWith("LOGICAL_", StringComparison.Ordinal) ? op["LOGICAL_".Length..].Replace('_', ' ') : op;
            throw new QueryRefusedException($"this statement would run {what}, which is not a read; {ReadOnlyRule}");
        }

        if (op == "LOGICAL_GET" && node.TryGetProperty("name", out var nameElement))
        {
            string name = nameElement.GetString() ?? "";
            if (name == "read_parquet" && coldDirectory is not null && ColdMeasurements(node, coldDirectory) is { } measurementIds)
            {
                // The views of measurements with compacted partitions read their files; a statement naming those files
                // itself reads what the views show, and only of measurements the caller may read.
                scope?.CheckColdFiles(measurementIds);
                return;
            }

            if (SqlFunctionPolicy.RefusedTableFunctions.TryGetValue(name, out string? why))
            {
                throw new QueryRefusedException($"{name}() is not available on the query API: {why}");
            }

            if (!SqlFunctionPolicy.AllowedTableFunctions.Contains(name))
            {
                throw new QueryRefusedException($"{name}() is not available on the query API");
            }

            scope?.CheckGet(name, node);
        }
    }

    /// <summary>
    /// The measurement ids of the files a <c>read_parquet</c> reads when every one is a cold-tier file
    /// (<c>{cold}/m{id}/{name}.parquet</c>, no other path, no pattern); otherwise null, and the function is refused as file access.
    /// </summary>
    private static List<int>? ColdMeasurements(JsonElement node, string coldDirectory)
    {
        if (!node.TryGetProperty("function_data", out var data) || data.ValueKind != JsonValueKind.Object
            || !data.TryGetProperty("files", out var files) || files.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var ids = new List<int>();
        foreach (var file in files.EnumerateArray())
        {
            string path = file.GetString() ?? "";
            if (!path.StartsWith(coldDirectory, StringComparison.Ordinal) || Path.GetFullPath(path) != path)
            {
                return null;
            }

            var match = ColdFileName().Match(path[coldDirectory.Length..]);
            if (!match.Success || !int.TryParse(match.Groups[1].ValueSpan, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int id))
            {
                return null;
            }

            ids.Add(id);
        }

        return ids.Count == 0 ? null : ids;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^m([0-9]{1,9})/[0-9A-Za-z-]+\.parquet$")]
    private static partial System.Text.RegularExpressions.Regex ColdFileName();

    private static void RequireOneStatement(DuckDBConnection connection, string sql)
    {
        int count = NativeMethods.ExtractStatements.DuckDBExtractStatements(connection.NativeConnection, sql, out var statements);
        using (statements)
        {
            if (count <= 0)
            {
                string message = NativeMethods.ExtractStatements.DuckDBExtractStatementsError(statements);

                // Some statements (IMPORT DATABASE) reach for files while they are parsed; that is a refusal too.
                throw message.StartsWith("Permission Error", StringComparison.Ordinal)
                    ? new QueryRefusedException(message)
                    : new QueryFailedException(string.IsNullOrEmpty(message) ? "the SQL holds no statement" : message);
            }

            if (count > 1)
            {
                throw new QueryFailedException($"send one statement per request (this SQL holds {count}; a PIVOT without an IN list counts as two, since it first creates a type: list the values, PIVOT t ON col IN ('a', 'b') USING ...)");
            }
        }
    }

    /// <summary>The tables a namespace-limited caller may scan: the data and series tables of its namespaces' measurements.</summary>
    private sealed class NamespaceScope
    {
        private static readonly HashSet<string> ScopedTableFunctions = new(StringComparer.OrdinalIgnoreCase)
        {
            "seq_scan", "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree", "summary",
        };

        private readonly HashSet<string> _tables = new(StringComparer.Ordinal);
        private readonly string _names;

        private NamespaceScope(IReadOnlyCollection<string> namespaces)
        {
            _names = string.Join(", ", namespaces);
        }

        public static NamespaceScope Load(DuckDBConnection connection, IReadOnlyCollection<string> namespaces)
        {
            var scope = new NamespaceScope(namespaces);
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT id FROM {SqlNames.InternalSchema}.measurements WHERE list_contains($1, namespace)";
            command.Parameters.Add(new DuckDBParameter(namespaces.ToArray()));
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                int id = reader.GetInt32(0);
                scope._tables.Add(SqlNames.DataTable(id));
                scope._tables.Add(SqlNames.SeriesTable(id));
            }

            // A rollup's view in a namespace reads its table in the internal schema.
            reader.Close();
            command.CommandText = $"SELECT table_name FROM duckdb_tables() WHERE schema_name = '{SqlNames.InternalSchema}' AND table_name = 'rollups'";
            command.Parameters.Clear();
            if (command.ExecuteScalar() is not null)
            {
                command.CommandText = $"SELECT 'rollup_' || id FROM {Storage.Rollups.RollupRegistry.Table} WHERE list_contains($1, namespace)";
                command.Parameters.Add(new DuckDBParameter(namespaces.ToArray()));
                using var rollups = command.ExecuteReader();
                while (rollups.Read())
                {
                    scope._tables.Add(rollups.GetString(0));
                }
            }

            return scope;
        }

        public void CheckColdFiles(List<int> measurementIds)
        {
            if (!measurementIds.TrueForAll(id => _tables.Contains(SqlNames.DataTable(id))))
            {
                throw new QueryRefusedException($"this token reads namespace(s) {_names} only; the query reads a table outside them");
            }
        }

        public void CheckGet(string function, JsonElement node)
        {
            if (!ScopedTableFunctions.Contains(function))
            {
                throw new QueryRefusedException($"this token reads namespace(s) {_names} only, and {function}() reaches beyond them");
            }

            if (function != "seq_scan")
            {
                return;
            }

            string schema = "";
            string table = "";
            if (node.TryGetProperty("function_data", out var data) && data.ValueKind == JsonValueKind.Object)
            {
                schema = data.TryGetProperty("schema", out var s) ? s.GetString() ?? "" : "";
                table = data.TryGetProperty("table", out var t) ? t.GetString() ?? "" : "";
            }

            if (schema != SqlNames.InternalSchema || !_tables.Contains(table))
            {
                throw new QueryRefusedException($"this token reads namespace(s) {_names} only; the query reads a table outside them");
            }
        }
    }
}
