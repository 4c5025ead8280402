using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Plexus.Rules.Tests.Actions;

/// <summary>
/// A real HTTP server on 127.0.0.1 (HttpListener) that records the webhook calls it gets and answers each with what
/// <see cref="Answer"/> says: a status code, or null to hold the call open until the test ends.
/// </summary>
internal sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Task _loop;
    private readonly CancellationTokenSource _stop = new();

    public WebhookReceiver()
    {
        // A free port: bind port 0, read the port, let it go (HttpListener needs a fixed prefix).
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/hook";

    /// <summary>The answer to the n-th call (0-based); null holds the call open.</summary>
    public Func<int, int?> Answer { get; set; } = _ => 200;

    public ConcurrentQueue<JsonElement> Calls { get; } = new();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (Exception error) when (error is HttpListenerException or ObjectDisposedException)
        {
        }

        _listener.Close();
        _stop.Dispose();
    }

    private async Task LoopAsync()
    {
        int index = 0;
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception error) when (error is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var document = await JsonDocument.ParseAsync(context.Request.InputStream);
            Calls.Enqueue(document.RootElement.Clone());
            int? status = Answer(index++);
            if (status is { } code)
            {
                context.Response.StatusCode = code;
                context.Response.Close();
            }
        }
    }
}
