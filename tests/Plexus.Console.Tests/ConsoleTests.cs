using System.Net;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;
using MQTTnet;
using Plexus.TestKit;
using static Microsoft.Playwright.Assertions;

namespace Plexus.Console.Tests;

/// <summary>The console in a real browser against a real server (docs/console.md).</summary>
public sealed class ConsoleTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [BrowserFact]
    public async Task Signing_in_with_the_admin_token_shows_the_overview_and_the_pages()
    {
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await Expect(page.Locator("#who-name")).ToHaveTextAsync("admin (admin)");
        await Expect(page.Locator("#health .value")).ToHaveTextAsync("healthy");
        await Expect(page.Locator("#devices-total")).ToHaveAttributeAsync("href", "#/devices");

        await page.GetByRole(AriaRole.Link, new() { Name = "Devices", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Devices", Exact = true })).ToBeVisibleAsync();
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("#/devices$"));
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task A_wrong_token_is_refused_and_the_sign_in_form_stays()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await page.GetByLabel("API token").FillAsync("not-a-token-of-this-server");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("That token is not valid here.");
        await Expect(page.Locator("#nav")).ToBeHiddenAsync();
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task A_device_registered_in_the_console_shows_its_MQTT_value_without_a_reload()
    {
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GotoAsync("/#/devices");
        await page.GetByLabel("Device id").FillAsync("console-truck");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("Console truck");
        await page.GetByRole(AriaRole.Button, new() { Name = "Register" }).ClickAsync();
        var tokenText = page.Locator("#new-device-token");
        await Expect(tokenText).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Copy token" })).ToBeVisibleAsync();
        string token = await tokenText.InnerTextAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "console-truck" }).First.ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Device console-truck" })).ToBeVisibleAsync();
        await Expect(page.Locator("#last-values")).ToContainTextAsync("mosquitto_pub");
        await Expect(page.Locator("#live-status")).ToHaveTextAsync("Live: new points appear as they are stored.");
        string url = page.Url;

        using var device = await MqttTestClients.ConnectAsync(fixture.Server, clientId: "console-truck", configure: options => options.WithCredentials("console-truck", token));
        await device.PublishAsync("devices/console-truck/telemetry", """{"temperature": 21.5}""");
        await Expect(page.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("21.5");
        await device.PublishAsync("devices/console-truck/telemetry", """{"temperature": 22.75}""");
        await Expect(page.Locator("[data-key='telemetry.temperature']")).ToHaveTextAsync("22.75");
        Assert.Equal(url, page.Url);
        await Expect(page.Locator("#chart-field")).ToHaveValueAsync("telemetry.temperature");
        await Expect(page.Locator("#live-chart polyline")).ToHaveCountAsync(1);

        // The history is decimated in SQL (min and max per pixel column): a band, not an empty chart.
        await Expect(page.Locator("#history-error")).ToBeEmptyAsync();
        await Expect(page.Locator("#history-chart polygon")).ToHaveCountAsync(1);
        await Expect(page.Locator("#device-status")).ToHaveTextAsync("online");
        await ConsoleFixture.ScreenshotAsync(page, "device");
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task A_SQL_query_returns_its_rows_and_an_engine_error_is_shown_with_its_position()
    {
        using var written = await fixture.Server.WriteAsync("weather,site=north temp=4.5 1700000000000000000\nweather,site=south temp=12.25 1700000000000000000");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GotoAsync("/#/sql");
        await page.GetByLabel("SQL (read-only; Ctrl+Enter runs it)").FillAsync("SELECT site, temp FROM weather ORDER BY site");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run" }).ClickAsync();
        await Expect(page.Locator("#sql-row-count")).ToHaveTextAsync("2 rows");
        await Expect(page.Locator("#sql-results tbody tr").First).ToContainTextAsync("north");
        await Expect(page.Locator("#sql-results tbody tr").Nth(1)).ToContainTextAsync("12.25");
        await ConsoleFixture.ScreenshotAsync(page, "sql");

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Download CSV" }).ClickAsync());
        string csv = await File.ReadAllTextAsync(await download.PathAsync());
        Assert.Equal("site,temp\r\nnorth,4.5\r\nsouth,12.25\r\n", csv);

        await page.GetByLabel("SQL (read-only; Ctrl+Enter runs it)").FillAsync("SELECT site FORM weather");
        await page.GetByLabel("SQL (read-only; Ctrl+Enter runs it)").PressAsync("Control+Enter");
        await Expect(page.Locator("#sql-error")).ToContainTextAsync("syntax error");
        await Expect(page.Locator("#sql-error")).ToContainTextAsync("LINE 1");
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task A_read_token_sees_no_admin_or_write_actions()
    {
        using var added = await fixture.Server.Client.PostAsync("/api/v1/devices", new StringContent("""{"id": "read-only-view"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var page = await fixture.SignedInPageAsync(fixture.ReadToken);
        await Expect(page.Locator("#who-name")).ToHaveTextAsync("viewer (read)");
        await page.GotoAsync("/#/devices");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "read-only-view" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Register a device" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Remove read-only-view" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Remove" })).ToHaveCountAsync(0);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task An_admin_removes_a_device_after_confirming()
    {
        using var added = await fixture.Server.Client.PostAsync("/api/v1/devices", new StringContent("""{"id": "to-remove"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GotoAsync("/#/devices?q=to-remove");
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove to-remove" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm removing to-remove" }).ClickAsync();
        await Expect(page.GetByText("No device matches these filters.")).ToBeVisibleAsync();
        using var shown = await fixture.Server.Client.GetAsync("/api/v1/devices/to-remove");
        Assert.Equal(HttpStatusCode.NotFound, shown.StatusCode);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task Signing_out_forgets_the_token_even_after_a_reload()
    {
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Plexus" })).ToBeVisibleAsync();
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('plexus.token')"));
        await page.ReloadAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Plexus" })).ToBeVisibleAsync();
        await Expect(page.Locator("#nav")).ToBeHiddenAsync();
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task At_phone_width_no_page_overflows_horizontally()
    {
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken, 375, 740);
        foreach (string route in new[] { "#/overview", "#/devices", "#/devices/console-phone", "#/alarms", "#/rules", "#/map", "#/assets", "#/sql?q=SELECT%201%20AS%20one", "#/server" })
        {
            await page.GotoAsync("/" + route);
            await Expect(page.Locator("main h1")).ToBeVisibleAsync();
            int overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
            Assert.True(overflow <= 0, $"{route} is {overflow} px wider than a 375 px screen");
        }

        await page.GotoAsync("/#/overview");
        await Expect(page.Locator("#health .value")).ToHaveTextAsync("healthy");
        await ConsoleFixture.ScreenshotAsync(page, "overview-phone");
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task Axe_finds_no_serious_or_critical_violations_on_any_page()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await Expect(page.GetByLabel("API token")).ToBeVisibleAsync();
        var problems = Violations(await page.RunAxe(), "sign-in");
        await page.GetByLabel("API token").FillAsync(PlexusTestServer.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        foreach (string route in new[] { "#/overview", "#/devices", "#/devices/axe-device", "#/alarms", "#/rules", "#/map", "#/assets", "#/sql?q=SELECT%201%20AS%20one", "#/server" })
        {
            await page.GotoAsync("/" + route);
            await Expect(page.Locator("main h1")).ToBeVisibleAsync();
            await Expect(page.GetByText("Loading…")).ToHaveCountAsync(0);
            problems.AddRange(Violations(await page.RunAxe(), route));
            if (route == "#/overview")
            {
                await ConsoleFixture.ScreenshotAsync(page, "overview");
            }
        }

        Assert.Empty(problems);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_console_is_keyboard_navigable_from_sign_in_to_a_page()
    {
        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/");
        await Expect(page.GetByLabel("API token")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(PlexusTestServer.AdminToken);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        var sqlLink = page.GetByRole(AriaRole.Link, new() { Name = "SQL", Exact = true });
        await sqlLink.FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "SQL", Exact = true })).ToBeVisibleAsync();
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task Alarms_are_acknowledged_and_devices_found_on_the_map_and_in_the_asset_tree()
    {
        var client = fixture.Server.Client;
        using var asset = await client.PostAsync("/api/v1/assets", Json("""{"id": "depot-north", "name": "Depot North", "type": "site"}"""));
        Assert.Equal(HttpStatusCode.Created, asset.StatusCode);
        using var device = await client.PostAsync("/api/v1/devices", Json("""{"id": "boiler-1", "parent": "depot-north"}"""));
        Assert.Equal(HttpStatusCode.Created, device.StatusCode);
        using var first = await fixture.Server.WriteAsync("boiler,device=boiler-1 pressure=1.0");
        using var rule = await client.PostAsync("/api/v1/rules", Json("""{"name": "boiler-pressure", "from": "boiler", "where": "pressure > 5", "severity": "critical"}"""));
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        using var high = await fixture.Server.WriteAsync("boiler,device=boiler-1 pressure=9.5");
        using var position = await fixture.Server.WriteAsync("positions,device=boiler-1 lat=59.91,lon=10.75");
        Assert.Equal(HttpStatusCode.NoContent, position.StatusCode);

        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GotoAsync("/#/alarms");
        var row = page.Locator("tr", new() { HasText = "boiler-pressure" });
        await Expect(row).ToContainTextAsync("active");
        await row.GetByRole(AriaRole.Button, new() { Name = "Acknowledge" }).ClickAsync();
        await Expect(row).ToContainTextAsync("acknowledged");

        await page.GetByRole(AriaRole.Link, new() { Name = "Map", Exact = true }).ClickAsync();
        await Expect(page.Locator("#map-devices")).ToContainTextAsync("59.91000, 10.75000");
        await page.Locator("#map-devices").GetByRole(AriaRole.Link, new() { Name = "boiler-1" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Device boiler-1" })).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "Assets", Exact = true }).ClickAsync();
        await Expect(page.Locator("summary", new() { HasText = "Depot North" })).ToHaveTextAsync("Depot North · site · 1 device · 1 open alarm");
        await page.GetByText("Depot North").ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "boiler-1" })).ToBeVisibleAsync();
        await page.CloseAsync();
    }

    private static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");

    private static List<string> Violations(AxeResult result, string where) =>
        [.. result.Violations
            .Where(violation => violation.Impact is "serious" or "critical")
            .Select(violation => $"{where}: {violation.Id} ({violation.Impact}): {violation.Help} at {string.Join(", ", violation.Nodes.Select(node => node.Target?.ToString()))}")];
}
