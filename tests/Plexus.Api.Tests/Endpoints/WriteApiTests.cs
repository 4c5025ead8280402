using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

public sealed class WriteApiTests
{
    [Fact]
    public async Task Health_answers_200_with_a_json_body_once_ready()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var anonymous = new HttpClient { BaseAddress = server.Address };

        using var response = await anonymous.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("pass", body.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("/write?db=fleet", "fleet")]
    [InlineData("/write?db=fleet/autogen", "fleet")]
    [InlineData("/api/v2/write?bucket=fleet&org=any", "fleet")]
    [InlineData("/api/v2/write", "main")]
    [InlineData("/write", "main")]
    public async Task Both_write_endpoints_store_into_the_namespace_given(string path, string ns)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsync(path, new StringContent("cpu,host=a usage=1.5 1000000000\n"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var rows = await server.RowsAsync($"SELECT host, usage, epoch_ns(time) FROM {ns}.cpu");
        Assert.Equal("a", rows[0][0].GetString());
        Assert.Equal(1.5, rows[0][1].GetDouble());
        Assert.Equal(1_000_000_000, rows[0][2].GetInt64());
    }

    [Theory]
    [InlineData("ns", 1_500_000_000_123_456_789L, 1_500_000_000_123_456_789L)]
    [InlineData("us", 1_500_000_000_123_456L, 1_500_000_000_123_456_000L)]
    [InlineData("u", 1_500_000_000_123_456L, 1_500_000_000_123_456_000L)]
    [InlineData("ms", 1_500_000_000_123L, 1_500_000_000_123_000_000L)]
    [InlineData("s", 1_500_000_000L, 1_500_000_000_000_000_000L)]
    public async Task Precision_scales_timestamps_to_nanoseconds(string precision, long written, long stored)
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.WriteAsync($"m v=1 {written}", $"?precision={precision}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(stored, (await server.RowsAsync("SELECT epoch_ns(time) FROM m"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Unknown_precision_is_a_400_naming_it()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.WriteAsync("m v=1 1", "?precision=fortnight");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("fortnight", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Lines_without_timestamp_get_the_server_time()
    {
        await using var server = await PlexusTestServer.StartAsync();
        long before = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;

        using var response = await server.WriteAsync("m v=1");

        long after = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        long stored = (await server.RowsAsync("SELECT epoch_ns(time) FROM m"))[0][0].GetInt64();
        Assert.InRange(stored, before, after);
    }

    [Fact]
    public async Task Gzip_bodies_are_decompressed()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(Encoding.UTF8.GetBytes(string.Join("\n", Enumerable.Range(0, 1000).Select(i => $"g,k=v x={i}i {i}"))));
        }

        var content = new ByteArrayContent(compressed.ToArray());
        content.Headers.ContentEncoding.Add("gzip");
        using var response = await server.Client.PostAsync("/api/v2/write", content);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(999 * 1000 / 2, (await server.RowsAsync("SELECT sum(x) FROM g"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Corrupt_gzip_and_unknown_encodings_are_refused_clearly()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var corrupt = new ByteArrayContent([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00]);
        corrupt.Headers.ContentEncoding.Add("gzip");
        var brotli = new StringContent("m v=1");
        brotli.Headers.ContentEncoding.Add("br");

        using var corruptResponse = await server.Client.PostAsync("/api/v2/write", corrupt);
        using var brotliResponse = await server.Client.PostAsync("/api/v2/write", brotli);

        Assert.Equal(HttpStatusCode.BadRequest, corruptResponse.StatusCode);
        Assert.Contains("gzip", await corruptResponse.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, brotliResponse.StatusCode);
    }

    [Fact]
    public async Task Bad_lines_are_listed_with_line_numbers_and_good_lines_are_still_written()
    {
        await using var server = await PlexusTestServer.StartAsync();
        string body = "m,host=a v=1 1\n" +
                      "m,host=a v= 2\n" +
                      "# comment\n" +
                      "m,host=a v=3 3\n" +
                      "m,host v=4 4\n";

        using var response = await server.WriteAsync(body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal(2, error.GetProperty("written").GetInt32());
        Assert.Equal(2, error.GetProperty("rejected").GetInt32());
        var lines = error.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("line").GetInt32()).ToArray();
        Assert.Equal([2, 5], lines);
        Assert.All(error.GetProperty("errors").EnumerateArray(), e => Assert.False(string.IsNullOrEmpty(e.GetProperty("reason").GetString())));
        Assert.Contains("partial write", error.GetProperty("message").GetString());
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM m"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Field_type_conflict_is_a_400_naming_measurement_field_and_both_types()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("env temp=21.5 1")).Dispose();

        using var response = await server.WriteAsync("env temp=22i 2\nenv temp=23.5 3");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Contains("env", text);
        Assert.Contains("temp", text);
        Assert.Contains("float", text);
        Assert.Contains("integer", text);
        Assert.Equal(2, (await server.RowsAsync("SELECT count(*) FROM env"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Body_over_the_limit_is_a_413()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with
        {
            MaxBodyBytes = 1000,
        });

        using var response = await server.WriteAsync(string.Join("\n", Enumerable.Range(0, 200).Select(i => $"m v={i} {i}")));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("1000", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Schema_grows_as_new_tags_and_fields_arrive()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("s,site=x temp=1 1")).Dispose();
        (await server.WriteAsync("s,site=x,room=r hum=2i,ok=true,note=\"hi\" 2")).Dispose();

        var result = await server.SqlAsync("SELECT * FROM s ORDER BY time");

        var columns = result.GetProperty("columns").EnumerateArray().Select(c => (c.GetProperty("name").GetString(), c.GetProperty("type").GetString())).ToArray();
        Assert.Equal([("time", "TIMESTAMP_NS"), ("site", "VARCHAR"), ("room", "VARCHAR"), ("temp", "DOUBLE"), ("hum", "BIGINT"), ("ok", "BOOLEAN"), ("note", "VARCHAR")], columns);
    }

    [Fact]
    public async Task Duplicate_points_merge_with_the_later_write_winning_per_field()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("d,id=1 a=1,b=1 10")).Dispose();
        (await server.WriteAsync("d,id=1 b=2 10\nd,id=1 a=5 10")).Dispose();

        var rows = await server.RowsAsync("SELECT a, b FROM d");

        Assert.Single(rows);
        Assert.Equal(5.0, rows[0][0].GetDouble());
        Assert.Equal(2.0, rows[0][1].GetDouble());
    }

    [Fact]
    public async Task Data_survives_a_restart()
    {
        using var dir = new TempDirectory();
        await using (var server = await PlexusTestServer.StartAsync(dir.Path))
        {
            (await server.WriteAsync("r,k=v x=1 1\nr,k=v x=2 2")).Dispose();
        }

        await using (var server = await PlexusTestServer.StartAsync(dir.Path))
        {
            Assert.Equal(3.0, (await server.RowsAsync("SELECT sum(x) FROM r"))[0][0].GetDouble());
        }
    }

    [Fact]
    public async Task Concurrent_writers_are_all_stored()
    {
        await using var server = await PlexusTestServer.StartAsync();
        var writers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            for (int b = 0; b < 10; b++)
            {
                string body = string.Join("\n", Enumerable.Range(0, 200).Select(i => $"c,w={w} v={i}i {(b * 200) + i}"));
                using var response = await server.WriteAsync(body);
                Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            }
        }));

        await Task.WhenAll(writers);

        Assert.Equal(6 * 10 * 200, (await server.RowsAsync("SELECT count(*) FROM c"))[0][0].GetInt64());
    }

    [Fact]
    public async Task Garbage_and_mutated_bodies_never_break_the_server_or_other_data()
    {
        await using var server = await PlexusTestServer.StartAsync();
        (await server.WriteAsync("keep,k=v x=1 1")).Dispose();
        var random = new Random(20261127);
        byte[] valid = Encoding.UTF8.GetBytes("m,host=a\\ b,r=x\\,y f=1.5,i=-3i,u=7u,b=t,s=\"q\\\"x\" 1700000000000000000\nm2 v=2 2\n");
        for (int i = 0; i < 300; i++)
        {
            byte[] body;
            if (i % 3 == 0)
            {
                body = new byte[random.Next(0, 300)];
                random.NextBytes(body);
            }
            else
            {
                body = (byte[])valid.Clone();
                for (int m = 0; m < 1 + (i % 5); m++)
                {
                    body[random.Next(body.Length)] = (byte)random.Next(256);
                }
            }

            using var response = await server.Client.PostAsync("/api/v2/write", new ByteArrayContent(body));
            Assert.True(response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.BadRequest, $"body {i} got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(1.0, (await server.RowsAsync("SELECT x FROM keep"))[0][0].GetDouble());
        using var health = await server.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Bad_namespace_names_are_refused()
    {
        await using var server = await PlexusTestServer.StartAsync();

        using var response = await server.Client.PostAsync("/write?db=no%20spaces", new StringContent("m v=1"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("namespace", await response.Content.ReadAsStringAsync());
    }
}
