using Npgsql;

namespace Plexus.PgWire.Tests;

/// <summary>
/// The statements Grafana's PostgreSQL data source sends, replayed over the wire as its driver sends them (the
/// extended protocol, one statement at a time).
/// </summary>
/// <remarks>
/// Source of the list: written from Grafana's public source as the author knows it — the data source's health check
/// (<c>pkg/tsdb/grafana-postgresql-datasource</c>: a ping, which the pgx driver sends as an empty statement, and
/// <c>SELECT 1</c> with lib/pq), the query editor's table and column listing
/// (<c>public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts</c>: <c>showTables()</c> with
/// <c>buildSchemaConstraint()</c>, and the column query), and the macro expansion of <c>macros.go</c>
/// (<c>$__timeFilter(time)</c> → <c>time BETWEEN '…Z' AND '…Z'</c>, <c>$__timeGroupAlias(time, '1m')</c> →
/// <c>floor(extract(epoch from time)/60)*60 AS "time"</c>). No network was at hand to record them from a running
/// Grafana, so the text is from memory of that source, not a capture; the statement shapes, functions and quoting
/// are Grafana's.
/// </remarks>
public sealed class GrafanaQueryTests(PgLab lab) : IClassFixture<PgLab>
{
    private const string ShowTables = """
        select quote_ident(table_name) as "table" from information_schema.tables
            where quote_ident(table_schema) not in ('information_schema',
                                     'pg_catalog',
                                     '_timescaledb_cache',
                                     '_timescaledb_catalog',
                                     '_timescaledb_internal',
                                     '_timescaledb_config',
                                     'timescaledb_information',
                                     'timescaledb_experimental')
              and
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

    private const string ShowColumns = """
        select quote_ident(column_name) as "column", data_type as "type"
            from information_schema.columns
            where quote_ident(table_name) = 'cpu'
        """;

    private const string TimeSeries = """
        SELECT
          floor(extract(epoch from time)/60)*60 AS "time",
          avg(usage) AS "usage"
        FROM cpu
        WHERE
          time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59Z'
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
          time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59Z' AND host = 'a'
        ORDER BY 1 DESC
        LIMIT 50
        """;

    [Fact]
    public async Task Connection_test_succeeds()
    {
        await using var connection = await lab.OpenAsync();
        await new NpgsqlCommand("-- ping", connection).ExecuteNonQueryAsync();
        Assert.Equal(1, Convert.ToInt32(await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync()));
    }

    [Fact]
    public async Task Table_listing_shows_the_measurements()
    {
        var tables = await ColumnAsync(ShowTables);
        Assert.Contains("cpu", tables);
        Assert.DoesNotContain("measurements", tables);
    }

    [Fact]
    public async Task Column_listing_names_postgresql_types()
    {
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(ShowColumns, connection).ExecuteReaderAsync();
        var columns = new Dictionary<string, string>();
        while (await reader.ReadAsync())
        {
            columns[reader.GetString(0)] = reader.GetString(1);
        }

        Assert.Equal("timestamp without time zone", columns["time"]);
        Assert.Equal("double precision", columns["usage"]);
        Assert.Equal("text", columns["host"]);
        Assert.Equal("bigint", columns["temp"]);
    }

    [Fact]
    public async Task Time_series_query_with_expanded_macros_gets_the_sql_api_answer()
    {
        var expected = await lab.Server.RowsAsync("SELECT epoch(time_bucket(INTERVAL 1 MINUTE, time)) AS t, avg(usage) FROM cpu WHERE time BETWEEN '2023-11-14T22:13:20Z' AND '2023-11-14T22:22:59Z' GROUP BY 1 ORDER BY 1");
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
    public async Task Table_query_returns_rows_newest_first()
    {
        await using var connection = await lab.OpenAsync();
        await using var reader = await new NpgsqlCommand(TableQuery, connection).ExecuteReaderAsync();
        var times = new List<DateTime>();
        while (await reader.ReadAsync())
        {
            times.Add(reader.GetDateTime(0));
            Assert.Equal("a", reader.GetString(1));
        }

        Assert.Equal(29, times.Count);
        Assert.Equal(times.OrderDescending(), times);
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
