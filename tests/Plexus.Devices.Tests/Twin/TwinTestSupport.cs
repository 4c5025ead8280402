using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Devices.Tests.Twin;

/// <summary>The HTTP calls the desired-properties and command tests make, each asserting its status.</summary>
internal static class TwinTestSupport
{
    public static async Task<string> RegisterAsync(PlexusTestServer server, string id)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> PatchDesiredAsync(PlexusTestServer server, string device, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/v1/devices/{device}/desired") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        using var response = await server.Client.SendAsync(request);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    public static async Task<JsonElement> DesireAsync(PlexusTestServer server, string device, string json)
    {
        var (status, body) = await PatchDesiredAsync(server, device, json);
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        return body;
    }

    public static async Task<JsonElement> SendCommandAsync(PlexusTestServer server, string device, string json, bool wait = false)
    {
        using var response = await server.Client.PostAsync($"/api/v1/devices/{device}/commands{(wait ? "?wait=true" : "")}", new StringContent(json, Encoding.UTF8, "application/json"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<JsonElement> GetCommandAsync(PlexusTestServer server, string device, string id)
    {
        using var response = await server.Client.GetAsync($"/api/v1/devices/{device}/commands/{id}");
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
