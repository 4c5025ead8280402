using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace Plexus.LoadBench;

/// <summary>
/// Posts the batches with N concurrent writers: each writer takes the next batch from a shared counter,
/// posts it and waits for the answer before taking another, so at most N requests are in flight. Every
/// answer must be 204; anything else stops the run with the server's message.
/// </summary>
internal static class HttpLoad
{
    public static HttpClient CreateClient(Uri baseAddress, string? token, int writers)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = writers,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        var client = new HttpClient(handler, disposeHandler: true)
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromMinutes(10),
        };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Token", token);
        }

        return client;
    }

    /// <summary>
    /// A few empty writes before timing, so the first timed requests do not pay for first-request work
    /// (routing, dependency injection, auth, connection set-up). An empty body is answered 204 without
    /// touching the store, so the database stays as fresh as the server.
    /// </summary>
    public static async Task PrimeAsync(HttpClient client, string pathAndQuery, int writers)
    {
        for (int i = 0; i < Math.Max(3, writers); i++)
        {
            using var content = new ByteArrayContent([]);
            using var response = await client.PostAsync(pathAndQuery, content);
            if (response.StatusCode != HttpStatusCode.NoContent)
            {
                throw new InvalidOperationException($"an empty write was answered {(int)response.StatusCode} {response.ReasonPhrase}, not 204: {Shorten(await response.Content.ReadAsStringAsync())}");
            }
        }
    }

    /// <summary>
    /// Posts batches[0..count) once each and returns the wall time, what was posted and the latencies. With a
    /// positive <paramref name="minDuration"/> it repeats whole passes until the passes add up to at least
    /// that long (used for the floors: one pass of theirs is too short to sample a noisy machine over a
    /// window like Plexus's).
    /// </summary>
    /// <remarks>With <paramref name="acknowledged"/>, each batch's <see cref="Stopwatch"/> time of its 204 (of the last pass).</remarks>
    public static async Task<HttpLoadResult> PostAllAsync(HttpClient client, string pathAndQuery, byte[][] batches, int[] linesPerBatch, int count, int writers, TimeSpan minDuration, long[]? acknowledged = null)
    {
        var latencies = new List<double>();
        var wall = TimeSpan.Zero;
        long rows = 0;
        int requests = 0;
        do
        {
            var pass = await PostPassAsync(client, pathAndQuery, batches, count, writers, acknowledged);
            wall += pass.Wall;
            latencies.AddRange(pass.Latencies);
            requests += count;
            for (int i = 0; i < count; i++)
            {
                rows += linesPerBatch[i];
            }
        }
        while (wall < minDuration);

        var sorted = latencies.Order().ToArray();
        return new HttpLoadResult(wall, rows, requests, Percentile(sorted, 0.5), Percentile(sorted, 0.99), sorted.Length == 0 ? 0 : sorted[^1]);
    }

    private static async Task<(TimeSpan Wall, double[] Latencies)> PostPassAsync(HttpClient client, string pathAndQuery, byte[][] batches, int count, int writers, long[]? acknowledged)
    {
        var latencies = new double[count];
        int next = -1;
        var contentType = new MediaTypeHeaderValue("text/plain") { CharSet = "utf-8" };

        async Task WriterAsync()
        {
            while (true)
            {
                int index = Interlocked.Increment(ref next);
                if (index >= count)
                {
                    return;
                }

                using var content = new ByteArrayContent(batches[index]);
                content.Headers.ContentType = contentType;
                long sent = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync(pathAndQuery, content);
                if (response.StatusCode != HttpStatusCode.NoContent)
                {
                    string body = await response.Content.ReadAsStringAsync();
                    throw new InvalidOperationException(
                        $"batch {index} was answered {(int)response.StatusCode} {response.ReasonPhrase}, not 204: {Shorten(body)}");
                }

                long answered = Stopwatch.GetTimestamp();
                if (acknowledged is not null)
                {
                    acknowledged[index] = answered;
                }

                latencies[index] = Stopwatch.GetElapsedTime(sent, answered).TotalMilliseconds;
            }
        }

        long started = Stopwatch.GetTimestamp();
        var tasks = new Task[writers];
        for (int i = 0; i < writers; i++)
        {
            tasks[i] = Task.Run(WriterAsync);
        }

        await Task.WhenAll(tasks);
        return (Stopwatch.GetElapsedTime(started), latencies);
    }

    public static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static string Shorten(string text) => text.Length <= 500 ? text : text[..500] + "…";
}

internal sealed record HttpLoadResult(TimeSpan Wall, long Rows, int Requests, double LatencyP50Ms, double LatencyP99Ms, double LatencyMaxMs);
