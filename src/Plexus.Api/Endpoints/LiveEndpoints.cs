using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Plexus.Api.Auth;

namespace Plexus.Api.Endpoints;

/// <summary>
/// <c>GET /api/v1/devices/{id}/live</c>: a device's stored points as server-sent events while the client listens
/// (docs/http-api.md#live-device-data). Each event is one point (<c>event: point</c>, its JSON in <c>data</c>); when the
/// client fell behind and points were dropped for it, a <c>dropped</c> event says how many so far; a comment every
/// 15 s keeps proxies from closing a quiet stream.
/// </summary>
internal static class LiveEndpoints
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);
    private static readonly byte[] Opening = ": plexus live data of one device\n\n"u8.ToArray();
    private static readonly byte[] KeepAliveComment = ": keep-alive\n\n"u8.ToArray();
    private static readonly byte[] PointStart = "event: point\ndata: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();

    public static void Map(IEndpointRouteBuilder endpoints, ApiContext context) =>
        endpoints.MapGet("/api/v1/devices/{id}/live", http => LiveAsync(http, context));

    private static async Task LiveAsync(HttpContext http, ApiContext context)
    {
        if (await PlexusApi.AdmitServiceAsync(http, context, ApiScope.Read, context.LiveFeed, "live device data is") is not { } feed)
        {
            return;
        }

        // Any id, registered or not: data is attributed by its device tag, and a page may wait for a device's first point.
        string id = (string)http.Request.RouteValues["id"]!;
        using var subscription = feed.TrySubscribe(id);
        if (subscription is null)
        {
            http.Response.Headers.RetryAfter = "5";
            await ApiErrors.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, "busy",
                $"{feed.MaxClients} live streams are open already, the limit; close some consoles or raise --live-max-clients");
            return;
        }

        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        http.Response.ContentType = "text/event-stream; charset=utf-8";
        http.Response.Headers.CacheControl = "no-cache, no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var body = http.Response.Body;
        await body.WriteAsync(Opening, http.RequestAborted);
        await body.FlushAsync(http.RequestAborted);

        long droppedTold = 0;
        var cancel = http.RequestAborted;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                using var quiet = new CancellationTokenSource(KeepAlive, context.Time);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel, quiet.Token);
                bool ready;
                try
                {
                    ready = await subscription.Points.WaitToReadAsync(wait.Token);
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    await body.WriteAsync(KeepAliveComment, cancel);
                    await body.FlushAsync(cancel);
                    continue;
                }

                if (!ready)
                {
                    return;
                }

                while (subscription.Points.TryRead(out byte[]? point))
                {
                    await body.WriteAsync(PointStart, cancel);
                    await body.WriteAsync(point, cancel);
                    await body.WriteAsync(EventEnd, cancel);
                }

                long dropped = subscription.Dropped;
                if (dropped != droppedTold)
                {
                    droppedTold = dropped;
                    await body.WriteAsync(Encoding.UTF8.GetBytes($"event: dropped\ndata: {{\"dropped\": {dropped}}}\n\n"), cancel);
                }

                await body.FlushAsync(cancel);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client went away: the subscription ends with the using above.
        }
        catch (IOException) when (cancel.IsCancellationRequested)
        {
        }
    }
}
