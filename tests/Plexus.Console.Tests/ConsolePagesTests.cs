using System.Net;
using Microsoft.Playwright;
using Plexus.TestKit;
using static Microsoft.Playwright.Assertions;

namespace Plexus.Console.Tests;

/// <summary>The rules, server and map pages and the SQL editor's completion and chart, in a real browser.</summary>
public sealed class ConsolePagesTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    [BrowserFact]
    public async Task An_admin_creates_edits_pauses_and_removes_a_rule_and_sees_the_servers_reason_for_a_bad_one()
    {
        using var written = await fixture.Server.WriteAsync("freezers,device=freezer-1 temperature=-20");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GetByRole(AriaRole.Link, new() { Name = "Rules", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Rules", Exact = true })).ToBeVisibleAsync();
        var editor = page.GetByLabel("Rule (JSON)");

        await editor.FillAsync("""{"name": "too-warm", "from": "freezers", "where": "temprature > -15", "severity": "major"}""");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save rule" }).ClickAsync();
        await Expect(page.Locator("#rule-result [role=alert]")).ToContainTextAsync("temprature");

        await editor.FillAsync("""{"name": "too-warm", "from": "freezers", "where": "temperature > -15", "severity": "major"}""");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save rule" }).ClickAsync();
        await Expect(page.Locator("#rule-result")).ToHaveTextAsync("Saved rule too-warm.");
        var row = page.Locator("tr", new() { HasText = "too-warm" });
        await Expect(row).ToContainTextAsync("temperature > -15");
        await Expect(row).ToContainTextAsync("running");

        await row.GetByRole(AriaRole.Button, new() { Name = "Edit too-warm" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Edit rule too-warm" })).ToBeVisibleAsync();
        string json = await editor.InputValueAsync();
        await editor.FillAsync(json.Replace("\"major\"", "\"critical\"", StringComparison.Ordinal));
        await page.GetByRole(AriaRole.Button, new() { Name = "Save rule" }).ClickAsync();
        await Expect(row).ToContainTextAsync("critical");
        Assert.Contains("critical", await fixture.Server.Client.GetStringAsync("/api/v1/rules/too-warm"), StringComparison.Ordinal);

        await row.GetByRole(AriaRole.Button, new() { Name = "Pause too-warm" }).ClickAsync();
        await Expect(row).ToContainTextAsync("paused");
        await row.GetByRole(AriaRole.Button, new() { Name = "Resume too-warm" }).ClickAsync();
        await Expect(row).ToContainTextAsync("running");

        await row.GetByRole(AriaRole.Button, new() { Name = "Remove too-warm" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Confirm removing too-warm" }).ClickAsync();
        await Expect(page.Locator("tr", new() { HasText = "too-warm" })).ToHaveCountAsync(0);
        using var gone = await fixture.Server.Client.GetAsync("/api/v1/rules/too-warm");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task A_read_token_sees_the_rules_but_no_editor_or_rule_actions()
    {
        using var written = await fixture.Server.WriteAsync("pumps,device=pump-1 flow=3.5");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        using var rule = await fixture.Server.Client.PostAsync("/api/v1/rules", new StringContent("""{"name": "seen-not-touched", "from": "pumps", "where": "flow > 10"}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, rule.StatusCode);
        var page = await fixture.SignedInPageAsync(fixture.ReadToken);
        await page.GotoAsync("/#/rules");
        await Expect(page.Locator("tr", new() { HasText = "seen-not-touched" })).ToBeVisibleAsync();
        await Expect(page.GetByLabel("Rule (JSON)")).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Pause seen-not-touched" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Remove seen-not-touched" })).ToHaveCountAsync(0);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_SQL_editor_completes_column_names_from_the_catalog_and_charts_a_time_series()
    {
        string lines = string.Join('\n', Enumerable.Range(0, 20).Select(i => $"boilers,site=east pressure_bar={1.5 + (i % 5)} {1_700_000_000L + (i * 60)}"));
        using var written = await fixture.Server.WriteAsync(lines, "?precision=s");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GotoAsync("/#/sql");
        var editor = page.GetByLabel("SQL (read-only; Ctrl+Enter runs it)");
        await editor.FillAsync(string.Empty);
        await editor.PressSequentiallyAsync("SELECT time, pressure_");
        var suggestion = page.GetByRole(AriaRole.Option, new() { Name = "pressure_bar boilers" });
        await Expect(suggestion).ToBeVisibleAsync();
        await Expect(suggestion).ToHaveAttributeAsync("aria-selected", "true");
        await editor.PressAsync("Tab");
        await Expect(editor).ToHaveValueAsync("SELECT time, pressure_bar");
        await Expect(page.GetByRole(AriaRole.Listbox, new() { Name = "Suggestions" })).ToBeHiddenAsync();

        await editor.PressSequentiallyAsync(" FROM boil");
        await Expect(page.GetByRole(AriaRole.Option, new() { Name = "boilers table" })).ToBeVisibleAsync();
        await editor.PressAsync("Enter");
        await Expect(editor).ToHaveValueAsync("SELECT time, pressure_bar FROM boilers");
        await editor.PressAsync("Control+Enter");
        await Expect(page.Locator("#sql-row-count")).ToHaveTextAsync("20 rows");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Chart: pressure_bar over time" })).ToBeVisibleAsync();
        await Expect(page.Locator("#sql-chart polyline")).ToHaveCountAsync(1);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_server_page_shows_the_metrics_a_scraper_sees_and_the_commit_rate()
    {
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        await page.GetByRole(AriaRole.Link, new() { Name = "Server", Exact = true }).ClickAsync();
        var metrics = page.GetByRole(AriaRole.Table, new() { Name = "Server metrics" });
        await Expect(metrics).ToContainTextAsync("plexus_points_committed_total");
        await Expect(metrics).ToContainTextAsync("plexus_sql_query_duration_seconds");
        using var written = await fixture.Server.WriteAsync("server_page,device=a x=1");
        Assert.Equal(HttpStatusCode.NoContent, written.StatusCode);
        await Expect(page.Locator("#server-rate")).ToContainTextAsync("points/s now", new() { Timeout = 20_000 });

        // The commit-latency histogram as percentiles and bars, and the bytes per tier, from the same scrape.
        await Expect(page.Locator("#commit-latency")).ToContainTextAsync("p99 ≤");
        await Expect(page.Locator("#commit-latency-chart rect.bar").First).ToBeAttachedAsync();
        await Expect(page.Locator("#disk-tiers")).ToContainTextAsync("DuckDB files");
        await Expect(page.Locator("#disk-tiers rect.bar")).ToHaveCountAsync(4);
        await page.CloseAsync();
    }

    [BrowserFact]
    public async Task The_map_draws_the_packaged_land_outline_and_loads_nothing_from_another_origin()
    {
        using var position = await fixture.Server.WriteAsync("positions,device=ship-1 lat=51.9,lon=4.1");
        Assert.Equal(HttpStatusCode.NoContent, position.StatusCode);
        var page = await fixture.SignedInPageAsync(PlexusTestServer.AdminToken);
        var elsewhere = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(fixture.Server.Address.ToString(), StringComparison.Ordinal))
            {
                elsewhere.Add(request.Url);
            }
        };
        await page.GotoAsync("/#/map");
        await Expect(page.Locator("#map-devices")).ToContainTextAsync("ship-1");
        await Expect(page.Locator("svg.map path.land").First).ToBeAttachedAsync();
        await Expect(page.Locator("#map-attribution")).ToContainTextAsync("Natural Earth");
        Assert.Empty(elsewhere);
        await ConsoleFixture.ScreenshotAsync(page, "map");
        await page.CloseAsync();
    }
}
