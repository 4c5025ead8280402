using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;
using Plexus.ConsoleBench;
using Plexus.Server;

// Time to first render of the console's two heaviest pages, in a real browser, from navigation start (the
// Performance API's time origin) to the frame after the first rows or the chart are in the page:
//   - the devices page with 10,000 registered devices (paged on the server, 50 a page);
//   - a device's history chart over 1 M points (7 days of one point every 0.6 s, decimated in SQL to one min/max per
//     pixel column).
// The baseline, measured in the same run and the same browser, is the sign-in page: the console's own cost (HTML,
// modules, CSS) with no data. Each page is loaded cold, in a new browser context, `runs` times; the median and the
// worst are printed. Usage: dotnet run -c Release --project bench/Plexus.ConsoleBench [devices] [points] [runs]
int devices = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
long points = args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 1_000_000;
int runs = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 7;
string chromium = Environment.GetEnvironmentVariable("PLEXUS_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";
if (!File.Exists(chromium))
{
    Console.Error.WriteLine($"{chromium} is missing: apt-get install chromium (or set PLEXUS_CHROMIUM)");
    return 1;
}

const string Token = "bench-admin-token-0123456789";
const string Device = "truck-00000";
string folder = Path.Combine(Path.GetTempPath(), "plexus-console-bench-" + Guid.NewGuid().ToString("N"));
try
{
    await using var server = await PlexusServer.StartAsync(new PlexusServerOptions
    {
        DataDirectory = folder,
        HttpEndpoint = "127.0.0.1:0",
        MqttEndpoint = PlexusServerOptions.MqttOff,
        PgEndpoint = "off",
        AdminToken = Token,
    });
    using var http = new HttpClient { BaseAddress = server.HttpAddress, Timeout = TimeSpan.FromMinutes(5) };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", Token);

    var setup = Stopwatch.StartNew();
    var phase = Stopwatch.StartNew();
    for (int first = 0; first < devices; first += 10_000)
    {
        var batch = Enumerable.Range(first, Math.Min(10_000, devices - first))
            .Select(i => new { id = $"truck-{i:D5}", name = $"Truck {i}", type = "truck", tags = new { fleet = i % 2 == 0 ? "East" : "West" } });
        using var registered = await http.PostAsJsonAsync("/api/v1/devices/bulk", batch);
        registered.EnsureSuccessStatusCode();
    }

    Console.WriteLine($"registered {devices:N0} devices in {phase.Elapsed.TotalSeconds:F1} s");
    phase.Restart();

    // One device's points, ending now and spaced so that the console's 7-day range holds all of them.
    long end = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds() * 1_000_000;
    long step = 7L * 24 * 3600 * 1_000_000_000 / points;
    var lines = new StringBuilder();
    for (long i = 0; i < points; i++)
    {
        double temperature = 4 + (3 * Math.Sin(i / 5000.0)) + (i % 997 == 0 ? 9 : 0);
        lines.Append("telemetry,device=").Append(Device).Append(" temperature=").Append(temperature.ToString("F2", CultureInfo.InvariantCulture))
            .Append(' ').Append(end - ((points - i) * step)).Append('\n');
        if (lines.Length > 4_000_000 || i == points - 1)
        {
            using var written = await http.PostAsync("/api/v2/write?bucket=main&precision=ns", new StringContent(lines.ToString()));
            written.EnsureSuccessStatusCode();
            lines.Clear();
        }
    }

    Console.WriteLine($"setup: {devices:N0} devices and {points:N0} points of {Device} in {setup.Elapsed.TotalSeconds:F1} s");

    // The history call alone, as the device page sends it first for a 1,200-pixel chart (no field: the server picks
    // the device's first numeric field and decimates it in SQL): the server's share.
    string historyPath = $"/api/v1/devices/{Device}/history?from={Uri.EscapeDataString(TimeProvider.System.GetUtcNow().AddDays(-7).ToString("O", CultureInfo.InvariantCulture))}&buckets=1200";
    var historyTimes = new List<double>();
    for (int run = 0; run < runs; run++)
    {
        var watch = Stopwatch.StartNew();
        using var answer = await http.GetAsync(historyPath);
        if (!answer.IsSuccessStatusCode)
        {
            throw new InvalidOperationException("the history call failed: " + await answer.Content.ReadAsStringAsync());
        }

        using var document = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        int buckets = document.RootElement.GetProperty("buckets").GetArrayLength();
        if (buckets < 1000)
        {
            throw new InvalidOperationException($"the history call returned {buckets} buckets; expected one per pixel column of 1,200");
        }

        historyTimes.Add(watch.Elapsed.TotalMilliseconds);
    }

    // The device page's first call: the device with the last value of each of its fields (SQL over its rows).
    var deviceTimes = new List<double>();
    for (int run = 0; run < runs; run++)
    {
        var watch = Stopwatch.StartNew();
        using var answer = await http.GetAsync($"/api/v1/devices/{Device}");
        answer.EnsureSuccessStatusCode();
        _ = await answer.Content.ReadAsStringAsync();
        deviceTimes.Add(watch.Elapsed.TotalMilliseconds);
    }

    // The same two calls sent together, as the device page sends them, still without a browser: how much of their time
    // in the browser is the two queries sharing the cores with each other rather than with chromium.
    var togetherTimes = new List<double>();
    for (int run = 0; run < runs; run++)
    {
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(http.GetStringAsync($"/api/v1/devices/{Device}"), http.GetStringAsync(historyPath));
        togetherTimes.Add(watch.Elapsed.TotalMilliseconds);
    }

    using var playwright = await Playwright.CreateAsync();
    await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });

    // Run in every page before its own scripts: the token the console would have from sign-in, and a watcher that
    // notes when a selector first matches, then waits for the next frame so that the time covers the paint.
    string init = "sessionStorage.setItem('plexus.token', " + JsonSerializer.Serialize(Token) + ");" + """
        window.__rendered = null;
        const watch = () => {
          const selector = window.__watch;
          if (!selector || window.__rendered !== null || !document.querySelector(selector)) return;
          window.__rendered = -1;
          requestAnimationFrame(() => { window.__rendered = performance.now(); });
        };
        new MutationObserver(watch).observe(document, { childList: true, subtree: true, attributes: true });
        """ + BrowserProfile.TimelineScript;

    // Where the chart page's time goes, from the browser's resource timings: its bootstrap until the first API call,
    // then each of the three calls the chart needs (whoami, the device with its last values, the history): when it
    // starts (offsets from navigation start; calls sent together start together), how long it waits for a connection,
    // the server's own time (its Server-Timing header: from the request reaching the pipeline to the answer's headers),
    // the rest of the wait for the first byte (the request and answer crossing the loopback, queued behind a busy
    // browser or thread pool), the transfer and the answer's size; then from the history's last byte to the painted
    // frame (parsing, drawing).
    var phases = new Dictionary<string, List<double>>();
    var phaseNames = new List<string> { "page and modules, to the first API call" };
    (string Label, Func<string, bool> Match)[] profiled =
    [
        ("GET whoami", p => p == "/api/v1/whoami"),
        ("GET the device (last values)", p => p == "/api/v1/devices/" + Device),
        ("GET the history (chart query)", p => p == $"/api/v1/devices/{Device}/history"),
    ];
    string[] parts = ["starts at", "connection wait", "server (Server-Timing)", "rest of the wait", "transfer", "takes", "bytes"];
    phaseNames.AddRange(profiled.SelectMany(c => parts.Select(part => c.Label + ": " + part)));
    phaseNames.Add("its last byte to the painted chart");

    void AddPhases(double rendered, IReadOnlyList<JsonElement> calls)
    {
        var found = profiled.Select(c => calls.Where(e => c.Match(new Uri(e.GetProperty("name").GetString()!).AbsolutePath)).Cast<JsonElement?>().FirstOrDefault()).ToList();
        if (found.Any(c => c is null))
        {
            return;
        }

        double At(JsonElement? call, string name) => call!.Value.GetProperty(name).GetDouble();
        var values = new List<double> { found.Min(c => At(c, "start")) };
        foreach (var call in found)
        {
            double server = At(call, "server");
            values.AddRange([At(call, "start"), At(call, "request") - At(call, "start"), server, At(call, "response") - At(call, "request") - server, At(call, "end") - At(call, "response"), At(call, "end") - At(call, "start"), At(call, "bytes")]);
        }

        values.Add(rendered - At(found[^1], "end"));
        for (int i = 0; i < phaseNames.Count; i++)
        {
            (phases.TryGetValue(phaseNames[i], out var list) ? list : phases[phaseNames[i]] = []).Add(values[i]);
        }
    }

    async Task<double> FirstRenderAsync(string route, string selector, bool signedIn, bool profile)
    {
        await using var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 }, BaseURL = server.HttpAddress.ToString() });
        await context.AddInitScriptAsync((signedIn ? init : init.Replace("sessionStorage.setItem", "void", StringComparison.Ordinal)).Replace("window.__watch", JsonSerializer.Serialize(selector), StringComparison.Ordinal));
        var page = await context.NewPageAsync();
        var browserProfile = profile && BrowserProfile.Requested ? await BrowserProfile.StartAsync(context, page) : null;
        await page.GotoAsync("/" + route);
        await page.WaitForFunctionAsync("() => window.__rendered > 0", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        double rendered = await page.EvaluateAsync<double>("() => window.__rendered");
        if (browserProfile is not null)
        {
            Console.WriteLine("the chart page's timeline and profile (ms from navigation start):");
            await browserProfile.PrintAsync(page, rendered);
        }

        if (profile)
        {
            var calls = await page.EvaluateAsync<JsonElement>("() => performance.getEntriesByType('resource').filter(e => e.initiatorType === 'fetch').map(e => ({ name: e.name, start: e.startTime, request: e.requestStart, response: e.responseStart, end: e.responseEnd, bytes: e.encodedBodySize, server: (e.serverTiming.find(t => t.name === 'app') || { duration: 0 }).duration }))");
            AddPhases(rendered, [.. calls.EnumerateArray()]);
        }

        return rendered;
    }

    var pages = new (string Name, string Route, string Selector, bool SignedIn)[]
    {
        ("sign-in page (baseline: the console itself, no data)", string.Empty, "#token", false),
        ($"devices page, {devices:N0} devices: first rows", "#/devices", "#device-count", true),
        ($"device page, history over {points:N0} points: chart", $"#/devices/{Device}?range=604800", "#history-chart polygon", true),
    };
    var times = pages.ToDictionary(p => p.Name, _ => new List<double>());

    // Interleaved, so that a busy moment of the machine falls on every page alike; one warm-up round not counted.
    for (int run = -1; run < runs; run++)
    {
        foreach (var (name, route, selector, signedIn) in pages)
        {
            double ms = await FirstRenderAsync(route, selector, signedIn, profile: run >= 0 && route.StartsWith("#/devices/", StringComparison.Ordinal));
            if (run >= 0)
            {
                times[name].Add(ms);
            }
        }
    }

    static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);

    // The machine is shared: the figures mean little without the load they were measured under.
    if (File.Exists("/proc/loadavg"))
    {
        Console.WriteLine("load average at the end: " + File.ReadAllText("/proc/loadavg").Trim());
    }

    double baseline = Median(times[pages[0].Name]);
    Console.WriteLine($"{"page",-58} {"median ms",10} {"worst ms",9} {"× baseline",11}");
    foreach (var (name, _, _, _) in pages)
    {
        var values = times[name];
        Console.WriteLine($"{name,-58} {Median(values),10:F0} {values.Max(),9:F0} {Median(values) / baseline,11:F2}");
    }

    foreach (string phaseName in phaseNames.Where(phases.ContainsKey))
    {
        Console.WriteLine($"  chart page: {phaseName,-57} {Median(phases[phaseName]),10:F0} {phases[phaseName].Max(),9:F0}");
    }

    Console.WriteLine($"{"GET /api/v1/devices/{id} with last values (server side)",-58} {Median(deviceTimes),10:F0} {deviceTimes.Max(),9:F0} {Median(deviceTimes) / baseline,11:F2}");
    Console.WriteLine($"{"GET /api/v1/devices/{id}/history, 1,200 buckets (server side)",-58} {Median(historyTimes),10:F0} {historyTimes.Max(),9:F0} {Median(historyTimes) / baseline,11:F2}");
    Console.WriteLine($"{"both at once, as the page sends them (server side)",-58} {Median(togetherTimes),10:F0} {togetherTimes.Max(),9:F0} {Median(togetherTimes) / baseline,11:F2}");
    return 0;
}
finally
{
    if (Directory.Exists(folder))
    {
        Directory.Delete(folder, recursive: true);
    }
}
