using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Plexus.TestKit;

namespace Plexus.Api.Tests;

/// <summary>
/// The endpoint table of docs/http-api.md, checked against the server both ways: every endpoint a running server maps
/// (ASP.NET Core's endpoint data sources) is a row with its scope, every row is an endpoint, and each answers tokens
/// as its scope says: a read token is let through where the table says <c>read</c> and refused with 403 and the API's
/// JSON error elsewhere; a write token likewise where it says <c>admin</c>. Other pages' tables that state a scope
/// (rules.md) must state the same one. The other pages link to this table instead of stating scopes of their own.
/// </summary>
public sealed partial class ScopeTableTests
{
    [Fact]
    public async Task Every_endpoint_the_server_maps_is_a_row_of_the_scope_table_and_every_row_is_an_endpoint()
    {
        var table = Table("http-api.md");
        await using var server = await PlexusTestServer.StartAsync();
        var mapped = server.Server.HttpEndpoints.OfType<RouteEndpoint>()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(method => (Method: method, Route: Normalize(endpoint.RoutePattern.RawText!))))
            .ToHashSet();
        Assert.True(mapped.Count >= 60, $"the server maps {mapped.Count} endpoints");

        // A route mapped for every method (*: MQTT over WebSocket, which answers an upgrade) is a row with any of them.
        var documented = table.Select(row => (row.Method, Route: Normalize(row.Route))).ToHashSet();
        var anyMethod = mapped.Where(e => e.Method == "*").Select(e => e.Route).ToHashSet();
        var missing = mapped.Where(e => e.Method == "*" ? !documented.Any(d => d.Route == e.Route) : !documented.Contains(e)).Select(e => $"{e.Method} {e.Route}").Order(StringComparer.Ordinal).ToList();
        var extra = documented.Where(d => !mapped.Contains(d) && !anyMethod.Contains(d.Route)).Select(e => $"{e.Method} {e.Route}").Order(StringComparer.Ordinal).ToList();
        Assert.True(missing.Count == 0, "endpoints the server maps but the table of http-api.md does not list:\n" + string.Join('\n', missing));
        Assert.True(extra.Count == 0, "rows of the table of http-api.md the server does not map:\n" + string.Join('\n', extra));

        // MQTT over WebSocket is there too: a plain request is refused as not an upgrade, not unknown.
        Assert.Contains("/mqtt", anyMethod);
        using var plain = await server.Client.GetAsync("/mqtt");
        Assert.Equal(HttpStatusCode.BadRequest, plain.StatusCode);
    }

    [Fact]
    public async Task Endpoints_answer_read_and_write_tokens_as_the_scope_table_of_http_api_md_says()
    {
        var table = Table("http-api.md");
        Assert.True(table.Count(r => r.Scope == "read") >= 15, "the table lists the read endpoints");
        Assert.Contains(table, r => r.Scope == "write");
        Assert.Contains(table, r => r.Scope == "admin");
        await using var server = await PlexusTestServer.StartAsync();
        using var reader = server.ClientWithToken(await TokenAsync(server, "reader", "read"));
        using var writer = server.ClientWithToken(await TokenAsync(server, "writer", "write"));
        var wrong = new List<string>();

        foreach (var row in table.Where(row => row.Scope is "read" or "write" or "admin" && row.Method != "HEAD"))
        {
            await CheckAsync(reader, row, allowed: row.Scope == "read");
            await CheckAsync(writer, row, allowed: row.Scope != "admin");
        }

        Assert.True(wrong.Count == 0, "endpoints that answer otherwise than the table of http-api.md says:\n" + string.Join('\n', wrong));

        async Task CheckAsync(HttpClient client, ScopeRow row, bool allowed)
        {
            string token = client == reader ? "read" : "write";
            using var request = new HttpRequestMessage(new HttpMethod(row.Method), Example(row.Route));
            if (row.Method is "POST" or "PUT" or "PATCH")
            {
                request.Content = JsonContent.Create(new { });
            }

            // Headers only: a streaming endpoint (the live device stream) answers its status before its endless body.
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (allowed && response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized)
            {
                wrong.Add($"{row.Method} {row.Route} is {row.Scope} in the table but refused a {token} token with {(int)response.StatusCode}");
            }
            else if (!allowed && response.StatusCode != HttpStatusCode.Forbidden)
            {
                wrong.Add($"{row.Method} {row.Route} is {row.Scope} in the table but answered a {token} token {(int)response.StatusCode}");
            }
            else if (!allowed && !IsForbiddenError(await response.Content.ReadAsStringAsync(), row))
            {
                wrong.Add($"{row.Method} {row.Route} refused a {token} token without the API's JSON error naming the endpoint and its scope");
            }
        }
    }

    [Fact]
    public void Scopes_stated_on_other_pages_are_the_scope_table_s()
    {
        var scopes = Table("http-api.md").ToDictionary(row => (row.Method, Normalize(row.Route)), row => row.Scope);
        var stated = Table("rules.md");
        Assert.Contains(stated, row => row.Route.StartsWith("/api/v1/alarms", StringComparison.Ordinal));
        Assert.All(stated, row => Assert.True(
            scopes.TryGetValue((row.Method, Normalize(row.Route)), out string? scope) && scope == row.Scope,
            $"rules.md says {row.Method} {row.Route} needs {row.Scope}; the table of http-api.md says {scope ?? "nothing"}"));
    }

    private static async Task<string> TokenAsync(PlexusTestServer server, string name, string scope)
    {
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name, scope });
        return JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>The API's one error shape, with code forbidden and a message that names the endpoint and the scope it needs.</summary>
    private static bool IsForbiddenError(string body, ScopeRow row)
    {
        try
        {
            var error = JsonDocument.Parse(body).RootElement;
            string message = error.GetProperty("message").GetString()!;
            return error.GetProperty("code").GetString() == "forbidden"
                && error.GetProperty("error").GetString() == message
                && error.GetProperty("error_id").GetString()!.Length > 0
                && message.Contains(row.Scope, StringComparison.Ordinal);
        }
        catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>A request path for a route: every parameter filled in (a measurement as namespace.measurement).</summary>
    private static string Example(string route) =>
        Parameter().Replace(route.Replace("…", "x", StringComparison.Ordinal), parameter => parameter.Value.Contains("measurement", StringComparison.Ordinal) ? "main.x" : "x");

    /// <summary>A route with its parameters unnamed, so <c>{id}</c>, <c>{**path}</c> and the page's <c>…</c> compare equal.</summary>
    private static string Normalize(string route) => Parameter().Replace(route.Replace("…", "{path}", StringComparison.Ordinal), "{}");

    /// <summary>
    /// (method, route, scope) of every endpoint a page's tables list with the scope it needs. A cell lists endpoints as
    /// <c>`GET /a`</c>, <c>`PUT`/`DELETE /a/{id}`</c>, <c>`POST /a/{id}/telemetry[/{measurement}]`</c> (with and
    /// without the optional part) and <c>`/b`</c> (a sibling of the endpoint before it: same methods and parent path);
    /// a query string is not part of the route.
    /// </summary>
    private static List<ScopeRow> Table(string page)
    {
        var rows = new List<ScopeRow>();
        foreach (Match row in TableRow().Matches(DocsPages.Text(page)))
        {
            string scope = row.Groups["scope"].Value;
            string[] methods = [];
            string previous = "/";
            foreach (Match item in EndpointItem().Matches(row.Groups["paths"].Value))
            {
                string path = item.Groups["path"].Value;
                if (item.Groups["methods"].Success)
                {
                    methods = item.Groups["methods"].Value.Split("`/`");
                }
                else
                {
                    path = previous[..previous.LastIndexOf('/')] + path;
                }

                previous = path;
                string[] routes = item.Groups["optional"].Success ? [path, path + item.Groups["optional"].Value] : [path];
                rows.AddRange(routes.SelectMany(route => methods.Select(method => new ScopeRow(method, route, scope))));
            }
        }

        return rows;
    }

    private sealed record ScopeRow(string Method, string Route, string Scope);

    // A table row: the endpoints, then the scope, backticked (`read`, with notes after it) or a word (none).
    [GeneratedRegex(@"^\| (?<paths>`(?:GET|HEAD|POST|PUT|PATCH|DELETE|/)[^|]*) \| `?(?<scope>none|read|write|admin|in MQTT CONNECT)\b[^|]* \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"`(?:(?<methods>[A-Z]+(?:`/`[A-Z]+)*) )?(?<path>/[^`?\[\s]*)(?:\[(?<optional>[^\]]+)\])?[^`]*`")]
    private static partial Regex EndpointItem();

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Parameter();
}
