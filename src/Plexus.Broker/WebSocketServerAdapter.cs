using System.Net;
using System.Net.WebSockets;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Server;
using Plexus.Broker.Transport;

namespace Plexus.Broker;

/// <summary>
/// MQTT over WebSocket: the HTTP server accepts the WebSocket (subprotocol <c>mqtt</c>) and hands it here; MQTTnet
/// then runs the connection like a TCP one (same authentication, ACL, connection caps and input limits, through a
/// <see cref="DevicePublishChannel"/> without its fast path). No listener of its own: the adapter only passes
/// connections the HTTP endpoint gives it to the server's client handler.
/// </summary>
internal sealed class WebSocketServerAdapter(IDevicePublishHandler handler, MqttInputLimits limits, ConnectionAdmission admission, TimeProvider time) : IMqttServerAdapter
{
    private IMqttNetLogger _logger = MqttNetNullLogger.Instance;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _logger = logger;
        return Task.CompletedTask;
    }

    public Task StopAsync() => Task.CompletedTask;

    public void Dispose()
    {
    }

    /// <summary>Runs one MQTT connection over an accepted WebSocket until it ends.</summary>
    public async Task RunAsync(WebSocket webSocket, EndPoint? remoteEndPoint, bool isSecure, CancellationToken cancellationToken)
    {
        var clientHandler = ClientHandler ?? throw new InvalidOperationException("the MQTT broker is not running");
        using var lease = admission.TryAdmit(remoteEndPoint, "WebSocket");
        if (lease is null)
        {
            webSocket.Abort();
            return;
        }

        // The HTTP server stops before the broker: end the connection then, or the HTTP shutdown would wait for it.
        await using var abort = cancellationToken.Register(webSocket.Abort);
        using var channel = new DevicePublishChannel(new WebSocketTransport(webSocket, remoteEndPoint ?? new IPEndPoint(IPAddress.None, 0), isSecure), handler, limits, limits.ConnectTimeout, time, fastPathAllowed: false);
        using var adapter = new MqttChannelAdapter(channel, new MqttPacketFormatterAdapter(new MqttBufferWriter(4096, 65535)), _logger);
        try
        {
            await clientHandler(adapter);
        }
        catch (Exception error) when (error is MqttCommunicationException or WebSocketException)
        {
            // The client closed the WebSocket without the close handshake (MQTTnet's own client does so after DISCONNECT):
            // its session has ended like a dropped TCP connection's, not a server error for Kestrel to log.
        }
    }
}
