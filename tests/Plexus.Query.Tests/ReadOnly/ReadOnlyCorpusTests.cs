using System.Text;
using DuckDB.NET.Data;
using Plexus.Devices;
using Plexus.Query.Functions;
using Plexus.Storage;
using Plexus.TestKit;

namespace Plexus.Query.Tests.ReadOnly;

/// <summary>
/// Every statement of <c>hostile-statements.txt</c> against a real store: refused (or rejected), and afterwards the
/// store, its settings, its write-ahead log and its folder are exactly as before.
/// </summary>
public sealed class ReadOnlyCorpusTests : IClassFixture<ReadOnlyCorpusTests.Store>
{
    private readonly Store _store;

    public ReadOnlyCorpusTests(Store store)
    {
        _store = store;
    }

    public static TheoryData<int, string, string> Corpus()
    {
        var data = new TheoryData<int, string, string>();
        string text = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "ReadOnly", "hostile-statements.txt"));
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            // A statement may go on over lines that are not blank and do not start a new entry.
            var statement = new StringBuilder(line[6..]);
            int first = i;
            while (i + 1 < lines.Length && lines[i + 1].Trim().Length > 0 && !lines[i + 1].StartsWith('#') && !(lines[i + 1].Length > 5 && lines[i + 1][4] == '|'))
            {
                statement.Append('\n').Append(lines[++i].TrimEnd('\r'));
            }

            data.Add(first + 1, line[..3], statement.ToString());
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Hostile_statement_changes_nothing(int line, string expected, string sql)
    {
        string before = _store.Fingerprint();

        var error = await Record.ExceptionAsync(() => _store.Queries.ExecuteAsync(sql, null, CancellationToken.None));

        Assert.True(error is not null, $"line {line} ran: {sql}");
        if (expected == "403")
        {
            Assert.True(error is QueryRefusedException, $"line {line} should be refused (403), got {error.GetType().Name}: {error.Message}");
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
        else
        {
            Assert.True(error is QueryRefusedException or QueryFailedException, $"line {line}: {error.GetType().Name}: {error.Message}");
        }

        Assert.Equal(before, _store.Fingerprint());
    }

    [Fact]
    public async Task Reads_the_corpus_guards_against_still_run()
    {
        string before = _store.Fingerprint();

        foreach (string sql in new[]
        {
            "SELECT count(*) FROM main.m",
            "EXPLAIN SELECT count(*) FROM main.m",
            "EXPLAIN ANALYZE SELECT count(*) FROM main.m",
            "EXPLAIN (ANALYZE, FORMAT json) SELECT count(*) FROM main.m",
            "DESCRIBE main.m",
            "SHOW TABLES",
            "SUMMARIZE main.m",
            "SELECT * FROM duckdb_tables() LIMIT 1",
            "SELECT * FROM query('SELECT 1 AS one')",
            "PIVOT main.m ON host IN ('a', 'b') USING sum(v)",
            "WITH t AS (SELECT * FROM range(3)) SELECT sum(range) FROM t",
            "SELECT * FROM main.time_grid(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-02', INTERVAL 1 HOUR) LIMIT 1",
            "SELECT current_setting('memory_limit')",

            // Comments nest: what looks like a DELETE is inside one, and the statement checked and run is SELECT 1.
            "EXPLAIN ANALYZE /* /* nested */ DELETE FROM _plexus.measurements */ SELECT 1",
        })
        {
            var result = await _store.Queries.ExecuteAsync(sql, null, CancellationToken.None);
            Assert.NotEmpty(result.Rows);
        }

        Assert.Equal(before, _store.Fingerprint());
    }

    [Fact]
    public async Task No_table_or_view_a_query_can_read_holds_a_device_token_or_its_hash()
    {
        var columns = await _store.Queries.ExecuteAsync(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE data_type = 'VARCHAR' AND NOT internal", null, CancellationToken.None);
        Assert.NotEmpty(columns.Rows);

        foreach (var column in columns.Rows)
        {
            string source = $"\"{column[0]}\".\"{column[1]}\"";
            var hits = await _store.Queries.ExecuteAsync(
                $"SELECT count(*) FROM {source} WHERE \"{column[2]}\" ILIKE '%{_store.DeviceTokenHash}%' OR \"{column[2]}\" LIKE '%{_store.DeviceToken}%'", null, CancellationToken.None);
            Assert.True(Convert.ToInt64(hits.Rows[0][0], System.Globalization.CultureInfo.InvariantCulture) == 0, $"{source}.{column[2]} holds the device's token or its hash");
        }
    }

    [Fact]
    public async Task Every_table_function_of_the_engine_is_classified()
    {
        var result = await _store.Queries.ExecuteAsync(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'table' ORDER BY 1", null, CancellationToken.None);
        var unclassified = result.Rows.Select(r => (string)r[0]!)
            .Where(name => !Plexus.Query.ReadOnly.SqlFunctionPolicy.AllowedTableFunctions.Contains(name) && !Plexus.Query.ReadOnly.SqlFunctionPolicy.RefusedTableFunctions.ContainsKey(name))
            .ToList();

        Assert.True(unclassified.Count == 0, "table functions nobody decided on (allow or refuse in SqlFunctionPolicy): " + string.Join(", ", unclassified));
    }

    /// <summary>A store with data, registries, macros and a sequence, and a write-ahead log that a checkpoint would empty.</summary>
    public sealed class Store : IAsyncLifetime, IDisposable
    {
        private readonly TempDirectory _directory = new("plexus-readonly");
        private PlexusStore? _store;
        private DeviceRegistry? _devices;

        public SqlQueryService Queries { get; private set; } = null!;

        public string DeviceToken { get; private set; } = "";

        public string DeviceTokenHash => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(DeviceToken)));

        public async Task InitializeAsync()
        {
            _store = PlexusStore.Open(new StorageOptions { DataDirectory = _directory.Path, MemoryLimit = "1GB" });
            TimeFunctions.Install(_store);
            _devices = DeviceRegistry.Open(_store);
            DeviceToken = _devices.Add(new NewDevice("truck-1", "Truck 1")).Token;
            using (var connection = _store.OpenMetadataConnection())
            {
                connection.Execute("CREATE SEQUENCE main.counter");
            }

            var batch = new PointBuilder()
                .Point("m", 1, [("host", "a")], ("v", 1.0))
                .Point("m", 2, [("host", "b")], ("v", 2.0))
                .Batch;
            await _store.Writer.WriteAsync("main", batch);
            Queries = new SqlQueryService(_store, new QueryOptions { Timeout = TimeSpan.FromSeconds(30) });

            // Reading waits for the write log to be applied; after that the database's own log holds the apply.
            Fingerprint();
            Assert.True(new FileInfo(_store.Options.DatabasePath + ".wal").Length > 0, "the fixture needs a non-empty WAL to notice a checkpoint");
        }

        /// <summary>Everything a statement could change, as text: catalog, settings, data, the WAL's size and the folder.</summary>
        public string Fingerprint()
        {
            var text = new StringBuilder();
            using var connection = _store!.OpenReadConnection();
            Append(connection, text, "SELECT database_name, path IS NULL, readonly FROM duckdb_databases() ORDER BY ALL");
            Append(connection, text, "SELECT schema_name, table_name, column_count, sql FROM duckdb_tables() ORDER BY ALL");
            Append(connection, text, "SELECT schema_name, view_name, sql FROM duckdb_views() WHERE NOT internal ORDER BY ALL");
            Append(connection, text, "SELECT schema_name, function_name, function_type, macro_definition FROM duckdb_functions() WHERE NOT internal ORDER BY ALL");
            Append(connection, text, "SELECT schema_name, sequence_name, last_value FROM duckdb_sequences() ORDER BY ALL");
            Append(connection, text, "SELECT schema_name, type_name FROM duckdb_types() WHERE NOT internal ORDER BY ALL");
            Append(connection, text, "SELECT database_name, schema_name FROM duckdb_schemas() ORDER BY ALL");
            Append(connection, text, "SELECT name, value FROM duckdb_settings() WHERE scope = 'GLOBAL' ORDER BY name");
            Append(connection, text, "SELECT id, namespace, name FROM _plexus.measurements ORDER BY ALL");
            Append(connection, text, "SELECT * FROM _plexus.devices ORDER BY ALL");
            Append(connection, text, "SELECT * FROM main.m ORDER BY ALL");
            text.Append("wal ").Append(new FileInfo(_store.Options.DatabasePath + ".wal").Length).Append('\n');
            foreach (string file in Directory.GetFiles(_directory.Path).Order(StringComparer.Ordinal))
            {
                text.Append("file ").Append(Path.GetFileName(file)).Append('\n');
            }

            foreach (string leak in new[] { "/tmp/plexus-leak.csv", "/tmp/plexus-leak.parquet", "/tmp/plexus-export", "/tmp/plexus-evil.duckdb" })
            {
                text.Append(leak).Append(' ').Append(Path.Exists(leak)).Append('\n');
            }

            return text.ToString();
        }

        public async Task DisposeAsync()
        {
            Queries?.Dispose();
            _devices?.Dispose();
            if (_store is not null)
            {
                await _store.DisposeAsync();
            }

            Dispose();
        }

        public void Dispose() => _directory.Dispose();

        private static void Append(DuckDBConnection connection, StringBuilder text, string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                for (int i = 0; i < reader.FieldCount; i++)
                {
                    text.Append(reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }

                text.Append('\n');
            }
        }
    }
}
