using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>What a person reads when something goes wrong: JSON as written, the line that was refused, the rule broken.</summary>
public sealed class ReadableErrorsTests
{
    [Fact]
    public async Task Error_bodies_keep_quotes_apostrophes_angle_brackets_and_non_ascii_unescaped()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.WriteAsync("m v=1 1", "?precision=<o'clock \"ü\">");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Contains("<o'clock \\\"ü\\\">", body, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u00", body, StringComparison.Ordinal);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("nosniff", Assert.Single(response.Headers.GetValues("X-Content-Type-Options")));
        Assert.Contains("o'clock", JsonDocument.Parse(body).RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_results_and_influxql_answers_keep_non_ascii_and_quotes_unescaped()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("température,site=l'usine note=\"<chaud>\" 1")).Dispose();

        using var sql = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT site, note FROM température" });
        using var influx = await server.Client.GetAsync("/query?db=main&q=" + Uri.EscapeDataString("SELECT note FROM \"température\""));

        Assert.Equal(HttpStatusCode.OK, sql.StatusCode);
        Assert.Equal("nosniff", Assert.Single(sql.Headers.GetValues("X-Content-Type-Options")));
        Assert.Contains("\"l'usine\",\"<chaud>\"", await sql.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, influx.StatusCode);
        string answer = await influx.Content.ReadAsStringAsync();
        Assert.Contains("\"température\"", answer, StringComparison.Ordinal);
        Assert.Contains("\"<chaud>\"", answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_type_conflict_rejection_shows_the_line_and_its_number()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("cpu,host=a usage=1.5 1")).Dispose();

        using var response = await server.WriteAsync("cpu,host=a usage=2.5 2\ncpu,host=b usage=\"high\" 3\ncpu,host=c usage=3.5 4");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        var error = Assert.Single(body.GetProperty("errors").EnumerateArray());
        Assert.Equal(2, error.GetProperty("line").GetInt32());
        Assert.Equal("cpu,host=b usage=\"high\" 3", error.GetProperty("text").GetString());
        Assert.Contains("field type conflict", error.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("line 2", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("cpu,host=b usage=\"high\" 3", body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, body.GetProperty("written").GetInt32());
    }

    [Fact]
    public async Task A_long_rejected_line_is_shown_cut_to_120_characters()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("cpu v=1 1")).Dispose();
        string tags = string.Join(',', Enumerable.Range(0, 30).Select(i => $"tag{i}=value{i}"));

        using var response = await server.WriteAsync($"cpu,{tags} v=true 2");

        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        string text = error.GetProperty("text").GetString()!;
        Assert.StartsWith("cpu,tag0=value0,tag1=value1,", text, StringComparison.Ordinal);
        Assert.Equal(121, text.Length);
        Assert.EndsWith("…", text, StringComparison.Ordinal);
        Assert.Equal(1, error.GetProperty("line").GetInt32());
    }

    [Fact]
    public async Task A_point_refused_for_a_reserved_name_shows_its_line()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.WriteAsync("ok v=1 1\ndevices,x=y v=1 2");

        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0];
        Assert.Equal(2, error.GetProperty("line").GetInt32());
        Assert.Equal("devices,x=y v=1 2", error.GetProperty("text").GetString());
    }

    [Theory]
    [InlineData("INSERT INTO telemetry VALUES ('d1', TIMESTAMP '2026-01-01', 2.0)")]
    [InlineData("INSERT INTO main.telemetry SELECT * FROM main.telemetry")]
    [InlineData("UPDATE telemetry SET temp = 2")]
    [InlineData("DELETE FROM telemetry")]
    [InlineData("DELETE FROM main.devices")]
    [InlineData("UPDATE main.devices SET name = 'x'")]
    [InlineData("INSERT INTO nowhere VALUES (1)")]
    [InlineData("CREATE TABLE copy AS SELECT * FROM telemetry")]
    [InlineData("CREATE VIEW v AS SELECT 1")]
    [InlineData("DROP VIEW telemetry")]
    [InlineData("ALTER TABLE telemetry ADD COLUMN x INT")]
    [InlineData("TRUNCATE telemetry")]
    public async Task Every_write_attempt_on_the_sql_api_is_a_403_saying_what_runs_there(string sql)
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("telemetry,device=d1 temp=1 1")).Dispose();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        string message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString()!;
        Assert.Contains("SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN run here", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Catalog Error", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Binder Error", message, StringComparison.Ordinal);
        Assert.Equal(1L, (await server.RowsAsync("SELECT count(*) FROM telemetry"))[0][0].GetInt64());
    }

    [Theory]
    [InlineData("SELECT * FROM nope")]
    [InlineData("SELECT * FROM pg_enumm")]
    [InlineData("SELECT * FROM duckdb_table")]
    public async Task A_missing_table_is_never_answered_with_a_catalog_table_suggestion(string sql)
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("telemetry,device=d1 temp=1 1")).Dispose();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string message = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString()!;
        Assert.DoesNotMatch("Did you mean \"[^\"]*(pg_|duckdb_|information_schema|sqlite_|_plexus)", message);
        Assert.Contains("SHOW TABLES", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mistyped_measurement_still_gets_the_engine_suggestion_of_the_real_one()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("temperature,device=d1 v=1 1")).Dispose();

        using var response = await server.Client.PostAsJsonAsync("/api/v1/sql", new { sql = "SELECT * FROM temperatur" });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("temperature", JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
