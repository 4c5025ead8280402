using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Console.Tests;

/// <summary>What the console's files and its endpoints answer over plain HTTP (docs/console.md, docs/http-api.md).</summary>
public sealed class ConsoleApiTests(ConsoleApiTests.SharedServer shared) : IClassFixture<ConsoleApiTests.SharedServer>
{
    /// <summary>One server for the class: these tests change nothing the others read.</summary>
    public sealed class SharedServer : IAsyncLifetime
    {
        public PlexusTestServer Server { get; private set; } = null!;

        public async Task InitializeAsync() => Server = await PlexusTestServer.StartAsync();

        public async Task DisposeAsync() => await Server.DisposeAsync();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/console/js/app.js")]
    [InlineData("/console/app.css")]
    public async Task Console_files_are_served_with_a_strict_content_security_policy(string path)
    {
        var server = shared.Server;
        using var client = new HttpClient { BaseAddress = server.Address };
        using var response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string policy = string.Join(" ", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", policy, StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task The_console_page_has_no_inline_script_or_style_and_loads_nothing_from_elsewhere()
    {
        var server = shared.Server;
        using var client = new HttpClient { BaseAddress = server.Address };
        string page = await client.GetStringAsync("/");
        Assert.Contains("<script type=\"module\" src=\"/console/js/app.js\"></script>", page, StringComparison.Ordinal);
        Assert.DoesNotContain("<style", page, StringComparison.Ordinal);
        Assert.DoesNotContain("style=", page, StringComparison.Ordinal);
        Assert.DoesNotMatch(@"\son[a-z]+=", page);
        Assert.DoesNotContain("http://", page, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", page, StringComparison.Ordinal);
        foreach (var (path, asset) in WebConsole.ConsoleAssets.Files)
        {
            string text = Encoding.UTF8.GetString(asset.Content.Span);
            Assert.False(text.Contains("innerHTML", StringComparison.Ordinal), $"{path} sets innerHTML: build elements with textContent (dom.js)");
            Assert.False(text.Contains("eval(", StringComparison.Ordinal), $"{path} calls eval");
        }
    }

    [Fact]
    public void The_page_asks_for_every_module_at_once_rather_than_import_by_import()
    {
        // Each module is revalidated on every load, so a module left to be found through its importers waits for them.
        string page = Encoding.UTF8.GetString(WebConsole.ConsoleAssets.Find(WebConsole.ConsoleAssets.IndexPath)!.Content.Span);
        var modules = WebConsole.ConsoleAssets.Files.Keys.Where(path => path.StartsWith("js/", StringComparison.Ordinal) && path.EndsWith(".js", StringComparison.Ordinal)).ToList();
        Assert.Contains("js/pages/device.js", modules);
        foreach (string module in modules)
        {
            string url = "/console/" + module;
            Assert.True(page.Contains($"<link rel=\"modulepreload\" href=\"{url}\">", StringComparison.Ordinal) || page.Contains($"<script type=\"module\" src=\"{url}\">", StringComparison.Ordinal)
                    || page.Contains($"<script type=\"module\" async src=\"{url}\">", StringComparison.Ordinal),
                $"index.html neither loads nor preloads {url}: add <link rel=\"modulepreload\" href=\"{url}\"> beside the others");
        }
    }

    [Fact]
    public void The_first_calls_start_without_waiting_for_the_stylesheet_or_the_parse()
    {
        // A deferred module runs after the page is parsed and its stylesheets are loaded; the first API calls need neither.
        string page = Encoding.UTF8.GetString(WebConsole.ConsoleAssets.Find(WebConsole.ConsoleAssets.IndexPath)!.Content.Span);
        int early = page.IndexOf("<script type=\"module\" async src=\"/console/js/early.js\">", StringComparison.Ordinal);
        Assert.True(early >= 0, "index.html loads js/early.js as an async module");
        Assert.True(early < page.IndexOf("<link rel=\"stylesheet\"", StringComparison.Ordinal), "js/early.js is asked for before the stylesheet");
    }

    [Fact]
    public async Task An_unknown_console_file_is_404_and_an_unchanged_one_is_304()
    {
        var server = shared.Server;
        using var client = new HttpClient { BaseAddress = server.Address };
        // Encoded, so that the client does not resolve the dots itself: the server looks paths up, it never joins them to a folder.
        using var missing = await client.GetAsync("/console/js%2F..%2F..%2Fplexus.log");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var first = await client.GetAsync("/console/js/api.js");
        var etag = first.Headers.ETag!;
        using var request = new HttpRequestMessage(HttpMethod.Get, "/console/js/api.js");
        request.Headers.IfNoneMatch.Add(etag);
        using var again = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
    }

    [Fact]
    public async Task Whoami_names_the_token_and_its_scope_and_refuses_no_token()
    {
        var server = shared.Server;
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        using var refused = await anonymous.GetAsync("/api/v1/whoami");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        var admin = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/whoami");
        Assert.Equal("admin", admin.GetProperty("scope").GetString());
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "reader", scope = "read" });
        string token = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        using var reader = server.ClientWithToken(token);
        var read = await reader.GetFromJsonAsync<JsonElement>("/api/v1/whoami");
        Assert.Equal("reader", read.GetProperty("name").GetString());
        Assert.Equal("read", read.GetProperty("scope").GetString());
    }

    [Fact]
    public async Task The_device_list_filters_by_text_type_and_online_and_pages_on_the_server()
    {
        var server = shared.Server;
        var devices = Enumerable.Range(0, 120).Select(i => new { id = $"unit-{i:D3}", type = i % 2 == 0 ? "meter" : "tracker", name = i == 7 ? "Boiler room" : null }).ToArray();
        using var bulk = await server.Client.PostAsJsonAsync("/api/v1/devices/bulk", devices);
        Assert.Equal(HttpStatusCode.OK, bulk.StatusCode);

        var page = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices?type=meter&limit=50&offset=50");
        Assert.Equal(60, page.GetProperty("total").GetInt32());
        Assert.Equal(10, page.GetProperty("devices").GetArrayLength());
        Assert.Equal("unit-100", page.GetProperty("devices")[0].GetProperty("id").GetString());
        Assert.False(page.GetProperty("devices")[0].GetProperty("online").GetBoolean());

        var byName = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices?q=BOILER");
        Assert.Equal("unit-007", byName.GetProperty("devices").EnumerateArray().Single().GetProperty("id").GetString());

        using var device = await MqttTestClients.ConnectAsync(server, clientId: "unit-005", password: null, configure: options => options.WithCredentials("unit-005", TokenOf(bulk, "unit-005")));
        JsonElement online = default;
        await Eventually.TrueAsync(async () =>
        {
            online = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices?online=true");
            return online.GetProperty("total").GetInt32() == 1;
        }, because: "unit-005 is connected");
        Assert.Equal("unit-005", online.GetProperty("devices").EnumerateArray().Single().GetProperty("id").GetString());
        var offline = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/devices?online=false&limit=0");
        Assert.Equal(119, offline.GetProperty("total").GetInt32());

        using var bad = await server.Client.GetAsync("/api/v1/devices?online=maybe");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("online must be true or false", await bad.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var overview = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/overview");
        Assert.Equal(120, overview.GetProperty("devices").GetProperty("total").GetInt32());
        Assert.Equal(1, overview.GetProperty("devices").GetProperty("online").GetInt32());
        Assert.Equal(119, overview.GetProperty("devices").GetProperty("offline").GetInt32());
        Assert.Equal("pass", overview.GetProperty("health").GetString());
        Assert.True(overview.GetProperty("storage_bytes").GetInt64() > 0);
        Assert.Equal(["critical", "major", "minor", "warning", "info"], overview.GetProperty("alarms_open").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Live_positions_list_each_device_at_its_last_position()
    {
        var server = shared.Server;
        using var written = await server.WriteAsync("positions,device=van-1 lat=52.5,lon=13.4 1700000000000000000\npositions,device=van-1 lat=52.6,lon=13.5 1700000001000000000");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        var answer = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/live/positions");
        var van = answer.GetProperty("devices").EnumerateArray().Single();
        Assert.Equal("van-1", van.GetProperty("device").GetString());
        Assert.Equal(52.6, van.GetProperty("lat").GetDouble());
        Assert.Equal(13.5, van.GetProperty("lon").GetDouble());
    }

    private static string TokenOf(HttpResponseMessage bulk, string id)
    {
        var results = JsonDocument.Parse(bulk.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement.GetProperty("results");
        return results.EnumerateArray().Select(r => r.GetProperty("device")).Single(d => d.GetProperty("id").GetString() == id).GetProperty("token").GetString()!;
    }
}
