using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Server;

namespace Plexus.Broker.Transport;

/// <summary>
/// The plain-TCP MQTT listener, in place of MQTTnet's own: each accepted connection runs in MQTTnet as usual, but
/// through a <see cref="DevicePublishChannel"/>, so device data can skip MQTTnet's packet handling. (TLS and
/// WebSocket connections keep MQTTnet's channels and its ordinary path.)
/// </summary>
internal sealed partial class DeviceTcpServerAdapter(IPEndPoint requested, IDevicePublishHandler handler, ILogger logger) : IMqttServerAdapter
{
    private readonly ConcurrentDictionary<EndPoint, DevicePublishChannel> _channels = new();
    private readonly IPEndPoint _requested = requested;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private IMqttNetLogger _mqttLogger = MqttNetNullLogger.Instance;
    private MqttServerOptions? _options;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>The bound endpoint (the port the system chose when 0 was asked for).</summary>
    public IPEndPoint Endpoint { get; private set; } = requested;

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _options = options;
        _mqttLogger = logger;
        var listener = new Socket(_requested.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(_requested);
            listener.Listen(1024);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        Endpoint = (IPEndPoint)listener.LocalEndPoint!;
        _ = AcceptAsync(listener);
        return Task.CompletedTask;
    }

    /// <summary>The channel of a connection, found by the remote endpoint MQTTnet reports for it.</summary>
    public DevicePublishChannel? ChannelOf(EndPoint? remote) => remote is not null && _channels.TryGetValue(remote, out var channel) ? channel : null;

    private async Task AcceptAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception error) when (error is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException error)
            {
                Log.AcceptFailed(logger, error.SocketErrorCode.ToString());
                continue;
            }

            _ = Task.Run(() => RunAsync(client));
        }
    }

    private async Task RunAsync(Socket client)
    {
        DevicePublishChannel? channel = null;
        try
        {
            client.NoDelay = true;
            channel = new DevicePublishChannel(client, handler);
            _channels[channel.RemoteEndPoint] = channel;
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(_options?.WriterBufferSize ?? 4096, _options?.WriterBufferSizeMax ?? 65535));
            using var adapter = new MqttChannelAdapter(channel, formatter, _mqttLogger);
            var run = ClientHandler ?? throw new InvalidOperationException("the MQTT broker is not running");
            await run(adapter);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Log.ConnectionFailed(logger, error, channel?.RemoteEndPoint.ToString() ?? "?");
        }
        finally
        {
            if (channel is not null)
            {
                _channels.TryRemove(new KeyValuePair<EndPoint, DevicePublishChannel>(channel.RemoteEndPoint, channel));
                channel.Dispose();
            }
            else
            {
                client.Dispose();
            }
        }
    }

    public Task StopAsync()
    {
        _stopping.Cancel();
        _listener?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2230, Level = LogLevel.Warning, Message = "MQTT listener could not accept a connection: {Error}")]
        public static partial void AcceptFailed(ILogger logger, string error);

        [LoggerMessage(EventId = 2231, Level = LogLevel.Warning, Message = "MQTT connection from {Remote} ended with an error")]
        public static partial void ConnectionFailed(ILogger logger, Exception error, string remote);
    }
}
