using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

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
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "Plexus.LoadBench.Webhooks" });
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.AddServerHeader = false;
        });
        var app = builder.Build();
        var listener = new WebhookListener(app);
        app.UseRouting();
        app.MapPost(HookPath, listener.ReceiveAsync);
        await app.StartAsync();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        listener.HookAddress = new Uri(new Uri(bound), HookPath);
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
