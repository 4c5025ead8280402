using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Plexus.TestKit;

namespace Plexus.Api.Tests.Endpoints;

/// <summary>
/// <c>GET /api/v1/devices/{id}/history</c> (docs/devices.md#history-chart-get-apiv1devicesidhistory): a numeric field as
/// min/max per bucket, the field chosen by the server when none is given.
/// </summary>
public sealed class DeviceHistoryApiTests
{
    // 2026-01-02T03:00:00Z, a multiple of the 6-second buckets below, so the first bucket starts at it.
    private const long Base = 1_767_322_800_000;
    private const string Range = "from=2026-01-02T03:00:00Z&to=2026-01-02T03:01:00Z&buckets=10";

    [Fact]
    public async Task With_no_field_the_server_charts_the_first_numeric_field_the_device_has_and_says_which()
    {
        await using var server = await PlexusTestServer.StartAsync();
        // "aaa" sorts first but has no series of truck-7; state is truck-7's first field but text.
        await WriteAsync(server, $"""
            aaa,device=other-truck x=1 {Ns(1)}
            telemetry,device=truck-7 state="on",temperature=20,rpm=1800i {Ns(1)}
            telemetry,device=truck-7 temperature=24 {Ns(2)}
            telemetry,device=truck-7 temperature=22,rpm=2100i {Ns(7)}
            telemetry,device=truck-8 temperature=99 {Ns(3)}
            """);

        var answer = await GetAsync(server, $"/api/v1/devices/truck-7/history?{Range}");

        Assert.Equal("truck-7", answer.GetProperty("device").GetString());
        Assert.Equal("telemetry", answer.GetProperty("measurement").GetString());
        Assert.Equal("temperature", answer.GetProperty("field").GetString());
        Assert.Equal(6000, answer.GetProperty("bucket_ms").GetInt64());
        Assert.Equal([(Base, 20.0, 24.0), (Base + 6000, 22.0, 22.0)], Buckets(answer));

        // The same field the device's last values list first among its numbers, which the console's field list shows.
        using var device = await server.Client.GetAsync("/api/v1/devices/truck-7/state");
        var lastValues = JsonDocument.Parse(await device.Content.ReadAsStringAsync()).RootElement.GetProperty("last_values");
        var firstNumeric = lastValues.EnumerateObject()
            .SelectMany(m => m.Value.EnumerateObject().Select(f => (Measurement: m.Name, Field: f.Name, Kind: f.Value.GetProperty("value").ValueKind)))
            .First(f => f.Kind == JsonValueKind.Number);
        Assert.Equal(("telemetry", "temperature"), (firstNumeric.Measurement, firstNumeric.Field));
    }

    [Fact]
    public async Task A_given_field_is_charted_whole_numbers_as_numbers()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, $"""
            telemetry,device=truck-7 temperature=20,rpm=1800i {Ns(1)}
            telemetry,device=truck-7 rpm=2100i {Ns(2)}
            """);

        var answer = await GetAsync(server, $"/api/v1/devices/truck-7/history?measurement=telemetry&field=rpm&{Range}");

        Assert.Equal("rpm", answer.GetProperty("field").GetString());
        Assert.Equal([(Base, 1800.0, 2100.0)], Buckets(answer));
    }

    [Fact]
    public async Task A_device_without_numeric_data_gets_no_field_and_no_buckets()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, $"telemetry,device=truck-7 state=\"on\" {Ns(1)}");

        var answer = await GetAsync(server, $"/api/v1/devices/quiet-1/history?{Range}");

        Assert.Equal(JsonValueKind.Null, answer.GetProperty("measurement").ValueKind);
        Assert.Equal(JsonValueKind.Null, answer.GetProperty("field").ValueKind);
        Assert.Empty(Buckets(answer));
    }

    [Theory]
    [InlineData("measurement=telemetry", HttpStatusCode.BadRequest, "give measurement and field together")]
    [InlineData("measurement=telemetry&field=state", HttpStatusCode.NotFound, "has no numeric field \"state\"")]
    [InlineData("measurement=nowhere&field=temperature", HttpStatusCode.NotFound, "main.nowhere has no numeric field")]
    [InlineData("buckets=0", HttpStatusCode.BadRequest, "buckets: must be a whole number from 1 to 10000")]
    [InlineData("from=2026-01-02T04:00:00Z&to=2026-01-02T03:00:00Z", HttpStatusCode.BadRequest, "must be before to")]
    [InlineData("from=yesterday", HttpStatusCode.BadRequest, "from: \"yesterday\" is not an RFC 3339 time")]
    public async Task A_request_that_cannot_be_charted_is_refused_naming_why(string query, HttpStatusCode status, string message)
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, $"telemetry,device=truck-7 state=\"on\",temperature=20 {Ns(1)}");

        using var response = await server.Client.GetAsync("/api/v1/devices/truck-7/history?" + query);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(message, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_device_fields_follow_each_acknowledged_write_and_delete_that_changes_the_schema()
    {
        // The device measurements' columns are read from DuckDB's catalog once per schema change, not per call: every
        // step below reads them right after the change is acknowledged, so a list kept a step too long fails it.
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, $"telemetry,device=truck-7 state=\"on\" {Ns(1)}");
        var first = await GetAsync(server, $"/api/v1/devices/truck-7/history?{Range}");
        Assert.Equal(JsonValueKind.Null, first.GetProperty("field").ValueKind);

        await WriteAsync(server, $"telemetry,device=truck-7 rpm=1800i {Ns(2)}");
        var widened = await GetAsync(server, $"/api/v1/devices/truck-7/history?{Range}");
        Assert.Equal(("telemetry", "rpm"), (widened.GetProperty("measurement").GetString(), widened.GetProperty("field").GetString()));
        Assert.Equal([(Base, 1800.0, 1800.0)], Buckets(widened));

        // A measurement sorting first takes over the chart, and its field shows among the last values.
        await WriteAsync(server, $"engine,device=truck-7 oil=3.5 {Ns(3)}");
        var created = await GetAsync(server, $"/api/v1/devices/truck-7/history?{Range}");
        Assert.Equal(("engine", "oil"), (created.GetProperty("measurement").GetString(), created.GetProperty("field").GetString()));
        var state = await GetAsync(server, "/api/v1/devices/truck-7/state");
        Assert.Equal(3.5, state.GetProperty("last_values").GetProperty("engine").GetProperty("oil").GetProperty("value").GetDouble());

        using var dropped = await server.Client.DeleteAsync("/api/v1/measurements/main.engine");
        Assert.True(dropped.IsSuccessStatusCode, await dropped.Content.ReadAsStringAsync());
        var after = await GetAsync(server, $"/api/v1/devices/truck-7/history?{Range}");
        Assert.Equal(("telemetry", "rpm"), (after.GetProperty("measurement").GetString(), after.GetProperty("field").GetString()));
        var stateAfter = await GetAsync(server, "/api/v1/devices/truck-7/state");
        Assert.False(stateAfter.GetProperty("last_values").TryGetProperty("engine", out _));
    }

    [Fact]
    public async Task A_token_without_namespace_main_may_not_read_device_history()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var created = await server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "partner", scope = "read", namespaces = new[] { "partner" } });
        string token = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var partner = server.ClientWithToken(token);

        using var response = await partner.GetAsync($"/api/v1/devices/truck-7/history?{Range}");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task The_answer_says_how_long_the_server_took_so_a_browser_can_tell_it_from_the_network()
    {
        await using var server = await PlexusTestServer.StartAsync();
        await WriteAsync(server, $"telemetry,device=truck-7 temperature=20 {Ns(1)}");

        long started = TimeProvider.System.GetTimestamp();
        using var response = await server.Client.GetAsync($"/api/v1/devices/truck-7/history?{Range}");
        double elapsed = TimeProvider.System.GetElapsedTime(started).TotalMilliseconds;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string timing = Assert.Single(response.Headers.GetValues("Server-Timing"));
        Assert.StartsWith("app;dur=", timing, StringComparison.Ordinal);
        Assert.InRange(double.Parse(timing["app;dur=".Length..], System.Globalization.CultureInfo.InvariantCulture), 0, elapsed);
    }

    private static string Ns(int second) => ((Base + (second * 1000L)) * 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static async Task WriteAsync(PlexusTestServer server, string lines)
    {
        using var written = await server.WriteAsync(lines.Replace("\r\n", "\n", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
    }

    private static async Task<JsonElement> GetAsync(PlexusTestServer server, string path)
    {
        using var response = await server.Client.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static List<(long Start, double Low, double High)> Buckets(JsonElement answer) =>
        [.. answer.GetProperty("buckets").EnumerateArray().Select(b => (b[0].GetInt64(), b[1].GetDouble(), b[2].GetDouble()))];
}
