using Npgsql;
using NpgsqlTypes;

namespace Plexus.PgWire.Tests;

/// <summary>Npgsql, the .NET PostgreSQL driver, against a real server: simple and prepared statements, parameters, binary types, cancel.</summary>
public sealed class NpgsqlTests(PgLab lab) : IClassFixture<PgLab>
{
    [Fact]
    public async Task Simple_query_returns_the_same_rows_as_the_sql_api()
    {
        const string sql = "SELECT host, count(*) AS n, avg(usage) AS mean FROM cpu GROUP BY host ORDER BY host";
        var expected = await lab.Server.RowsAsync(sql);
        await using var connection = await lab.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string Host, long Count, double Mean)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetDouble(2)));
        }

        Assert.Equal(expected.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(expected[i][0].GetString(), rows[i].Host);
            Assert.Equal(expected[i][1].GetInt64(), rows[i].Count);
            Assert.Equal(expected[i][2].GetDouble(), rows[i].Mean, 9);
        }

        Assert.Equal("bigint", reader.GetDataTypeName(1));
    }

    [Fact]
    public async Task A_connection_whose_token_is_revoked_reads_nothing_more_and_is_closed_with_28000()
    {
        string token = lab.Server.Server.ApiTokens.Create("revoked-while-connected", Plexus.Api.Auth.ApiScope.Read).Token;
        await using var connection = await lab.OpenAsync(token);
        await using (var before = new NpgsqlCommand("SELECT count(*) FROM cpu", connection))
        {
            Assert.True((long)(await before.ExecuteScalarAsync())! > 0);
        }

        Assert.True(lab.Server.Server.ApiTokens.Revoke("revoked-while-connected"));

        await using var after = new NpgsqlCommand("SELECT count(*) FROM cpu", connection);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => after.ExecuteScalarAsync());
        Assert.Equal("28000", refused.SqlState);
        Assert.Contains("revoked", refused.MessageText, StringComparison.Ordinal);
        Assert.NotEqual(System.Data.ConnectionState.Open, connection.State);
    }

    [Fact]
    public async Task Prepared_statement_with_parameters_runs_many_times()
    {
        await using var connection = await lab.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM cpu WHERE host = $1 AND temp >= $2", connection);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = "a" });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = 50L });
        await command.PrepareAsync();
        Assert.True(command.IsPrepared);
        Assert.Equal(15L, await command.ExecuteScalarAsync());
        command.Parameters[0].Value = "b";
        command.Parameters[1].Value = 70L;
        Assert.Equal(5L, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Parameters_of_every_common_type_are_bound()
    {
        await using var connection = await lab.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT $1 || 'x', $2 + 1, $3 * 2, $4, $5, $6 + INTERVAL 1 DAY, $7, $8, $9", connection);
        command.Parameters.AddWithValue("it's");
        command.Parameters.AddWithValue(41);
        command.Parameters.AddWithValue(1.25);
        command.Parameters.AddWithValue(true);
        command.Parameters.AddWithValue(new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc));
        command.Parameters.AddWithValue(new DateOnly(2024, 2, 28));
        command.Parameters.AddWithValue(Guid.Parse("4f1c3a52-8b6e-4d4e-9f1a-0c2b3d4e5f60"));
        command.Parameters.AddWithValue(12.345m);
        command.Parameters.AddWithValue(DBNull.Value);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("it'sx", reader.GetString(0));
        Assert.Equal(42, Convert.ToInt64(reader.GetValue(1)));
        Assert.Equal(2.5, reader.GetDouble(2));
        Assert.True(reader.GetBoolean(3));
        Assert.Equal(new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc), reader.GetFieldValue<DateTime>(4).ToUniversalTime());
        Assert.Equal(new DateTime(2024, 2, 29), reader.GetDateTime(5));
        Assert.Equal(Guid.Parse("4f1c3a52-8b6e-4d4e-9f1a-0c2b3d4e5f60"), reader.GetGuid(6));
        Assert.Equal(12.345m, reader.GetDecimal(7));
        Assert.True(reader.IsDBNull(8));
    }

    [Fact]
    public async Task Binary_results_of_every_type_decode_to_their_values()
    {
        await using var connection = await lab.OpenAsync();
        const string sql = """
            SELECT true AS b, CAST(7 AS SMALLINT) AS i2, CAST(-8 AS INTEGER) AS i4, CAST(9000000000 AS BIGINT) AS i8,
                   CAST(1.5 AS REAL) AS f4, CAST(-2.25 AS DOUBLE) AS f8, CAST(-1234.5678 AS DECIMAL(18,4)) AS num,
                   'héllo' AS t, TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tstz,
                   DATE '2024-03-04' AS d, INTERVAL '1 month 2 days 3 hours' AS iv, CAST('{"a":1}' AS JSON) AS j,
                   UUID '11111111-2222-3333-4444-555555555555' AS u, CAST('\x01\x02\xFF' AS BLOB) AS bytes,
                   [1, 2, NULL] AS ints, ['x', 'y z'] AS texts, CAST(1234567890123456789012345678 AS HUGEINT) AS huge
            """;
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.True(reader.GetBoolean(0));
        Assert.Equal((short)7, reader.GetInt16(1));
        Assert.Equal(-8, reader.GetInt32(2));
        Assert.Equal(9000000000L, reader.GetInt64(3));
        Assert.Equal(1.5f, reader.GetFloat(4));
        Assert.Equal(-2.25, reader.GetDouble(5));
        Assert.Equal(-1234.5678m, reader.GetDecimal(6));
        Assert.Equal("héllo", reader.GetString(7));
        Assert.Equal(new DateTime(2024, 1, 2, 3, 4, 5, 123).AddTicks(4560), reader.GetDateTime(8));
        Assert.Equal(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc), reader.GetFieldValue<DateTime>(9).ToUniversalTime());
        Assert.Equal(new DateOnly(2024, 3, 4), reader.GetFieldValue<DateOnly>(10));
        var interval = reader.GetFieldValue<NpgsqlInterval>(11);
        Assert.Equal(new NpgsqlInterval(1, 2, 3L * 3600 * 1_000_000), interval);
        Assert.Equal("{\"a\":1}", reader.GetString(12));
        Assert.Equal(Guid.Parse("11111111-2222-3333-4444-555555555555"), reader.GetGuid(13));
        Assert.Equal(new byte[] { 1, 2, 0xFF }, reader.GetFieldValue<byte[]>(14));
        Assert.Equal(new int?[] { 1, 2, null }, reader.GetFieldValue<int?[]>(15));
        Assert.Equal(["x", "y z"], reader.GetFieldValue<string[]>(16));
        Assert.Equal(1234567890123456789012345678m, reader.GetDecimal(17));
        // JSON arrives as text: the engine's driver reports a JSON column as VARCHAR, its alias unseen.
        Assert.Equal(["boolean", "smallint", "integer", "bigint", "real", "double precision", "numeric", "text", "timestamp without time zone", "timestamp with time zone", "date", "interval", "text", "uuid", "bytea", "integer[]", "text[]", "numeric"],
            Enumerable.Range(0, reader.FieldCount).Select(reader.GetDataTypeName));
    }

    [Fact]
    public async Task Cancel_stops_a_running_query_with_57014_and_the_connection_goes_on()
    {
        await using var connection = await lab.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range * b.range % 7 = 3", connection);
        var running = command.ExecuteScalarAsync();
        await Plexus.TestKit.Eventually.TrueAsync(() => lab.Server.Server.Queries.Running > 0, because: "the query should be running");
        command.Cancel();
        var cancelled = await Assert.ThrowsAsync<OperationCanceledException>(() => running);
        Assert.Equal("57014", Assert.IsType<PostgresException>(cancelled.InnerException).SqlState);
        await using var next = new NpgsqlCommand("SELECT 42", connection);
        Assert.Equal(42, Convert.ToInt32(await next.ExecuteScalarAsync()));
    }

    [Theory]
    [InlineData("INSERT INTO cpu (host) VALUES ('x')")]
    [InlineData("CREATE TABLE t (a INTEGER)")]
    [InlineData("DELETE FROM cpu")]
    [InlineData("COPY cpu FROM STDIN")]
    [InlineData("ATTACH '/tmp/other.db' AS other")]
    [InlineData("SET TRANSACTION READ WRITE")]
    public async Task A_read_token_cannot_write_over_this_path(string sql)
    {
        await using var connection = await lab.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var error = await Assert.ThrowsAsync<PostgresException>(() => command.ExecuteNonQueryAsync());
        Assert.Equal("42501", error.SqlState);
        Assert.Equal(60L, await new NpgsqlCommand("SELECT count(*) FROM cpu", connection).ExecuteScalarAsync());
    }

    [Fact]
    public async Task Syntax_error_has_42601_and_the_position_where_parsing_failed()
    {
        await using var connection = await lab.OpenAsync();
        var error = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT 1 FORM cpu", connection).ExecuteScalarAsync());
        // FORM reads as an alias of 1: the engine stumbles on the word after it, as PostgreSQL would.
        Assert.Equal("42601", error.SqlState);
        Assert.Equal(15, error.Position);
    }

    [Fact]
    public async Task Unknown_table_has_42P01()
    {
        await using var connection = await lab.OpenAsync();
        var error = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT * FROM nowhere", connection).ExecuteScalarAsync());
        Assert.Equal("42P01", error.SqlState);
        Assert.Equal(15, error.Position);
    }

    [Fact]
    public async Task Wrong_password_has_28P01()
    {
        var error = await Assert.ThrowsAsync<PostgresException>(() => lab.OpenAsync(token: "not-a-token"));
        Assert.Equal("28P01", error.SqlState);
    }

    [Fact]
    public async Task A_token_limited_to_a_namespace_reads_it_and_not_main()
    {
        await using var connection = await lab.OpenAsync(lab.LabToken, database: "lab");
        Assert.Equal(1L, await new NpgsqlCommand("SELECT count(*) FROM cpu", connection).ExecuteScalarAsync());
        var error = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT count(*) FROM main.cpu", connection).ExecuteScalarAsync());
        Assert.Equal("42501", error.SqlState);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => lab.OpenAsync(lab.LabToken, database: "main"));
        Assert.Equal("42501", refused.SqlState);
    }

    [Fact]
    public async Task Session_statements_clients_send_are_answered()
    {
        await using var connection = await lab.OpenAsync();
        foreach (string sql in new[] { "SET application_name = 'dashboards'", "BEGIN", "SET LOCAL statement_timeout = 0", "COMMIT", "SET TIME ZONE 'UTC'", "DISCARD ALL", "RESET ALL" })
        {
            await new NpgsqlCommand(sql, connection).ExecuteNonQueryAsync();
        }

        Assert.Equal("UTC", await new NpgsqlCommand("SHOW TimeZone", connection).ExecuteScalarAsync());
        Assert.Equal("on", await new NpgsqlCommand("SELECT current_setting('standard_conforming_strings')", connection).ExecuteScalarAsync());
        Assert.StartsWith("PostgreSQL 14", (string)(await new NpgsqlCommand("SELECT version()", connection).ExecuteScalarAsync())!);
        Assert.Equal("14.0", connection.PostgreSqlVersion.ToString(2));
    }

    [Fact]
    public async Task Transaction_with_an_error_is_aborted_until_rollback()
    {
        await using var connection = await lab.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT * FROM nowhere", connection, transaction).ExecuteScalarAsync());
        var aborted = await Assert.ThrowsAsync<PostgresException>(() => new NpgsqlCommand("SELECT 1", connection, transaction).ExecuteScalarAsync());
        Assert.Equal("25P02", aborted.SqlState);
        await transaction.RollbackAsync();
        Assert.Equal(1, Convert.ToInt32(await new NpgsqlCommand("SELECT 1", connection).ExecuteScalarAsync()));
    }

    [Fact]
    public async Task Copy_to_stdout_exports_the_rows_as_csv()
    {
        await using var connection = await lab.OpenAsync();
        using var reader = await connection.BeginTextExportAsync("COPY (SELECT host, temp FROM cpu ORDER BY time LIMIT 3) TO STDOUT WITH (FORMAT csv, HEADER)");
        string text = await reader.ReadToEndAsync();
        Assert.Equal("host,temp\na,20\nb,21\na,22\n", text);
    }

    [Fact]
    public async Task Large_result_streams_past_the_pipe_window()
    {
        await using var connection = await lab.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT range AS i, repeat('x', 100) AS pad FROM range(50000)", connection);
        await using var reader = await command.ExecuteReaderAsync();
        long sum = 0;
        int rows = 0;
        while (await reader.ReadAsync())
        {
            sum += reader.GetInt64(0);
            rows++;
        }

        Assert.Equal(50000, rows);
        Assert.Equal(49999L * 50000 / 2, sum);
    }
}
