using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

public sealed class SqlApiTests
{
    [Fact]
    public async Task Json_result_has_columns_with_types_rows_and_a_truncated_flag()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("t,host=a v=1.5,n=2i,ok=true,s=\"x\" 1000000000")).Dispose();

        var result = await server.SqlAsync("SELECT time, host, v, n, ok, s FROM t");

        Assert.Equal(["time", "host", "v", "n", "ok", "s"], result.GetProperty("columns").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        var row = result.GetProperty("rows")[0];
        Assert.Equal("1970-01-01T00:00:01Z", row[0].GetString());
        Assert.Equal("a", row[1].GetString());
        Assert.Equal(1.5, row[2].GetDouble());
        Assert.Equal(2, row[3].GetInt64());
        Assert.True(row[4].GetBoolean());
        Assert.Equal("x", row[5].GetString());
        Assert.False(result.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public async Task Csv_is_returned_when_asked_for()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/sql") { Content = JsonContent.Create(new { sql = "SELECT 1 AS a, 'x,y' AS b UNION ALL SELECT 2, NULL ORDER BY a" }) };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));

        using var response = await server.Client.SendAsync(request);

        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("a,b\r\n1,\"x,y\"\r\n2,\r\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Default_namespace_applies_to_unqualified_names()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("m v=7 1", "?bucket=site1")).Dispose();

        Assert.Equal(7.0, (await server.RowsAsync("SELECT v FROM m", db: "site1"))[0][0].GetDouble());
    }

    [Theory]
    [InlineData("SELECT * FROM no_such_table", "no_such_table")]
    [InlineData("SELEC 1", "syntax")]
    public async Task Engine_errors_are_a_400_with_the_engine_message(string sql, string expected)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("DROP TABLE _plexus.measurements")]
    [InlineData("INSERT INTO _plexus.measurements VALUES (99, 'x', 'y')")]
    [InlineData("DELETE FROM _plexus.measurements")]
    [InlineData("UPDATE _plexus.measurements SET name = 'x'")]
    [InlineData("CREATE TABLE x (a INT)")]
    [InlineData("COPY _plexus.measurements TO '/tmp/plexus-leak.csv'")]
    [InlineData("ATTACH ':memory:' AS other")]
    [InlineData("CHECKPOINT")]
    [InlineData("SET threads = 1")]
    [InlineData("INSTALL httpfs")]
    public async Task Statements_that_change_anything_are_refused_with_403(string sql)
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("m v=1 1")).Dispose();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(1L, (await server.RowsAsync("SELECT count(*) FROM _plexus.measurements"))[0][0].GetInt64());
    }

    [Theory]
    [InlineData("SELECT * FROM read_csv('/etc/hostname')")]
    [InlineData("SELECT * FROM read_text('/etc/passwd')")]
    [InlineData("SELECT * FROM glob('/etc/*')")]
    public async Task Sql_cannot_read_the_servers_files(string sql)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("Permission", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task More_than_one_statement_is_refused()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT 1; DROP TABLE x" });

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Runaway_queries_are_cancelled_at_the_timeout()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with
        {
            QueryTimeout = TimeSpan.FromMilliseconds(300),
        });
        var started = TimeProvider.System.GetTimestamp();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3" });

        Assert.Equal(HttpStatusCode.RequestTimeout, response.StatusCode);
        Assert.Contains("timed out", await response.Content.ReadAsStringAsync());
        Assert.True(TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Results_over_the_row_limit_are_truncated_and_say_so()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with
        {
            QueryMaxRows = 10,
        });

        var result = await server.SqlAsync("SELECT * FROM range(25)");

        Assert.Equal(10, result.GetProperty("rows").GetArrayLength());
        Assert.True(result.GetProperty("truncated").GetBoolean());
    }

    [Fact]
    public async Task Describe_and_show_work_because_they_only_read()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("m,k=v x=1 1")).Dispose();

        var described = await server.RowsAsync("DESCRIBE m");
        var tables = await server.RowsAsync("SHOW TABLES");

        Assert.Equal(["time", "k", "x"], described.Select(r => r[0].GetString()));
        Assert.Contains(tables, r => r[0].GetString() == "m");
    }

    [Fact]
    public async Task Malformed_request_bodies_are_a_400()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var notJson = await server.Client.PostAsync("/api/v1/sql", new StringContent("SELECT 1"));
        using var noSql = await server.Client.PostAsJsonAsync("/api/v1/sql", new { query = "SELECT 1" });

        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noSql.StatusCode);
        Assert.Contains("sql", await noSql.Content.ReadAsStringAsync());
    }
}
