using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Plexus.LoadBench;

/// <summary>
/// The receiver of the rules' webhooks: Kestrel on 127.0.0.1, one endpoint that keeps each request's body with the
/// <see cref="Stopwatch"/> time its last byte arrived (the clock the load stamps acknowledgements with) and answers 204.
/// </summary>
internal sealed class WebhookListener : IAsyncDisposable
{
    public const string HookPath = "/hook";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(long ArrivedTimestamp, byte[] Body)> _received = new();

    private WebhookListener(WebApplication app)
    {
        _app = app;
    }

    public Uri HookAddress { get; private set; } = null!;

    public int Count => _received.Count;

    public IReadOnlyCollection<(long ArrivedTimestamp, byte[] Body)> Received => _received;

    public static async Task<WebhookListener> StartAsync()
    {
        WebhookListener? listener = null;
        var (_, address) = await LoopbackApp.StartAsync("Plexus.LoadBench.Webhooks", app =>
        {
            listener = new WebhookListener(app);
            app.MapPost(HookPath, listener.ReceiveAsync);
        });
        listener!.HookAddress = new Uri(address, HookPath);
        return listener;
    }

    private async Task ReceiveAsync(HttpContext http)
    {
        PipeReader body = http.Request.BodyReader;
        using var copy = new MemoryStream();
        while (true)
        {
            var read = await body.ReadAsync(http.RequestAborted);
            foreach (var segment in read.Buffer)
            {
                copy.Write(segment.Span);
            }

            body.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted || read.IsCanceled)
            {
                break;
            }
        }

        _received.Enqueue((Stopwatch.GetTimestamp(), copy.ToArray()));
        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
