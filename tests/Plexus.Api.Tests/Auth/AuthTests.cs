using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Plexus.Server;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Auth;

public sealed class AuthTests
{
    [Theory]
    [InlineData("Token", PlexusTestServer.AdminToken)]
    [InlineData("Bearer", PlexusTestServer.AdminToken)]
    [InlineData("Basic", "basic")]
    [InlineData(null, "query")]
    public async Task Every_influx_client_way_of_sending_the_token_is_accepted(string? scheme, string how)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var client = new HttpClient { BaseAddress = server.Address };
        string path = "/write?db=main";
        if (how == "basic")
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("anyone:" + PlexusTestServer.AdminToken)));
        }
        else if (how == "query")
        {
            path += "&u=anyone&p=" + PlexusTestServer.AdminToken;
        }
        else
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue(scheme!, how);
        }

        using var response = await client.PostAsync(path, new StringContent("m v=1 1"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-token")]
    public async Task Missing_or_wrong_token_is_a_401_that_says_what_to_send(string? token)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var client = new HttpClient { BaseAddress = server.Address };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        }

        using var write = await client.PostAsync("/api/v2/write", new StringContent("m v=1 1"));
        using var query = await client.PostAsync("/api/v1/sql", new StringContent("{\"sql\":\"SELECT 1\"}"));

        Assert.Equal(HttpStatusCode.Unauthorized, write.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, query.StatusCode);
        Assert.Contains("Authorization: Token", await write.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_generated_admin_token_is_shown_once_and_stored_only_as_a_hash()
    {
        using var dir = new TempDirectory();
        string token;
        await using (var server = await PlexusServer.StartAsync(new PlexusServerOptions { DataDirectory = dir.Path, HttpEndpoint = "127.0.0.1:0", MqttEndpoint = PlexusServerOptions.MqttOff, PgEndpoint = PlexusServerOptions.MqttOff }))
        {
            token = server.AdminTokens.GeneratedToken!;
            Assert.False(string.IsNullOrEmpty(token));
            Assert.DoesNotContain(token, await File.ReadAllTextAsync(Path.Combine(dir.Path, "admin-token.sha256")));
        }

        await using (var server = await PlexusServer.StartAsync(new PlexusServerOptions { DataDirectory = dir.Path, HttpEndpoint = "127.0.0.1:0", MqttEndpoint = PlexusServerOptions.MqttOff, PgEndpoint = PlexusServerOptions.MqttOff }))
        {
            Assert.Null(server.AdminTokens.GeneratedToken);
            using var client = new HttpClient { BaseAddress = server.HttpAddress };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
            using var response = await client.PostAsync("/api/v2/write", new StringContent("m v=1 1"));
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        }
    }
}
