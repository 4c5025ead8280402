using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.Server;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>The <c>/query</c> endpoint as a protocol: parameters, formats, limits, errors, scopes, and the Flux endpoint.</summary>
public sealed class InfluxQueryApiTests
{
    private const string Points =
        "cpu,host=a,region=east usage=1.5,load=3i 1700000000000000000\n" +
        "cpu,host=a,region=east usage=2.5,load=4i 1700000010000000000\n" +
        "cpu,host=a,region=east usage=3.5,load=5i 1700000020000000000\n" +
        "cpu,host=b usage=10,load=1i 1700000000000000000\n" +
        "cpu,host=b usage=20,load=2i 1700000010000000000\n" +
        "cpu,host=b usage=30,load=3i 1700000020000000000\n";

    private static async Task<PlexusTestServer> StartAsync(Func<PlexusServerOptions, PlexusServerOptions>? configure = null, string? dataDirectory = null)
    {
        var server = await PlexusTestServer.StartAsync(dataDirectory, configure);
        using var write = await server.WriteAsync(Points, "?bucket=lab");
        Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        return server;
    }

    private static async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(HttpClient client, string query)
    {
        var response = await client.GetAsync("/query?" + query);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(), response);
    }

    private static string Q(string text) => "q=" + Uri.EscapeDataString(text);

    [Fact]
    public async Task Query_without_q_is_400_naming_the_parameter()
    {
        await using var server = await StartAsync();
        var (status, body, _) = await GetAsync(server.Client, "db=lab");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("missing required parameter \\\"q\\\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Syntax_error_is_400_naming_what_was_expected_and_where()
    {
        await using var server = await StartAsync();
        var (status, body, _) = await GetAsync(server.Client, "db=lab&" + Q("SELECT mean(usage) FORM cpu"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("error").GetString();
        Assert.Equal("error parsing query: found FORM, expected FROM at line 1, char 20", error);
    }

    [Fact]
    public async Task Unsupported_statement_is_its_result_error_pointing_to_sql_and_the_others_still_run()
    {
        await using var server = await StartAsync();
        var (status, body, _) = await GetAsync(server.Client, "db=lab&" + Q("SHOW USERS; SELECT derivative(usage, 1s) FROM cpu; SHOW DATABASES"));
        Assert.Equal(HttpStatusCode.OK, status);
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], results.Select(r => r.GetProperty("statement_id").GetInt32()));
        string first = results[0].GetProperty("error").GetString()!;
        Assert.StartsWith("SHOW USERS is not supported by Plexus", first, StringComparison.Ordinal);
        Assert.Contains("POST /api/v1/sql", first, StringComparison.Ordinal);
        Assert.Contains("derivative() is not supported", results[1].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("databases", results[2].GetProperty("series")[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Unknown_database_is_a_statement_error_with_status_200()
    {
        await using var server = await StartAsync();
        var (status, body, _) = await GetAsync(server.Client, "db=nothere&" + Q("SELECT * FROM cpu; SHOW MEASUREMENTS"));
        Assert.Equal(HttpStatusCode.OK, status);
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results");
        Assert.Equal("database not found: nothere", results[0].GetProperty("error").GetString());
        Assert.Equal("database not found: nothere", results[1].GetProperty("error").GetString());
    }

    [Fact]
    public async Task Read_token_trying_create_database_is_refused_403_and_nothing_is_created()
    {
        await using var server = await StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "grafana", scope = "read" });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var reader = new HttpClient { BaseAddress = server.Address };

        using var refused = await reader.PostAsync($"/query?u=grafana&p={token}&" + Q("SHOW DATABASES; CREATE DATABASE sneaky"), null);
        string body = await refused.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("error authorizing query: CREATE DATABASE sneaky needs a token with scope write", JsonDocument.Parse(body).RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);

        // The same token reads, with u/p or Basic.
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("grafana:" + token)));
        var (status, list, _) = await GetAsync(reader, Q("SHOW DATABASES"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.DoesNotContain("sneaky", list, StringComparison.Ordinal);
        Assert.Contains("\"lab\"", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Query_without_a_token_is_401_and_a_device_token_is_403()
    {
        await using var server = await StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        var (status, _, _) = await GetAsync(anonymous, Q("SHOW DATABASES"));
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        using var device = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id = "sensor-1" });
        string token = JsonDocument.Parse(await device.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        (status, _, _) = await GetAsync(anonymous, Q("SHOW DATABASES"));
        Assert.Equal(HttpStatusCode.Forbidden, status);
    }

    [Fact]
    public async Task Create_database_makes_an_empty_database_that_survives_a_restart()
    {
        using var folder = new TempDirectory("plexus-influx-create");
        await using (var server = await StartAsync(dataDirectory: folder.Path))
        {
            // POST with the query in a form body, as the Python client and curl --data send it.
            using var created = await server.Client.PostAsync("/query", new FormUrlEncodedContent(new Dictionary<string, string> { ["q"] = "CREATE DATABASE \"Empty_One\"" }));
            Assert.Equal(HttpStatusCode.OK, created.StatusCode);
            Assert.Equal("{\"results\":[{\"statement_id\":0}]}\n", await created.Content.ReadAsStringAsync());

            var (_, shown, _) = await GetAsync(server.Client, Q("SHOW DATABASES"));
            Assert.Contains("[\"empty_one\"]", shown, StringComparison.Ordinal);

            using var get = await server.Client.GetAsync("/query?" + Q("CREATE DATABASE other"));
            Assert.Equal(HttpStatusCode.MethodNotAllowed, get.StatusCode);
        }

        await using (var restarted = await PlexusTestServer.StartAsync(folder.Path))
        {
            var (_, body, _) = await GetAsync(restarted.Client, "db=empty_one&" + Q("SHOW DATABASES; SHOW MEASUREMENTS; SHOW RETENTION POLICIES"));
            var results = JsonDocument.Parse(body).RootElement.GetProperty("results");
            Assert.Contains("[\"empty_one\"]", results[0].GetRawText(), StringComparison.Ordinal);
            Assert.Equal("{\"statement_id\":1}", results[1].GetRawText());
            Assert.Equal("autogen", results[2].GetProperty("series")[0].GetProperty("values")[0][0].GetString());

            using var write = await restarted.WriteAsync("m v=1 1", "?bucket=empty_one");
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }
    }

    [Fact]
    public async Task Delete_from_with_time_and_tag_conditions_and_drop_measurement_delete_through_the_store()
    {
        await using var server = await StartAsync();
        using var response = await server.Client.PostAsync("/query?db=lab&" + Q(
            "DELETE FROM cpu WHERE host = 'a' AND time >= '2023-11-14T22:13:30Z'; SELECT count(usage) FROM cpu; " +
            "DELETE FROM cpu WHERE usage > 1; DROP MEASUREMENT cpu; SELECT count(usage) FROM cpu; DROP SERIES FROM cpu"), null);
        var results = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results");

        // host a's points at ...10 s and ...20 s go; its first and host b's stay.
        Assert.Equal(4, results[1].GetProperty("series")[0].GetProperty("values")[0][1].GetInt32());
        Assert.Contains("tag comparisons", results[2].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(results[3].TryGetProperty("error", out _));
        Assert.False(results[4].TryGetProperty("series", out _));
        Assert.StartsWith("DROP SERIES is not available", results[5].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(await server.RowsAsync("SELECT * FROM duckdb_views() WHERE schema_name = 'lab' AND view_name = 'cpu'"));
    }

    [Fact]
    public async Task Deletes_need_an_admin_token_and_keep_the_data_otherwise()
    {
        await using var server = await StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "writer", scope = "write" });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var writer = server.ClientWithToken(token);

        using var response = await writer.PostAsync("/query?db=lab&" + Q("DROP MEASUREMENT cpu"), null);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("needs a token with scope admin", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(6, (await server.RowsAsync("SELECT count(*) FROM cpu", "lab"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Flux_endpoint_answers_501_pointing_to_influxql_and_sql()
    {
        await using var server = await StartAsync();
        using var response = await server.Client.PostAsync("/api/v2/query?org=x", new StringContent("from(bucket: \"lab\") |> range(start: -1h)", Encoding.UTF8, "application/vnd.flux"));
        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("not implemented", body.GetProperty("code").GetString());
        string message = body.GetProperty("message").GetString()!;
        Assert.Contains("Flux is not supported", message, StringComparison.Ordinal);
        Assert.Contains("/query", message, StringComparison.Ordinal);
        Assert.Contains("/api/v1/sql", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Times_are_RFC3339_by_default_and_epoch_numbers_in_the_unit_asked()
    {
        await using var server = await StartAsync();
        string q = Q("SELECT usage FROM cpu WHERE host = 'a' LIMIT 1");
        async Task<JsonElement> TimeAsync(string extra) =>
            JsonDocument.Parse((await GetAsync(server.Client, $"db=lab&{q}{extra}")).Body).RootElement.GetProperty("results")[0].GetProperty("series")[0].GetProperty("values")[0][0].Clone();

        Assert.Equal("2023-11-14T22:13:20Z", (await TimeAsync("")).GetString());
        Assert.Equal(1_700_000_000_000_000_000, (await TimeAsync("&epoch=ns")).GetInt64());
        Assert.Equal(1_700_000_000_000_000, (await TimeAsync("&epoch=u")).GetInt64());
        Assert.Equal(1_700_000_000_000, (await TimeAsync("&epoch=ms")).GetInt64());
        Assert.Equal(1_700_000_000, (await TimeAsync("&epoch=s")).GetInt64());
        Assert.Equal(28_333_333, (await TimeAsync("&epoch=m")).GetInt64());
        Assert.Equal(472_222, (await TimeAsync("&epoch=h")).GetInt64());
        var (status, _, _) = await GetAsync(server.Client, $"db=lab&{q}&epoch=days");
        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Chunked_answer_is_one_object_per_line_with_InfluxDB_partial_flags()
    {
        await using var server = await StartAsync();
        var (status, body, _) = await GetAsync(server.Client, "db=lab&epoch=s&chunked=true&chunk_size=2&" + Q("SELECT usage FROM cpu GROUP BY host; SHOW DATABASES; SELECT nothing FROM cpu"));
        Assert.Equal(HttpStatusCode.OK, status);
        string[] lines = body.TrimEnd('\n').Split('\n');
        Assert.Equal(
        [
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[1700000000,1.5],[1700000010,2.5]],\"partial\":true}],\"partial\":true}]}",
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"a\"},\"columns\":[\"time\",\"usage\"],\"values\":[[1700000020,3.5]]}],\"partial\":true}]}",
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[1700000000,10],[1700000010,20]],\"partial\":true}],\"partial\":true}]}",
            "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"tags\":{\"host\":\"b\"},\"columns\":[\"time\",\"usage\"],\"values\":[[1700000020,30]]}]}]}",
            "{\"results\":[{\"statement_id\":1,\"series\":[{\"name\":\"databases\",\"columns\":[\"name\"],\"values\":[[\"lab\"],[\"main\"]]}]}]}",
            "{\"results\":[{\"statement_id\":2}]}",
        ],
            lines);
    }

    [Fact]
    public async Task Csv_answer_has_name_tags_time_and_values_and_a_blank_line_between_statements()
    {
        await using var server = await StartAsync();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/query?db=lab&" + Q("SELECT usage, load FROM cpu WHERE time < 1700000010000ms GROUP BY host, region; SHOW TAG KEYS; SHOW USERS"));
        request.Headers.Accept.ParseAdd("application/csv");
        using var response = await server.Client.SendAsync(request);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        string body = await response.Content.ReadAsStringAsync();
        Assert.Equal(
            "name,tags,time,usage,load\n" +
            "cpu,\"host=a,region=east\",1700000000000000000,1.5,3\n" +
            "cpu,\"host=b,region=\",1700000000000000000,10,1\n" +
            "\n" +
            "name,tags,tagKey\n" +
            "cpu,,host\n" +
            "cpu,,region\n" +
            "\n" +
            "error\n" +
            "SHOW USERS is not supported by Plexus: Plexus has tokens with scopes instead of InfluxDB users (GET /api/v1/tokens). Plexus answers SELECT and SHOW in InfluxQL (docs/influxql.md); anything else can be asked in SQL on POST /api/v1/sql\n",
            body);
    }

    [Fact]
    public async Task Pretty_answer_is_indented_and_still_one_JSON_document()
    {
        await using var server = await StartAsync();
        var (_, body, _) = await GetAsync(server.Client, "db=lab&pretty=true&" + Q("SELECT mean(usage) FROM cpu GROUP BY host; SHOW USERS"));
        Assert.Contains("\n      \"statement_id\": 0", body, StringComparison.Ordinal);
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results");
        Assert.Equal(2, results.GetArrayLength());
        Assert.Equal(2, results[0].GetProperty("series").GetArrayLength());
    }

    [Fact]
    public async Task Form_body_parameters_win_over_the_url_and_rp_is_ignored()
    {
        await using var server = await StartAsync();
        using var response = await server.Client.PostAsync("/query?db=main&q=SHOW+USERS&rp=whatever", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["db"] = "lab",
            ["q"] = "SELECT count(usage) FROM cpu",
            ["epoch"] = "s",
        }));
        string body = await response.Content.ReadAsStringAsync();
        Assert.Equal("{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"cpu\",\"columns\":[\"time\",\"count\"],\"values\":[[0,6]]}]}]}\n", body);
        Assert.Equal("OSS", response.Headers.GetValues("X-Influxdb-Build").Single());
    }

    [Fact]
    public async Task Row_limit_marks_the_result_partial_with_the_option_to_raise()
    {
        // Five rows: as many as the catalog of "lab" fills, so only the answer is cut.
        await using var server = await StartAsync(o => o with { QueryMaxRows = 5 });
        var (_, body, _) = await GetAsync(server.Client, "db=lab&epoch=s&" + Q("SELECT usage FROM cpu GROUP BY host; SHOW DATABASES"));
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results");
        var series = results[0].GetProperty("series");
        Assert.Equal(5, series.EnumerateArray().Sum(s => s.GetProperty("values").GetArrayLength()));
        Assert.True(results[0].GetProperty("partial").GetBoolean());
        Assert.Contains("--query-max-rows", results[0].GetProperty("messages")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.False(results[1].TryGetProperty("partial", out _));
    }

    [Fact]
    public async Task Byte_budget_ends_the_answer_as_valid_JSON_and_holds_for_the_whole_request()
    {
        await using var server = await StartAsync(o => o with { QueryMaxBytes = 2048 });
        var lines = new StringBuilder();
        for (int i = 0; i < 200; i++)
        {
            lines.Append(System.Globalization.CultureInfo.InvariantCulture, $"big,host=h{i % 3} text=\"{new string('x', 40)}\" {1_700_000_000_000_000_000L + (i * 1_000_000_000L)}\n");
        }

        using (var write = await server.WriteAsync(lines.ToString(), "?bucket=lab"))
        {
            Assert.Equal(HttpStatusCode.NoContent, write.StatusCode);
        }

        var (_, body, _) = await GetAsync(server.Client, "db=lab&" + Q("SELECT text FROM big; SELECT text FROM big"));
        Assert.True(body.Length < 2048 + 2048, $"{body.Length} bytes");
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results");
        Assert.True(results[0].GetProperty("partial").GetBoolean());
        Assert.Contains("--query-max-bytes", results[0].GetProperty("messages")[0].GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.True(results[1].GetProperty("partial").GetBoolean());

        // Statements that only answer errors count too: the request stops once the budget is spent.
        var (_, errors, _) = await GetAsync(server.Client, "db=lab&" + Q(string.Join(";", Enumerable.Repeat("SHOW USERS", 100))));
        var answered = JsonDocument.Parse(errors).RootElement.GetProperty("results");
        Assert.InRange(answered.GetArrayLength(), 2, 20);
        Assert.StartsWith("not run: the answer already holds", answered[answered.GetArrayLength() - 1].GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quotes_in_names_values_and_regexes_stay_inside_their_literals()
    {
        await using var server = await StartAsync();
        string[] hostile =
        [
            "SELECT usage FROM cpu WHERE host = 'a\\' OR \\'1\\'=\\'1'",
            "SELECT usage FROM \"cpu\\\" UNION ALL SELECT 1 --\"",
            "SELECT usage FROM cpu WHERE host =~ /'\\) OR TRUE OR \\('/",
            "SELECT \"usage\\\"; SELECT 1 --\" FROM cpu",
            "SHOW TAG VALUES FROM cpu WITH KEY = \"host' OR '1'='1\"",
        ];
        foreach (string statement in hostile)
        {
            var (status, body, _) = await GetAsync(server.Client, "db=lab&" + Q(statement));
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("{\"results\":[{\"statement_id\":0}]}\n", body);
        }

        var (_, count, _) = await GetAsync(server.Client, "db=lab&epoch=s&" + Q("SELECT count(usage) FROM cpu"));
        Assert.Contains("[[0,6]]", count, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Group_by_time_with_too_many_buckets_is_a_statement_error_naming_the_limit()
    {
        await using var server = await StartAsync(o => o with { QueryMaxRows = 1000 });
        var (_, body, _) = await GetAsync(server.Client, "db=lab&" + Q("SELECT mean(usage) FROM cpu WHERE time >= 1700000000000ms AND time <= 1700003600000ms GROUP BY time(1s); SELECT mean(usage) FROM cpu GROUP BY time(1s)"));
        var results = JsonDocument.Parse(body).RootElement.GetProperty("results");
        Assert.Contains("3601 buckets per series, more than the 1000 rows", results[0].GetProperty("error").GetString(), StringComparison.Ordinal);
        string second = results[1].GetProperty("error").GetString()!;
        Assert.StartsWith("GROUP BY time(1s) from the first point to the end of the time range gives more buckets", second, StringComparison.Ordinal);
    }
}
