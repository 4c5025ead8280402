namespace Plexus.Query.ReadOnly;

/// <summary>
/// What a query may call. Writes to tables, views, macros, sequences and types are refused by the engine itself (every
/// query runs in a read-only transaction), settings are locked and file access is off; what is left are functions
/// that act outside a transaction — a checkpoint, the engine's logging and profiling switches, a sleep, a scan of raw
/// memory addresses. Table functions are allowed by name (a DuckDB upgrade that adds one fails
/// <c>Every_table_function_of_the_engine_is_classified</c> until someone decides); scalar functions are refused by name.
/// </summary>
internal static class SqlFunctionPolicy
{
    /// <summary>Table functions a query may use: they read the catalog, generate rows, or are expanded before they run.</summary>
    public static readonly IReadOnlySet<string> AllowedTableFunctions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "seq_scan", "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree", "summary",
        "query", "query_table", "sql_auto_complete", "test_all_types", "test_vector_types",
        "pragma_collations", "pragma_database_size", "pragma_metadata_info", "pragma_platform", "pragma_show",
        "pragma_storage_info", "pragma_table_info", "pragma_user_agent", "pragma_version",
        "pg_timezone_names", "icu_calendar_names",
        "duckdb_approx_database_count", "duckdb_columns", "duckdb_constraints", "duckdb_coordinate_systems",
        "duckdb_databases", "duckdb_dependencies", "duckdb_extensions", "duckdb_functions", "duckdb_indexes",
        "duckdb_keywords", "duckdb_memory", "duckdb_optimizers", "duckdb_prepared_statements", "duckdb_schemas",
        "duckdb_sequences", "duckdb_settings", "duckdb_table_sample", "duckdb_tables", "duckdb_types",
        "duckdb_variables", "duckdb_views", "duckdb_connection_count",
    };

    /// <summary>Table functions refused, each with the reason a person reads in the 403.</summary>
    public static readonly IReadOnlyDictionary<string, string> RefusedTableFunctions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["checkpoint"] = "it checkpoints the database, which is the server's job",
        ["force_checkpoint"] = "it checkpoints the database, which is the server's job",
        ["enable_logging"] = "it changes the engine's logging for every connection",
        ["disable_logging"] = "it changes the engine's logging for every connection",
        ["truncate_duckdb_logs"] = "it deletes the engine's logs",
        ["duckdb_logs"] = "the engine's logs can hold other users' statements",
        ["duckdb_log_contexts"] = "the engine's logs can hold other users' statements",
        ["enable_profiling"] = "profiling is the server's to switch",
        ["disable_profiling"] = "profiling is the server's to switch",
        ["enable_peg_parser"] = "it changes the engine's parser",
        ["disable_peg_parser"] = "it changes the engine's parser",
        ["check_peg_parser"] = "it exercises the engine's experimental parser",
        ["json_execute_serialized_sql"] = "it runs a statement that was not checked",
        ["arrow_scan"] = "it reads raw memory addresses",
        ["arrow_scan_dumb"] = "it reads raw memory addresses",
        ["duckdb_secrets"] = "secrets are not the query API's",
        ["duckdb_secret_types"] = "secrets are not the query API's",
        ["which_secret"] = "secrets are not the query API's",
        ["duckdb_temporary_files"] = "it lists the server's files",
        ["duckdb_external_file_cache"] = "it lists the server's files",
        ["read_csv"] = FileAccess,
        ["read_csv_auto"] = FileAccess,
        ["sniff_csv"] = FileAccess,
        ["read_json"] = FileAccess,
        ["read_json_auto"] = FileAccess,
        ["read_json_objects"] = FileAccess,
        ["read_json_objects_auto"] = FileAccess,
        ["read_ndjson"] = FileAccess,
        ["read_ndjson_auto"] = FileAccess,
        ["read_ndjson_objects"] = FileAccess,
        ["read_parquet"] = FileAccess,
        ["parquet_scan"] = FileAccess,
        ["parquet_metadata"] = FileAccess,
        ["parquet_file_metadata"] = FileAccess,
        ["parquet_full_metadata"] = FileAccess,
        ["parquet_kv_metadata"] = FileAccess,
        ["parquet_schema"] = FileAccess,
        ["parquet_bloom_probe"] = FileAccess,
        ["read_blob"] = FileAccess,
        ["read_text"] = FileAccess,
        ["read_duckdb"] = FileAccess,
        ["glob"] = FileAccess,
    };

    /// <summary>Scalar functions refused: they change state that outlives the query's transaction, or only wait.</summary>
    public static readonly IReadOnlyDictionary<string, string> RefusedScalarFunctions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["nextval"] = "it advances a sequence",
        ["currval"] = "sequences are the server's",
        ["setseed"] = "it changes the random generator other statements share",
        ["sleep_ms"] = "it only holds a query slot",
        ["write_log"] = "it writes to the engine's log",
    };

    /// <summary>
    /// Plan operators that only read. Anything else in a plan (INSERT, DELETE, CREATE, ATTACH, SET, COPY, PRAGMA,
    /// a transaction, an operator a later DuckDB adds) is refused.
    /// </summary>
    public static readonly IReadOnlySet<string> ReadOperators = new HashSet<string>(StringComparer.Ordinal)
    {
        "LOGICAL_GET", "LOGICAL_CHUNK_GET", "LOGICAL_DELIM_GET", "LOGICAL_EMPTY_RESULT", "LOGICAL_EXPRESSION_GET",
        "LOGICAL_ANY_JOIN", "LOGICAL_ASOF_JOIN", "LOGICAL_DEPENDENT_JOIN", "LOGICAL_COMPARISON_JOIN", "LOGICAL_DELIM_JOIN",
        "LOGICAL_PROJECTION", "LOGICAL_FILTER", "LOGICAL_AGGREGATE_AND_GROUP_BY", "LOGICAL_WINDOW", "LOGICAL_UNNEST",
        "LOGICAL_LIMIT", "LOGICAL_ORDER_BY", "LOGICAL_TOP_N", "LOGICAL_SAMPLE", "LOGICAL_LIMIT_PERCENT", "LOGICAL_JOIN",
        "LOGICAL_CROSS_PRODUCT", "LOGICAL_POSITIONAL_JOIN", "LOGICAL_UNION", "LOGICAL_EXCEPT", "LOGICAL_INTERSECT",
        "LOGICAL_DISTINCT", "LOGICAL_DUMMY_SCAN", "LOGICAL_RECURSIVE_CTE", "LOGICAL_MATERIALIZED_CTE", "LOGICAL_CTE_REF",
        "LOGICAL_SHOW", "LOGICAL_PIVOT",
    };

    private const string FileAccess = "the server's files are out of SQL's reach; load data through the write API";
}
