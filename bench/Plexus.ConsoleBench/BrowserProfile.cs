using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;

namespace Plexus.ConsoleBench;

/// <summary>
/// With PLEXUS_BENCH_PROFILE=1, one page load's timeline (long tasks, paints, every resource with its end) and the
/// page's JavaScript by self time from Chromium's sampling profiler, each hot function split by source line. It is how
/// the first chart's 25-45 ms in the browser's first locale formatting was found; the timings it prints are slowed by
/// the profiler itself, so they explain a figure rather than give one.
/// </summary>
internal sealed class BrowserProfile
{
    /// <summary>Runs in the page before its own scripts: keeps the timeline's entries as they happen.</summary>
    public const string TimelineScript = """
        window.__timeline = [];
        for (const type of ['longtask', 'paint', 'resource']) {
          new PerformanceObserver(list => {
            for (const e of list.getEntries()) {
              window.__timeline.push({ at: e.startTime, text: type === 'resource'
                ? `${type} ${e.name.replace(location.origin, '')} ends at ${Math.round(e.responseEnd)}`
                : `${type} ${e.name} for ${Math.round(e.duration)} ms` });
            }
          }).observe({ type, buffered: true });
        }
        """;

    private const int TopFunctions = 12;
    private readonly ICDPSession session;

    private BrowserProfile(ICDPSession session) => this.session = session;

    public static bool Requested => Environment.GetEnvironmentVariable("PLEXUS_BENCH_PROFILE") == "1";

    public static async Task<BrowserProfile> StartAsync(IBrowserContext context, IPage page)
    {
        var session = await context.NewCDPSessionAsync(page);
        await session.SendAsync("Profiler.enable");
        await session.SendAsync("Profiler.setSamplingInterval", new Dictionary<string, object> { ["interval"] = 200 });
        await session.SendAsync("Profiler.start");
        return new BrowserProfile(session);
    }

    public async Task PrintAsync(IPage page, double rendered)
    {
        var timeline = await page.EvaluateAsync<JsonElement>("() => window.__timeline");
        foreach (var entry in timeline.EnumerateArray().OrderBy(e => e.GetProperty("at").GetDouble()))
        {
            Console.WriteLine($"    {entry.GetProperty("at").GetDouble(),7:F0} ms  {entry.GetProperty("text").GetString()}");
        }

        Console.WriteLine($"    {rendered,7:F0} ms  painted");
        var stopped = await session.SendAsync("Profiler.stop");
        var profile = stopped!.Value.GetProperty("profile");
        var nodes = profile.GetProperty("nodes").EnumerateArray().ToDictionary(n => n.GetProperty("id").GetInt32());
        string NameOf(JsonElement node)
        {
            var frame = node.GetProperty("callFrame");
            string function = frame.GetProperty("functionName").GetString() is { Length: > 0 } name ? name : "(anonymous)";
            string file = frame.GetProperty("url").GetString()!.Split('/')[^1];
            return file.Length == 0 ? function : $"{function} {file}:{frame.GetProperty("lineNumber").GetInt32() + 1}";
        }

        // Each sample's time is the delta to the next sample.
        var samples = profile.GetProperty("samples").EnumerateArray().Select(s => s.GetInt32()).ToList();
        var deltas = profile.GetProperty("timeDeltas").EnumerateArray().Select(d => d.GetDouble()).ToList();
        var selfMs = new Dictionary<string, double>();
        for (int i = 0; i + 1 < samples.Count; i++)
        {
            string name = NameOf(nodes[samples[i]]);
            selfMs[name] = selfMs.GetValueOrDefault(name) + (deltas[i + 1] / 1000);
        }

        Console.WriteLine("    JavaScript by self time (ms; (program) is the browser's own work: parsing, style, layout):");
        foreach (var (name, ms) in selfMs.OrderByDescending(p => p.Value).Take(TopFunctions))
        {
            var lines = nodes.Values.Where(n => NameOf(n) == name && n.TryGetProperty("positionTicks", out _))
                .SelectMany(n => n.GetProperty("positionTicks").EnumerateArray())
                .GroupBy(t => t.GetProperty("line").GetInt32(), t => t.GetProperty("ticks").GetInt32())
                .Select(g => (Line: g.Key, Ticks: g.Sum()))
                .OrderByDescending(l => l.Ticks)
                .Take(3)
                .Select(l => string.Create(CultureInfo.InvariantCulture, $"line {l.Line}: {l.Ticks} samples"));
            Console.WriteLine($"    {ms,8:F1}  {name}  {string.Join(", ", lines)}");
        }
    }
}
