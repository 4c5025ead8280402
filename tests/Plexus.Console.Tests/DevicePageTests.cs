using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using MQTTnet;
using Plexus.TestKit;
using static Microsoft.Playwright.Assertions;

namespace Plexus.Console.Tests;

/// <summary>
/// The device page's history, track, alarms and asset path for a device that publishes over MQTT, and a device that
/// sends data without being registered (docs/console.md#device).
/// </summary>
public sealed class DevicePageTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [BrowserFact]
    public async Task A_device_page_shows_its_asset_path_state_and_connectivity_history_track_and_alarms_an_admin_acts_on()
    {
        var client = fixture.Server.Client;
        using (var region = await client.PostAsync("/api/v1/assets", Json("""{"id": "emea", "name": "EMEA", "type": "region"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, region.StatusCode);
        }

        using (var site = await client.PostAsync("/api/v1/assets", Json("""{"id": "depot-west", "name": "Depot West", "type": "site", "parent": "emea"}""")))
        {
            Assert.Equal(HttpStatusCode.Created, site.StatusCode);
        }

        using var registered = await client.PostAsync("/api/v1/devices", Json("""{"id": "van-3", "name": "Van 3", "parent": "depot-west"}"""));
        Assert.Equal(HttpStatusCode.Created, registered.StatusCode);
        string token = (await registered.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;

        using (var device = await MqttTestClients.ConnectAsync(fixture.Server, clientId: "van-3", configure: options => options.WithCredentials("van-3", token)))
        {
            await device.PublishAsync("devices/van-3/telemetry", """{"temperature": 20.5}""");
            using var rule = await client.PostAsync("/api/v1/rules", Json("""{"name": "van-too-warm", "from": "telemetry", "where": "temperature > 30", "severity": "major"}"""));
            Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
            await device.PublishAsync("devices/van-3/state", """{"firmware": "1.0"}""");
            await device.PublishAsync("devices/van-3/state", """{"firmware": "1.1"}""");
            foreach (string position in new[] { """{"lat": 48.85, "lon": 2.35}""", """{"lat": 48.90, "lon": 2.45}""", """{"lat": 48.95, "lon": 2.55}""" })
            {
                await device.PublishAsync("devices/van-3/location", position);
            }

            await device.PublishAsync("devices/van-3/telemetry", """{"temperature": 35.5}""");
            await device.DisconnectAsync();
        }

        // The disconnect is recorded after the client has gone: wait for it, so the page's first read has both rows.
        await Eventually.TrueAsync(async () => await CountAsync("SELECT count(*) FROM state_history WHERE device = 'van-3' AND property = 'online'") == 2, because: "the connect and the disconnect are recorded");
        await Eventually.TrueAsync(async () => await CountAsync("SELECT count(*) FROM alarms WHERE device = 'van-3' AND status = 'active'") == 1, because: "the rule raises its alarm");

        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GotoAsync("/#/devices/van-3");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Device van-3" })).ToBeVisibleAsync();
        await Expect(page.Locator("#not-registered")).ToHaveCountAsync(0);

        var path = page.Locator("#asset-path");
        await Expect(path).ToHaveTextAsync("EMEA › Depot West");
        await Expect(path.GetByRole(AriaRole.Link, new() { Name = "Depot West" })).ToHaveAttributeAsync("href", "#/assets?open=depot-west");

        // Newest first: the last firmware reported, and the disconnect before the connect.
        var states = page.Locator("#state-history tbody tr");
        await Expect(states).ToHaveCountAsync(2);
        await Expect(states.First).ToContainTextAsync("firmware");
        await Expect(states.First).ToContainTextAsync("1.1");
        await Expect(page.Locator("#device-properties")).ToContainTextAsync("\"1.1\"");
        var connectivity = page.Locator("#connectivity-history tbody tr");
        await Expect(connectivity).ToHaveCountAsync(2);
        await Expect(connectivity.First).ToContainTextAsync("offline");
        await Expect(connectivity.Nth(1)).ToContainTextAsync("online");

        await Expect(page.Locator("#device-track polyline.track")).ToHaveCountAsync(1);
        await Expect(page.Locator("#track-status")).ToContainTextAsync("3 positions");
        await Expect(page.Locator("#track-status")).ToContainTextAsync("48.95000, 2.55000");

        var alarm = page.Locator("#device-alarms tr", new() { HasText = "van-too-warm" });
        await Expect(alarm).ToContainTextAsync("active");
        await Expect(page.GetByText("Loading…")).ToHaveCountAsync(0);
        var problems = (await page.RunAxe()).Violations.Where(v => v.Impact is "serious" or "critical").Select(v => $"{v.Id}: {v.Help}").ToList();
        Assert.Empty(problems);
        await page.Locator("#device-track").ScrollIntoViewIfNeededAsync();
        await ConsoleFixture.ScreenshotAsync(page, "device-history");

        await alarm.GetByRole(AriaRole.Button, new() { Name = "Acknowledge van-too-warm" }).ClickAsync();
        await Expect(alarm).ToContainTextAsync("acknowledged");
        await alarm.GetByRole(AriaRole.Button, new() { Name = "Clear van-too-warm" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Recently cleared" })).ToBeVisibleAsync();
        await Expect(page.Locator("#device-alarms tr", new() { HasText = "van-too-warm" })).ToContainTextAsync("cleared");
        Assert.Contains("\"cleared\"", await client.GetStringAsync("/api/v1/alarms?device=van-3&status=cleared"), StringComparison.Ordinal);

        await path.GetByRole(AriaRole.Link, new() { Name = "Depot West" }).ClickAsync();
        var openAsset = page.Locator("summary[aria-current=location]");
        await Expect(openAsset).ToContainTextAsync("Depot West");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "van-3" })).ToBeVisibleAsync();
        await page.CloseAsync();

        var phone = await fixture.SignedInPageAsync(fixture.ReadToken, 375, 740);
        await phone.GotoAsync("/#/devices/van-3");
        await Expect(phone.Locator("#connectivity-history tbody tr")).ToHaveCountAsync(2);
        await Expect(phone.Locator("#device-track polyline.track")).ToHaveCountAsync(1);
        int overflow = await phone.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
        Assert.True(overflow <= 0, $"the device page is {overflow} px wider than a 375 px screen");
        await Expect(phone.GetByRole(AriaRole.Button, new() { Name = "Acknowledge van-too-warm" })).ToHaveCountAsync(0);
        await phone.CloseAsync();
    }

    [BrowserFact]
    public async Task A_device_that_sends_without_being_registered_shows_its_data_with_a_note_and_an_admin_registers_it()
    {
        using var written = await fixture.Server.WriteAsync("telemetry,device=unlisted-7 temperature=4.5");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        using var registry = await fixture.Server.Client.GetAsync("/api/v1/devices/unlisted-7");
        Assert.Equal(HttpStatusCode.NotFound, registry.StatusCode);

        var reader = await fixture.SignedInPageAsync(fixture.ReadToken);
        await reader.GotoAsync("/#/devices/unlisted-7");
        await Expect(reader.Locator("#not-registered")).ToContainTextAsync("not registered");
        await Expect(reader.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("4.5");
        await Expect(reader.Locator("#history-chart polygon")).ToHaveCountAsync(1);
        await Expect(reader.GetByRole(AriaRole.Button, new() { Name = "Register this device" })).ToHaveCountAsync(0);
        await reader.CloseAsync();

        var admin = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await admin.GotoAsync("/#/devices/unlisted-7");
        await admin.GetByRole(AriaRole.Button, new() { Name = "Register this device" }).ClickAsync();
        await Expect(admin.Locator("#registered-token")).ToBeVisibleAsync();
        using var shown = await fixture.Server.Client.GetAsync("/api/v1/devices/unlisted-7");
        Assert.Equal(HttpStatusCode.OK, shown.StatusCode);
        await admin.CloseAsync();

        // Neither registered nor seen: the page says so instead of showing an empty device.
        using var nobody = await fixture.Server.Client.GetAsync("/api/v1/devices/nobody-at-all/state");
        Assert.Equal(HttpStatusCode.NotFound, nobody.StatusCode);
        Assert.Contains("has sent no data", await nobody.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [BrowserFact]
    public async Task The_history_chart_is_drawn_while_the_device_call_has_not_answered()
    {
        await WriteTwoTemperaturesAsync("chart-first", "state=\"on\",");
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        // The device call (its last values name the fields) is held back: the chart must not need it.
        var held = new TaskCompletionSource();
        await HoldAsync(page, "/api/v1/devices/chart-first", () => held.Task);

        await page.GotoAsync("/#/devices/chart-first");
        await Expect(page.Locator("#history-chart polygon")).ToHaveCountAsync(1);
        await Expect(page.Locator("#chart-field")).ToHaveValueAsync("telemetry.temperature");
        await Expect(page.Locator("#last-values")).ToBeEmptyAsync();
        held.SetResult();
        await Expect(page.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("23.25");

        // Opened afresh, the page starts its calls before its modules load (js/early.js): the same holds.
        held = new TaskCompletionSource();
        await page.ReloadAsync();
        await Expect(page.Locator("#history-chart polygon")).ToHaveCountAsync(1);
        await Expect(page.Locator("#last-values")).ToBeEmptyAsync();
        held.SetResult();
        await Expect(page.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("23.25");
        await Expect(page.Locator("#history-error")).ToBeEmptyAsync();
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_device_call_waits_for_the_chart_query_to_answer()
    {
        await WriteTwoTemperaturesAsync("chart-alone", string.Empty);
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        // The chart's query is held back; the device call (its last values, a second scan of the device's rows) must not
        // be sent meanwhile.
        var held = new TaskCompletionSource();
        int deviceCalls = 0;
        await HoldAsync(page, "/api/v1/devices/chart-alone/history", () => held.Task);
        await page.RouteAsync("**/api/v1/devices/chart-alone", route =>
        {
            Interlocked.Increment(ref deviceCalls);
            return route.ContinueAsync();
        });

        // Reached from the overview (the page's own calls), then opened afresh (early.js's calls): the same order.
        foreach (bool reload in new[] { false, true })
        {
            held = new TaskCompletionSource();
            deviceCalls = 0;
            if (reload)
            {
                await page.ReloadAsync();
            }
            else
            {
                await page.EvaluateAsync("() => { location.hash = '#/devices/chart-alone'; }");
            }

            // The live stream opens after both calls would have been sent together: a round trip later, none was.
            await Expect(page.Locator("#live-status")).ToHaveTextAsync("Live: new points appear as they are stored.");
            Assert.Equal(0, Volatile.Read(ref deviceCalls));
            await Expect(page.Locator("#last-values")).ToBeEmptyAsync();
            held.SetResult();
            await Expect(page.Locator("#history-chart polygon")).ToHaveCountAsync(1);
            await Expect(page.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("23.25");
            Assert.True(Volatile.Read(ref deviceCalls) >= 1, "the device call is sent once the chart's query has answered");
        }

        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task Times_are_written_without_the_browsers_locale_formatting()
    {
        await WriteTwoTemperaturesAsync("clock-7", string.Empty);
        long twoDaysAgo = (TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() - (2 * 86_400_000L)) * 1_000_000;
        using (var older = await fixture.Server.WriteAsync($"telemetry,device=clock-7 temperature=18 {twoDaysAgo}\n"))
        {
            Assert.Equal(HttpStatusCode.NoContent, older.StatusCode);
        }

        // German would write 6.12.2026, 11:43:38 with toLocaleString; the console writes 2026-12-06 11:43:38 in any locale.
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken, locale: "de-DE");
        // The first locale formatting of a page loads the browser's locale data (25-45 ms of the first chart on a small
        // machine): the device page's first render must not ask for it.
        await page.AddInitScriptAsync("""
            window.__localeCalls = 0;
            for (const name of ['toLocaleString', 'toLocaleTimeString', 'toLocaleDateString']) {
              const original = Date.prototype[name];
              Date.prototype[name] = function (...args) { window.__localeCalls++; return original.apply(this, args); };
            }
            """);
        await page.GotoAsync("/#/devices/clock-7");
        await page.ReloadAsync();

        await Expect(page.Locator("#history-chart polygon")).ToHaveCountAsync(1);
        await Expect(page.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("23.25");
        // The last values' time and the chart's axis (an hour: to the second).
        await Expect(page.Locator("#last-values td").Last).ToHaveTextAsync(new Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"));
        var axis = await page.Locator("#history-chart text").AllTextContentsAsync();
        Assert.Equal(2, axis.Count(label => Regex.IsMatch(label, @"^\d\d:\d\d:\d\d$")));
        Assert.Equal(0, await page.EvaluateAsync<int>("() => window.__localeCalls"));

        // Seven days, with a point two days old: the axis needs the date, to the minute.
        await page.Locator("#chart-range").SelectOptionAsync("604800");
        await Expect(page.Locator("#history-chart text").Last).ToHaveTextAsync(new Regex(@"^\d\d-\d\d \d\d:\d\d$"));
        await page.CloseAsync();
    }

    /// <summary>Two temperatures 10 and 5 minutes ago, in the page's default range (the last hour): a band to draw.</summary>
    private async Task WriteTwoTemperaturesAsync(string device, string otherFields)
    {
        long now = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
        using var written = await fixture.Server.WriteAsync($"telemetry,device={device} {otherFields}temperature=20.5 {now - 600_000_000_000L}\ntelemetry,device={device} temperature=23.25 {now - 300_000_000_000L}\n");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
    }

    /// <summary>Holds the page's calls of <paramref name="path"/> (any query) until <paramref name="release"/>'s task ends.</summary>
    private static async Task HoldAsync(IPage page, string path, Func<Task> release) =>
        await page.RouteAsync(url => new Uri(url).AbsolutePath == path, async route =>
        {
            await release();
            await route.ContinueAsync();
        });

    private async Task<long> CountAsync(string sql)
    {
        try
        {
            var rows = await fixture.Server.RowsAsync(sql);
            return rows[0][0].GetInt64();
        }
        catch (Exception error) when (error is InvalidOperationException or HttpRequestException or KeyNotFoundException)
        {
            return -1;
        }
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}
