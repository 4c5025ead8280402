using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Rules.Tests.Engine;

/// <summary>What the engine tests do over HTTP: rules in, points in, alarms out, waiting for the engine by its counters.</summary>
internal static class RuleTestSupport
{
    public const long Minute = 60_000_000_000;

    /// <summary>A base time in nanoseconds (2026-01-01T00:00:00Z) that points are written relative to.</summary>
    public const long T0 = 1_767_225_600_000_000_000;

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static async Task AddRuleAsync(PlexusTestServer server, string json)
    {
        using var response = await server.Client.PostAsync("/api/v1/rules", Json(json));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
    }

    public static async Task RegisterAsync(PlexusTestServer server, string id, string type)
    {
        using var response = await server.Client.PostAsJsonAsync("/api/v1/devices", new { id, type });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Writes line protocol and waits until the engine has evaluated every point written so far.</summary>
    public static async Task WriteAsync(PlexusTestServer server, string lines, int evaluatedPoints)
    {
        using var response = await server.WriteAsync(lines, "?precision=ns");
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, await response.Content.ReadAsStringAsync());
        await Eventually.TrueAsync(() => server.Server.RuleEngine.Statistics.Points >= evaluatedPoints, because: $"the engine evaluates {evaluatedPoints} points");
    }

    public static async Task<List<JsonElement>> AlarmsAsync(PlexusTestServer server, string query = "")
    {
        var answer = await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/alarms" + query);
        return [.. answer.GetProperty("alarms").EnumerateArray()];
    }

    public static string Line(string device, double temperature, double minutes) =>
        $"telemetry,device={device} temperature={temperature.ToString(System.Globalization.CultureInfo.InvariantCulture)} {T0 + (long)(minutes * Minute)}";
}
