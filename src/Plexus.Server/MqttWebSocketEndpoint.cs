using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Plexus.Broker;

namespace Plexus.Server;

/// <summary>
/// MQTT over WebSocket on the HTTP port: <c>GET /mqtt</c> upgraded to a WebSocket with subprotocol <c>mqtt</c> is
/// handed to the broker (docs/mqtt.md). The HTTP app starts before the broker, so the endpoint answers 503 until
/// <see cref="Broker"/> is set, and 404 when the broker is off.
/// </summary>
internal sealed class MqttWebSocketEndpoint
{
    private static readonly string[] SubProtocols = ["mqtt", "mqttv3.1"];

    private volatile PlexusBroker? _broker;

    public PlexusBroker? Broker
    {
        get => _broker;
        set => _broker = value;
    }

    public bool BrokerOff { get; set; }

    public async Task HandleAsync(HttpContext context)
    {
        if (BrokerOff)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            await context.Response.WriteAsync("the MQTT broker is off (--mqtt off)\n");
            return;
        }

        if (_broker is not { } broker)
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await context.Response.WriteAsync("the MQTT broker is starting\n");
            return;
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("/mqtt is MQTT over WebSocket: connect with a WebSocket client, subprotocol \"mqtt\"\n");
            return;
        }

        string? subProtocol = SubProtocols.FirstOrDefault(p => context.WebSockets.WebSocketRequestedProtocols.Contains(p, StringComparer.OrdinalIgnoreCase));
        if (subProtocol is null)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("MQTT over WebSocket needs the WebSocket subprotocol \"mqtt\" (Sec-WebSocket-Protocol: mqtt)\n");
            return;
        }

        using var webSocket = await context.WebSockets.AcceptWebSocketAsync(subProtocol);
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var both = CancellationTokenSource.CreateLinkedTokenSource(stopping, context.RequestAborted);
        var remote = context.Connection.RemoteIpAddress is { } address ? new System.Net.IPEndPoint(address, context.Connection.RemotePort) : null;
        await broker.RunWebSocketAsync(webSocket, remote, context.Request.IsHttps, both.Token);
    }
}

internal static class MqttWebSocketEndpointExtensions
{
    public static MqttWebSocketEndpoint MapMqttWebSocket(this WebApplication app, bool brokerOff)
    {
        var endpoint = new MqttWebSocketEndpoint { BrokerOff = brokerOff };
        app.UseWebSockets();
        app.Map("/mqtt", endpoint.HandleAsync);
        return endpoint;
    }
}
