using System.IO.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Plexus.LoadBench;

/// <summary>
/// The HTTP transfer floor: Kestrel on 127.0.0.1, set up as PlexusServer sets it up (empty builder,
/// Kestrel core, routing), with one endpoint at the write path that reads the whole body, throws it away
/// and answers 204. Whatever Plexus does beyond this (auth, parsing, storage, durability) is the distance
/// between the two figures.
/// </summary>
internal sealed class DiscardHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DiscardHttpServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public static async Task<DiscardHttpServer> StartAsync()
    {
        var (app, address) = await LoopbackApp.StartAsync("Plexus.LoadBench.Discard", routes => routes.MapPost("/api/v2/write", DiscardAsync), unlimitedBody: true);
        return new DiscardHttpServer(app, address);
    }

    private static async Task DiscardAsync(HttpContext http)
    {
        PipeReader body = http.Request.BodyReader;
        while (true)
        {
            var read = await body.ReadAsync(http.RequestAborted);
            body.AdvanceTo(read.Buffer.End);
            if (read.IsCompleted || read.IsCanceled)
            {
                break;
            }
        }

        http.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
