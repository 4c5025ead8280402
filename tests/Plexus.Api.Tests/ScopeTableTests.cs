using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Plexus.TestKit;

namespace Plexus.Api.Tests;

/// <summary>
/// The scope column of the endpoint table in docs/http-api.md, checked against the server: every GET the table says
/// needs <c>read</c> answers a read token (anything but 401/403), every GET it says needs <c>admin</c> refuses one
/// with 403. The other pages link to this table instead of stating scopes of their own.
/// </summary>
public sealed partial class ScopeTableTests
{
    [Fact]
    public async Task Get_endpoints_answer_a_read_token_as_the_scope_table_of_http_api_md_says()
    {
        var rows = Rows();
        Assert.True(rows.Count(r => r.Scope == "read") >= 8, "the table lists the read endpoints");
        Assert.Contains(rows, r => r.Scope == "admin");
        await using var server = await PlexusTestServer.StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "reader", scope = "read" });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var reader = server.ClientWithToken(token);

        foreach (var (path, scope) in rows)
        {
            // Headers only: a streaming endpoint (the live device stream) answers its status before its endless body.
            using var response = await reader.GetAsync(path.Replace("{id}", "x", StringComparison.Ordinal).Replace("{name}", "x", StringComparison.Ordinal).Replace("{namespace.measurement}", "main.x", StringComparison.Ordinal), HttpCompletionOption.ResponseHeadersRead);
            if (scope == "admin")
            {
                Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"GET {path} is admin in the table but answered a read token {(int)response.StatusCode}");
            }
            else
            {
                Assert.True(response.StatusCode is not (HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized), $"GET {path} is {scope} in the table but answered a read token {(int)response.StatusCode}");
            }
        }
    }

    /// <summary>(path, scope) of every plain GET in the table's rows whose scope is read or admin.</summary>
    private static List<(string Path, string Scope)> Rows()
    {
        string markdown = DocsPages.Text("http-api.md");
        var rows = new List<(string, string)>();
        foreach (Match row in TableRow().Matches(markdown))
        {
            string scope = row.Groups["scope"].Value;
            foreach (Match get in PlainGet().Matches(row.Groups["paths"].Value))
            {
                rows.Add((get.Groups["path"].Value, scope));
            }
        }

        return rows;
    }

    [GeneratedRegex(@"^\| (?<paths>`[^|]*) \| `(?<scope>read|admin)`[^|]* \|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"`GET (?<path>/[^`?]+)")]
    private static partial Regex PlainGet();
}
