namespace Plexus.PgWire.Sql;

/// <summary>An answer the wire layer makes itself: column names and rows of text (null is SQL NULL).</summary>
internal sealed record CannedResult(string[] Columns, string?[][] Rows);

/// <summary>
/// The answers to drivers' type-loading queries. Npgsql (and drivers like it) read <c>pg_type</c> on connect to learn
/// the OIDs of the types a server sends; the engine's own <c>pg_type</c> lists DuckDB's types, so these queries are
/// answered here with PostgreSQL's OIDs of exactly the types this listener sends and takes.
/// </summary>
internal static class PgTypeCatalog
{
    private static readonly (int Oid, string Name, int ArrayOid)[] BaseTypes =
    [
        (16, "bool", 1000), (17, "bytea", 1001), (18, "char", 1002), (19, "name", 1003), (20, "int8", 1016),
        (21, "int2", 1005), (23, "int4", 1007), (25, "text", 1009), (26, "oid", 1028), (114, "json", 199),
        (700, "float4", 1021), (701, "float8", 1022), (1042, "bpchar", 1014), (1043, "varchar", 1015),
        (1082, "date", 1182), (1083, "time", 1183), (1114, "timestamp", 1115), (1184, "timestamptz", 1185),
        (1186, "interval", 1187), (1266, "timetz", 1270), (1700, "numeric", 1231), (2950, "uuid", 2951),
        (3802, "jsonb", 3807),
    ];

    /// <summary>The canned answer for a statement a driver sends to load types, or null for any other statement.</summary>
    public static CannedResult? TryAnswer(string sql, string code)
    {
        // Npgsql's type query: its column list and its joins through typreceive are its fingerprint.
        if (code.Contains("elemtypoid", StringComparison.Ordinal) && code.Contains("typreceive", StringComparison.Ordinal) && code.Contains("pg_type", StringComparison.Ordinal))
        {
            var rows = new List<string?[]>();
            foreach (var (oid, name, arrayOid) in BaseTypes)
            {
                rows.Add(["pg_catalog", Text(oid), name, "b", "f", null]);
                rows.Add(["pg_catalog", Text(arrayOid), "_" + name, "a", "f", Text(oid)]);
            }

            rows.Add(["pg_catalog", "705", "unknown", "p", "f", null]);
            return new CannedResult(["nspname", "oid", "typname", "typtype", "typnotnull", "elemtypoid"], [.. rows]);
        }

        // Fields of composite types and labels of enums: Plexus sends neither.
        if (code.Contains("atttypid", StringComparison.Ordinal) && sql.Contains("typtype = 'c'", StringComparison.Ordinal) && code.Contains("typrelid", StringComparison.Ordinal))
        {
            return new CannedResult(["oid", "attname", "atttypid"], []);
        }

        if (code.Contains("enumlabel", StringComparison.Ordinal) && code.Contains("pg_enum", StringComparison.Ordinal) && code.Contains("typnamespace", StringComparison.Ordinal))
        {
            return new CannedResult(["oid", "enumlabel"], []);
        }

        return null;
    }

    private static string Text(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
