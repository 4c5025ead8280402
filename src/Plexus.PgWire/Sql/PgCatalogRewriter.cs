using System.Text;
using System.Text.RegularExpressions;

namespace Plexus.PgWire.Sql;

/// <summary>
/// Rewrites the PostgreSQL-only spellings of client introspection queries (psql's <c>\d</c>, Grafana's and DBeaver's
/// schema browsers) into what the engine's own <c>pg_catalog</c> views answer: <c>OPERATOR(pg_catalog.~)</c> is
/// <c>~</c>, collations and <c>regclass</c>-style casts go, and the few catalog functions the engine lacks become
/// constants (every object belongs to one owner, and nothing has a comment or a tablespace). Only code is rewritten,
/// never the inside of a string or a quoted name; the result is checked and run like any other statement.
/// </summary>
internal static partial class PgCatalogRewriter
{
    /// <summary>Catalog functions the engine lacks, with the constant each one answers here.</summary>
    private static readonly Dictionary<string, string> ConstantFunctions = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pg_get_userbyid"] = "'plexus'",
        ["obj_description"] = "CAST(NULL AS VARCHAR)",
        ["col_description"] = "CAST(NULL AS VARCHAR)",
        ["shobj_description"] = "CAST(NULL AS VARCHAR)",
        ["pg_tablespace_location"] = "''",
        ["pg_get_expr"] = "CAST(NULL AS VARCHAR)",
        ["pg_get_constraintdef"] = "CAST(NULL AS VARCHAR)",
        ["pg_get_triggerdef"] = "CAST(NULL AS VARCHAR)",
        ["pg_get_ruledef"] = "CAST(NULL AS VARCHAR)",
        ["pg_encoding_to_char"] = "'UTF8'",
        ["pg_get_function_identity_arguments"] = "''",
        ["pg_get_partkeydef"] = "CAST(NULL AS VARCHAR)",
        ["pg_get_statisticsobjdef_columns"] = "CAST(NULL AS VARCHAR)",
        ["pg_relation_is_publishable"] = "false",
        ["pg_is_in_recovery"] = "false",
        ["has_table_privilege"] = "true",
        ["has_schema_privilege"] = "true",
        ["has_database_privilege"] = "true",
        ["pg_backend_pid"] = "0",
        ["txid_current"] = "0",
        ["pg_postmaster_start_time"] = "TIMESTAMPTZ '2000-01-01 00:00:00+00'",
        ["array_lower"] = "1",
    };

    /// <summary>
    /// Measurements are views over Plexus's own storage (schema <c>_plexus</c>), but to a person browsing tables they are
    /// the tables: the catalog relations a client lists answer with views as tables and without Plexus's internals.
    /// </summary>
    private static readonly Dictionary<string, string> Relations = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pg_class"] = "(SELECT * REPLACE (CASE WHEN relkind = 'v' THEN 'r' ELSE relkind END AS relkind), false AS relforcerowsecurity FROM pg_catalog.pg_class WHERE relnamespace NOT IN (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = '_plexus'))",
        ["pg_inherits"] = "(SELECT CAST(0 AS BIGINT) AS inhrelid, CAST(0 AS BIGINT) AS inhparent, 0 AS inhseqno, false AS inhdetachpending WHERE false)",
        ["pg_roles"] = "(SELECT CAST(10 AS BIGINT) AS oid, 'plexus' AS rolname, false AS rolsuper, false AS rolinherit, false AS rolcreaterole, false AS rolcreatedb, true AS rolcanlogin, false AS rolreplication, -1 AS rolconnlimit, CAST(NULL AS TIMESTAMPTZ) AS rolvaliduntil, false AS rolbypassrls)",
        ["pg_user"] = "(SELECT 'plexus' AS usename, CAST(10 AS BIGINT) AS usesysid, false AS usecreatedb, false AS usesuper)",
        ["pg_policy"] = "(SELECT CAST(0 AS BIGINT) AS oid, '' AS polname, CAST(0 AS BIGINT) AS polrelid, '' AS polcmd, true AS polpermissive, CAST(NULL AS BIGINT[]) AS polroles, '' AS polqual, '' AS polwithcheck WHERE false)",
        ["pg_statistic_ext"] = "(SELECT CAST(0 AS BIGINT) AS oid, CAST(0 AS BIGINT) AS stxrelid, '' AS stxname, CAST(0 AS BIGINT) AS stxnamespace, CAST(0 AS BIGINT) AS stxowner, -1 AS stxstattarget, CAST(NULL AS INTEGER[]) AS stxkeys, CAST(NULL AS VARCHAR[]) AS stxkind WHERE false)",
        ["pg_publication"] = "(SELECT CAST(0 AS BIGINT) AS oid, '' AS pubname, false AS puballtables WHERE false)",
        ["pg_publication_rel"] = "(SELECT CAST(0 AS BIGINT) AS oid, CAST(0 AS BIGINT) AS prpubid, CAST(0 AS BIGINT) AS prrelid WHERE false)",
        ["pg_trigger"] = "(SELECT CAST(0 AS BIGINT) AS oid, CAST(0 AS BIGINT) AS tgrelid, '' AS tgname, false AS tgisinternal, '' AS tgenabled WHERE false)",
        ["pg_range"] = "(SELECT CAST(0 AS BIGINT) AS rngtypid, CAST(0 AS BIGINT) AS rngsubtype, CAST(0 AS BIGINT) AS rngmultitypid WHERE false)",
        ["pg_namespace"] = "(SELECT * FROM pg_catalog.pg_namespace WHERE nspname <> '_plexus')",

        // No extension is installed: Grafana asks for TimescaleDB's version and reads no row as "not installed".
        ["pg_extension"] = "(SELECT CAST(0 AS BIGINT) AS oid, '' AS extname, CAST(10 AS BIGINT) AS extowner, CAST(0 AS BIGINT) AS extnamespace, false AS extrelocatable, '' AS extversion, CAST(NULL AS BIGINT[]) AS extconfig, CAST(NULL AS VARCHAR[]) AS extcondition WHERE false)",
        ["tables"] = "(SELECT * REPLACE (CASE WHEN table_type = 'VIEW' THEN 'BASE TABLE' ELSE table_type END AS table_type) FROM information_schema.tables WHERE table_schema <> '_plexus')",

        // The engine's system and temp catalogs have a "main" of their own; a client lists the database's schemas once.
        ["schemata"] = "(SELECT * FROM information_schema.schemata WHERE schema_name <> '_plexus' AND catalog_name = current_database())",

        // Tools pick time columns and SQL builders by PostgreSQL's type names.
        ["columns"] = "(SELECT * REPLACE (CASE upper(data_type) WHEN 'TIMESTAMP_NS' THEN 'timestamp without time zone' WHEN 'TIMESTAMP_MS' THEN 'timestamp without time zone' WHEN 'TIMESTAMP_S' THEN 'timestamp without time zone' WHEN 'TIMESTAMP' THEN 'timestamp without time zone' WHEN 'TIMESTAMP WITH TIME ZONE' THEN 'timestamp with time zone' WHEN 'DOUBLE' THEN 'double precision' WHEN 'FLOAT' THEN 'real' WHEN 'BIGINT' THEN 'bigint' WHEN 'INTEGER' THEN 'integer' WHEN 'SMALLINT' THEN 'smallint' WHEN 'VARCHAR' THEN 'text' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'DATE' THEN 'date' WHEN 'UUID' THEN 'uuid' WHEN 'BLOB' THEN 'bytea' ELSE lower(data_type) END AS data_type) FROM information_schema.columns WHERE table_schema <> '_plexus')",
    };

    private static readonly HashSet<string> Keywords = new(StringComparer.OrdinalIgnoreCase)
    {
        "where", "join", "left", "right", "inner", "outer", "full", "cross", "on", "using", "group", "order", "limit",
        "union", "except", "intersect", "natural", "having", "window", "offset", "fetch", "qualify", "lateral",
    };

    /// <param name="searchPath">The session's schemas, for tools that filter tables by search_path.</param>
    public static string Rewrite(string sql, IReadOnlyList<string> searchPath)
    {
        sql = RewriteSearchPathSubquery(sql, searchPath);
        string code = SqlText.CodeOnly(sql);
        if (!code.Contains("pg_", StringComparison.OrdinalIgnoreCase) && !code.Contains("information_schema", StringComparison.OrdinalIgnoreCase) &&
            !code.Contains("description", StringComparison.OrdinalIgnoreCase) && !code.Contains("privilege", StringComparison.OrdinalIgnoreCase) &&
            !code.Contains("parse_ident", StringComparison.OrdinalIgnoreCase))
        {
            return sql;
        }

        var replacements = new List<(int Start, int Length, string Text)>();
        foreach (Match match in Operator().Matches(code))
        {
            replacements.Add((match.Index, match.Length, " " + match.Groups["op"].Value + " "));
        }

        foreach (Match match in Collate().Matches(code))
        {
            replacements.Add((match.Index, match.Length, " "));
        }

        foreach (Match match in RegCast().Matches(code))
        {
            replacements.Add((match.Index, match.Length, ""));
        }

        foreach (Match match in CatalogTypeCast().Matches(code))
        {
            replacements.Add((match.Index, match.Length, "::"));
        }

        foreach (Match match in Relation().Matches(code))
        {
            string name = match.Groups["name"].Value;
            string? schema = match.Groups["schema"].Success ? match.Groups["schema"].Value.ToLowerInvariant() : null;
            bool informationSchema = name.ToLowerInvariant() is "tables" or "schemata" or "columns";

            // "tables" alone may be anybody's measurement; pg_class under another schema is not the catalog's.
            if (informationSchema ? schema != "information_schema" : schema is not (null or "pg_catalog"))
            {
                continue;
            }

            // Without an alias of its own, the subquery takes the relation's name, which the rest may qualify columns with.
            var next = NextWord().Match(code, match.Index + match.Length);
            bool aliased = next.Success && next.Groups["word"].Value.Length > 0 && !Keywords.Contains(next.Groups["word"].Value);
            replacements.Add((match.Index, match.Length, Relations[name] + (aliased ? "" : " AS " + name)));
        }

        foreach (Match match in FunctionCall().Matches(code))
        {
            string function = match.Groups["name"].Value.ToLowerInvariant();
            if (function is "quote_ident")
            {
                // Names here are plain: the name itself is what a comparison with it needs.
                replacements.Add((match.Index, match.Length - 1, ""));
                continue;
            }

            if (function is "parse_ident")
            {
                // Grafana splits a literal table name; the engine has no parse_ident, so the list is made here.
                int end = ClosingParenthesis(code, match.Index + match.Length - 1);
                if (end > 0 && StringLiteral(sql[(match.Index + match.Length)..end]) is { } name)
                {
                    replacements.Add((match.Index, end + 1 - match.Index, "[" + string.Join(", ", ParseIdentifier(name).Select(PgParameters.Quote)) + "]"));
                }

                continue;
            }

            if (function is "array_upper")
            {
                // array_upper(a, 1) of a one-dimensional list is its length.
                int end = ClosingParenthesis(code, match.Index + match.Length - 1);
                int comma = end > 0 ? LastTopLevelComma(code, match.Index + match.Length, end) : -1;
                if (comma > 0)
                {
                    replacements.Add((match.Index, match.Length, "len("));
                    replacements.Add((comma, end - comma, ""));
                }

                continue;
            }

            if (!ConstantFunctions.TryGetValue(match.Groups["name"].Value, out string? constant))
            {
                // The engine finds its catalog functions without the schema, and no other function under it.
                if (match.Groups["schema"].Success)
                {
                    replacements.Add((match.Index, match.Groups["name"].Index - match.Index, ""));
                }

                continue;
            }

            int close = ClosingParenthesis(code, match.Index + match.Length - 1);
            if (close > 0)
            {
                replacements.Add((match.Index, close + 1 - match.Index, constant));
            }
        }

        if (replacements.Count == 0)
        {
            return sql;
        }

        replacements.Sort((a, b) => a.Start.CompareTo(b.Start));
        var text = new StringBuilder(sql.Length);
        int copied = 0;
        foreach (var (start, length, replacement) in replacements)
        {
            if (start < copied)
            {
                continue;
            }

            text.Append(sql, copied, start - copied).Append(replacement);
            copied = start + length;
        }

        return text.Append(sql, copied, sql.Length - copied).ToString();
    }

    /// <summary>
    /// Grafana's table listing keeps the schemas of the search path with a subquery that uses PostgreSQL's
    /// set-returning functions in FROM (<c>generate_series(…) as i, string_to_array(…) s</c>), which the engine reads
    /// differently; the subquery's answer is the session's search path, so it becomes that list.
    /// </summary>
    private static string RewriteSearchPathSubquery(string sql, IReadOnlyList<string> searchPath)
    {
        string list = string.Join(", ", searchPath.Select(PgParameters.Quote));

        // Grafana's table listing has the subquery twice (the CASE that qualifies names and the ORDER BY); from the
        // last to the first, so that the positions of the earlier ones stay put.
        string code = SqlText.CodeOnly(sql);
        foreach (Match match in SearchPathSubquery().Matches(code).Reverse())
        {
            int open = code.IndexOf('(', match.Index);
            int close = ClosingParenthesis(code, open);
            if (close > 0)
            {
                sql = sql[..open] + "(" + (list.Length == 0 ? "NULL" : list) + ")" + sql[(close + 1)..];
            }
        }

        return sql;
    }

    /// <summary>The text of a single string literal (<c>'a''b'</c> → <c>a'b</c>), or null when the text is anything else.</summary>
    private static string? StringLiteral(string text)
    {
        text = text.Trim();
        if (text.Length < 2 || text[0] != '\'' || text[^1] != '\'' || text[1..^1].Replace("''", "", StringComparison.Ordinal).Contains('\''))
        {
            return null;
        }

        return text[1..^1].Replace("''", "'", StringComparison.Ordinal);
    }

    /// <summary>
    /// PostgreSQL's <c>parse_ident</c>: a dotted name's parts, plain parts in lower case, quoted ones as written with
    /// <c>""</c> read as one quote.
    /// </summary>
    private static List<string> ParseIdentifier(string name)
    {
        var parts = new List<string>();
        int i = 0;
        while (true)
        {
            while (i < name.Length && char.IsWhiteSpace(name[i]))
            {
                i++;
            }

            var part = new StringBuilder();
            if (i < name.Length && name[i] == '"')
            {
                i++;
                while (true)
                {
                    if (i >= name.Length)
                    {
                        throw NotAnIdentifier(name, "a quoted part has no closing double quote");
                    }

                    if (name[i] == '"' && (i + 1 >= name.Length || name[i + 1] != '"'))
                    {
                        i++;
                        break;
                    }

                    part.Append(name[i]);
                    i += name[i] == '"' ? 2 : 1;
                }
            }
            else
            {
                while (i < name.Length && name[i] != '.' && !char.IsWhiteSpace(name[i]))
                {
                    part.Append(char.ToLowerInvariant(name[i]));
                    i++;
                }
            }

            if (part.Length == 0)
            {
                throw NotAnIdentifier(name, "a part of the name is empty");
            }

            parts.Add(part.ToString());
            while (i < name.Length && char.IsWhiteSpace(name[i]))
            {
                i++;
            }

            if (i >= name.Length)
            {
                return parts;
            }

            if (name[i] != '.')
            {
                throw NotAnIdentifier(name, "parts are separated by dots");
            }

            i++;
        }
    }

    private static PgException NotAnIdentifier(string name, string reason) =>
        new(PgErrorCodes.InvalidParameterValue, $"string is not a valid identifier: \"{name}\" ({reason}; write schema.table, with double quotes around a part that has capitals or dots)");

    private static int LastTopLevelComma(string code, int start, int end)
    {
        int depth = 0;
        int last = -1;
        for (int i = start; i < end; i++)
        {
            depth += code[i] switch
            {
                '(' => 1,
                ')' => -1,
                _ => 0,
            };
            if (code[i] == ',' && depth == 0)
            {
                last = i;
            }
        }

        return last;
    }

    private static int ClosingParenthesis(string code, int open)
    {
        int depth = 0;
        for (int i = open; i < code.Length; i++)
        {
            if (code[i] == '(')
            {
                depth++;
            }
            else if (code[i] == ')' && --depth == 0)
            {
                return i;
            }
        }

        return -1;
    }

    [GeneratedRegex(@"\bIN\s*\(\s*SELECT\s+CASE\s+WHEN\s+trim\s*\(\s*s\s*\[\s*i\s*\]\s*\)", RegexOptions.IgnoreCase)]
    private static partial Regex SearchPathSubquery();

    [GeneratedRegex(@"OPERATOR\s*\(\s*(?:pg_catalog\s*\.\s*)?(?<op>[~!<>=*+\-/@#%^&|]+)\s*\)", RegexOptions.IgnoreCase)]
    private static partial Regex Operator();

    [GeneratedRegex(@"\bCOLLATE\s+(?:pg_catalog\s*\.\s*)?(?:default|""default""|""C""|""POSIX"")", RegexOptions.IgnoreCase)]
    private static partial Regex Collate();

    [GeneratedRegex(@"::\s*(?:pg_catalog\s*\.\s*)?(?:regclass|regtype|regproc|regprocedure|regnamespace|regrole|regoper)\b", RegexOptions.IgnoreCase)]
    private static partial Regex RegCast();

    [GeneratedRegex(@"(?<![.\w])(?:(?<schema>pg_catalog|information_schema)\s*\.\s*)?(?<name>pg_class|pg_namespace|pg_extension|pg_inherits|pg_roles|pg_user|pg_policy|pg_statistic_ext|pg_publication|pg_publication_rel|pg_trigger|pg_range|tables|schemata|columns)\b(?!\s*[.(])", RegexOptions.IgnoreCase)]
    private static partial Regex Relation();

    [GeneratedRegex(@"\G\s*(?<word>[A-Za-z_]\w*)?")]
    private static partial Regex NextWord();

    [GeneratedRegex(@"::\s*pg_catalog\s*\.\s*(?!reg)", RegexOptions.IgnoreCase)]
    private static partial Regex CatalogTypeCast();

    [GeneratedRegex(@"(?<schema>\bpg_catalog\s*\.\s*)?\b(?<name>[a-z_]+)\s*\(", RegexOptions.IgnoreCase)]
    private static partial Regex FunctionCall();
}
