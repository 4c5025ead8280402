using Npgsql;

namespace Plexus.PgWire.Tests;

/// <summary>
/// The statements Grafana's PostgreSQL data source sends, replayed over the wire as its driver sends them (the
/// extended protocol, one statement at a time).
/// </summary>
/// <remarks>
/// The statements are those Grafana's public source (grafana/grafana) builds, read at these commits:
/// <list type="bullet">
/// <item><c>public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts</c> at commit
/// 12f912ab8d010f4d95a4043a0efaa20fc4ca0100: <c>getVersion()</c>, <c>getTimescaleDBVersion()</c>,
/// <c>showSchemas()</c>, <c>showTables()</c> with and without a schema, <c>getSchema(table)</c> and
/// <c>buildSchemaConstraint()</c>, which the last three share;</item>
/// <item><c>pkg/tsdb/grafana-postgresql-datasource/macros.go</c> at commit
/// 02ab314b81e2adc656bd7d08cc0533304a0037ff: the expansions of <c>$__timeGroupAlias(time, '1m')</c> (TimescaleDB
/// off) and <c>$__timeFilter(time)</c>, whose bounds are RFC 3339 times in UTC with Go's trimmed nanoseconds;</item>
/// <item><c>pkg/tsdb/grafana-postgresql-datasource/sqleng/handler_checkhealth.go</c> at commit
/// 0c059270ae12a6b64819f9b818dff64cd98a5276: the connection test is the driver's ping, an empty statement.</item>
/// </list>
/// The table is <c>cpu</c> in schema <c>main</c> (the connection's database and search path); namespace <c>lab</c>
/// holds a second <c>cpu</c>.
/// </remarks>
public sealed class GrafanaQueryTests(PgLab lab) : IClassFixture<PgLab>
{
    private const string GetVersion = "SELECT current_setting('server_version_num')::int/100 as version";

    private const string GetTimescaleDBVersion = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'";

    private const string ShowSchemas = """
        SELECT schema_name AS "name"
          FROM information_schema.schemata
          WHERE schema_name NOT IN ('information_schema','pg_catalog','pg_toast','_timescaledb_cache','_timescaledb_catalog','_timescaledb_internal','_timescaledb_config','timescaledb_information','timescaledb_experimental')
          ORDER BY schema_name
        """;

    private const string ShowTablesOfMain = """
        SELECT quote_ident(table_name) AS "table"
            FROM information_schema.tables
            WHERE quote_ident(table_schema) = 'main'
            ORDER BY 1
        """;

    private const string SearchPathConstraint = """
        quote_ident(table_schema) IN (
                  SELECT
                    CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
                  FROM
                    generate_series(
                      array_lower(string_to_array(current_setting('search_path'),','),1),
                      array_upper(string_to_array(current_setting('search_path'),','),1)
                    ) as i,
                    string_to_array(current_setting('search_path'),',') s
                  )
        """;

    private const string ShowTables = $"""
        SELECT
          CASE WHEN {SearchPathConstraint}
            THEN quote_ident(table_name)
            ELSE quote_ident(table_schema) || '.' || quote_ident(table_name)
          END AS "table"
          FROM information_schema.tables
          WHERE quote_ident(table_schema) NOT IN ('information_schema','pg_catalog','_timescaledb_cache','_timescaledb_catalog','_timescaledb_internal','_timescaledb_config','timescaledb_information','timescaledb_experimental')
          ORDER BY CASE WHEN {SearchPathConstraint} THEN 0 ELSE 1 END, 1
        """;

    /// <summary>getSchema(table): the table name is a string literal, its quotes doubled.</summary>
    private static string GetSchema(string table)
    {
        string literal = "'" + table.Replace("'", "''", StringComparison.Ordinal) + "'";
        return $"""
            SELECT quote_ident(column_name) AS "column", data_type AS "type"
              FROM information_schema.columns
              WHERE
                CASE WHEN array_length(parse_ident({literal}),1) = 2
                  THEN quote_ident(table_schema) = (parse_ident({literal}))[1]
                    AND quote_ident(table_name) = (parse_ident({literal}))[2]
                  ELSE quote_ident(table_name) = {literal}
                    AND {SearchPathConstraint}
                END
            """;
    }

    private const string TimeSeries = """
        SELECT
          floor(extract(epoch from time)/60)*60 AS "time",
          avg(usage) AS "usage"
        FROM cpu
        WHERE
          time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59.999Z'
        GROUP BY 1
        ORDER BY 1
        """;

    private const string TableQuery = """
        SELECT
          time AS "time",
          host,
          usage
        FROM cpu
        WHERE
          time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59.999Z' AND host = 'a'
        ORDER BY 1 DESC
        LIMIT 50
        """;

    [Fact]
    public async Task Connection_test_ping_succeeds()
    {
        // pgx's Ping, which database/sql's PingContext calls, sends this comment: a statement with nothing to run.
        await using var connection = await lab.OpenAsync();
        Assert.Equal(-1, await new NpgsqlCommand("-- ping", connection).ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task Version_query_answers_the_announced_server_version_number()
    {
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(GetVersion, connection).ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("version", reader.GetName(0));
        int version = reader.GetInt32(0);
        Assert.True(version >= 900, $"Grafana needs a version of at least 900, got {version}");
        Assert.Equal(connection.PostgreSqlVersion.Major * 100, version);
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public async Task TimescaleDB_version_query_answers_no_rows()
    {
        Assert.Empty(await ColumnAsync(GetTimescaleDBVersion));
    }

    [Fact]
    public async Task Schema_listing_shows_the_namespaces_without_plexus_internals()
    {
        var schemas = await ColumnAsync(ShowSchemas);
        Assert.Equal(["lab", "main"], schemas);
    }

    [Fact]
    public async Task Table_listing_without_a_schema_names_search_path_tables_unqualified_first()
    {
        var measurements = await lab.Server.RowsAsync("SHOW TABLES");
        var tables = await ColumnAsync(ShowTables);
        Assert.Contains("cpu", tables);
        Assert.Equal([.. measurements.Select(row => row[0].GetString()!), "lab.cpu"], tables);
    }

    [Fact]
    public async Task Table_listing_of_a_schema_shows_its_measurements()
    {
        var measurements = await lab.Server.RowsAsync("SHOW TABLES");
        var tables = await ColumnAsync(ShowTablesOfMain);
        Assert.Contains("cpu", tables);
        Assert.Equal(measurements.Select(row => row[0].GetString()!), tables);
    }

    [Fact]
    public async Task Column_listing_names_postgresql_types()
    {
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(GetSchema("cpu"), connection).ExecuteReaderAsync();
        var columns = new Dictionary<string, string>();
        while (await reader.ReadAsync())
        {
            columns.Add(reader.GetString(0), reader.GetString(1));
        }

        var expected = await lab.Server.RowsAsync("SELECT column_name FROM information_schema.columns WHERE table_name = 'cpu' AND table_schema = 'main'");
        Assert.Equal(expected.Select(row => row[0].GetString()!).Order(), columns.Keys.Order());
        Assert.Equal("timestamp without time zone", columns["time"]);
        Assert.Equal("double precision", columns["usage"]);
        Assert.Equal("text", columns["host"]);
        Assert.Equal("bigint", columns["temp"]);
    }

    [Fact]
    public async Task Column_listing_of_a_schema_qualified_table_lists_that_schemas_table()
    {
        var expected = await lab.Server.RowsAsync("SELECT column_name FROM information_schema.columns WHERE table_name = 'cpu' AND table_schema = 'lab'");
        var columns = await ColumnAsync(GetSchema("lab.cpu"));
        Assert.Equal(expected.Select(row => row[0].GetString()!).Order(), columns.Order());
        Assert.DoesNotContain("temp", columns);
    }

    [Fact]
    public async Task Column_listing_of_a_malformed_table_name_is_refused_with_the_reason()
    {
        await using var connection = await lab.OpenAsync();
        var error = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand(GetSchema("lab..cpu"), connection).ExecuteNonQueryAsync());
        Assert.Equal("22023", error.SqlState);
        Assert.Contains("lab..cpu", error.MessageText);
    }

    [Fact]
    public async Task Time_series_query_with_expanded_macros_gets_the_sql_api_answer()
    {
        var expected = await lab.Server.RowsAsync("SELECT epoch(time_bucket(INTERVAL 1 MINUTE, time)) AS t, avg(usage) FROM cpu WHERE time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59.999Z' GROUP BY 1 ORDER BY 1");
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(TimeSeries, connection).ExecuteReaderAsync();
        int row = 0;
        while (await reader.ReadAsync())
        {
            Assert.Equal(expected[row][0].GetDouble(), Convert.ToDouble(reader.GetValue(0)));
            Assert.Equal(expected[row][1].GetDouble(), reader.GetDouble(1), 9);
            row++;
        }

        Assert.Equal(expected.Count, row);
        Assert.True(row >= 9);
    }

    [Fact]
    public async Task Table_query_with_expanded_time_filter_gets_the_sql_api_answer()
    {
        var expected = await lab.Server.RowsAsync("SELECT usage FROM cpu WHERE time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59.999Z' AND host = 'a' ORDER BY time DESC LIMIT 50");
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(TableQuery, connection).ExecuteReaderAsync();
        var times = new List<DateTime>();
        var usages = new List<double>();
        while (await reader.ReadAsync())
        {
            times.Add(reader.GetDateTime(0));
            Assert.Equal("a", reader.GetString(1));
            usages.Add(reader.GetDouble(2));
        }

        Assert.Equal(29, times.Count);
        Assert.Equal(times.OrderDescending(), times);
        Assert.Equal(expected.Select(row => row[0].GetDouble()), usages);
    }

    private async Task<List<string>> ColumnAsync(string sql)
    {
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(sql, connection).ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }
}
