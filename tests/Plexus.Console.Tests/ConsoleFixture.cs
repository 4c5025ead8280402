using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using Plexus.TestKit;

namespace Plexus.Console.Tests;

/// <summary>
/// One server and one headless Debian chromium for a test class; each test opens its own browser context (its own
/// sessionStorage), so tests do not see each other's sign-in.
/// </summary>
public sealed class ConsoleFixture : IAsyncLifetime
{
    /// <summary>Debian's chromium; PLEXUS_CHROMIUM points elsewhere. Playwright cannot download browsers here.</summary>
    public static readonly string Chromium = Environment.GetEnvironmentVariable("PLEXUS_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public PlexusTestServer Server { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>An API token with scope read, made once.</summary>
    public string ReadToken { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await PlexusTestServer.StartAsync();
        using var created = await Server.Client.PostAsJsonAsync("/api/v1/tokens", new { name = "viewer", scope = "read" });
        created.EnsureSuccessStatusCode();
        ReadToken = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
        if (!File.Exists(Chromium))
        {
            return;
        }

        // A loaded machine (CI, parallel builds) can be slow to render; the waits still end as soon as a page is ready.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,

            // Tests may run as root in CI containers, where chromium refuses its sandbox.
            Args = ["--no-sandbox"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
        await Server.DisposeAsync();
    }

    /// <summary>A fresh page at 1280×800 (or the given size and browser locale) on the console's address.</summary>
    public async Task<IPage> NewPageAsync(int width = 1280, int height = 800, string? locale = null)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            BaseURL = Server.Address.ToString(),
            Locale = locale,
        });
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(15_000);
        return page;
    }

    /// <summary>Opens the console and signs in with <paramref name="token"/>; returns when the overview shows.</summary>
    public async Task<IPage> SignedInPageAsync(string token, int width = 1280, int height = 800, string? locale = null)
    {
        var page = await NewPageAsync(width, height, locale);
        await page.GotoAsync("/");
        await page.GetByLabel("API token").FillAsync(token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Overview" })).ToBeVisibleAsync();
        return page;
    }

    /// <summary>Saves a screenshot for docs/console.md into docs/console/ of the repository.</summary>
    public static async Task ScreenshotAsync(IPage page, string name)
    {
        string? folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "Plexus.slnx")))
        {
            folder = Path.GetDirectoryName(folder);
        }

        if (folder is null)
        {
            return;
        }

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, "docs", "console", name + ".png"), Type = ScreenshotType.Png });
    }
}

/// <summary>Runs where chromium is installed (scripts/test.sh installs Debian's package).</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (!File.Exists(ConsoleFixture.Chromium))
        {
            Skip = $"{ConsoleFixture.Chromium} is missing: install Debian's chromium package (scripts/test.sh does), or set PLEXUS_CHROMIUM";
        }
    }
}
