using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Server;

namespace Plexus.Broker.Transport;

/// <summary>
/// The MQTT listeners over TCP, plain and TLS, in place of MQTTnet's own: each accepted connection is admitted
/// against the connection caps, TLS connections do their handshake here, and then it runs in MQTTnet as usual but
/// through a <see cref="DevicePublishChannel"/>: the input limits hold before MQTTnet reads a byte, and device data
/// can skip MQTTnet's packet handling over either.
/// </summary>
internal sealed partial class DeviceTcpServerAdapter : IMqttServerAdapter
{
    private readonly IPEndPoint _requested;
    private readonly IPEndPoint? _requestedTls;
    private readonly X509Certificate2? _certificate;
    private readonly IDevicePublishHandler _handler;
    private readonly MqttInputLimits _limits;
    private readonly ConnectionAdmission _admission;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _listener;
    private Socket? _tlsListener;
    private IMqttNetLogger _mqttLogger = MqttNetNullLogger.Instance;
    private MqttServerOptions? _options;

    /// <param name="tls">The TLS endpoint and its certificate; null runs no TLS listener.</param>
    public DeviceTcpServerAdapter(IPEndPoint requested, (IPEndPoint Endpoint, X509Certificate2 Certificate)? tls, IDevicePublishHandler handler, MqttInputLimits limits, ConnectionAdmission admission, TimeProvider time, ILogger logger)
    {
        _requested = requested;
        _requestedTls = tls?.Endpoint;
        _certificate = tls?.Certificate;
        _handler = handler;
        _limits = limits;
        _admission = admission;
        _time = time;
        _logger = logger;
        Endpoint = requested;
    }

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>The bound endpoint (the port the system chose when 0 was asked for).</summary>
    public IPEndPoint Endpoint { get; private set; }

    /// <summary>The bound TLS endpoint; null when there is none.</summary>
    public IPEndPoint? TlsEndpoint { get; private set; }

    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _options = options;
        _mqttLogger = logger;
        _listener = Listen(_requested);
        Endpoint = (IPEndPoint)_listener.LocalEndPoint!;
        if (_requestedTls is not null)
        {
            _tlsListener = Listen(_requestedTls);
            TlsEndpoint = (IPEndPoint)_tlsListener.LocalEndPoint!;
        }

        _ = AcceptAsync(_listener, tls: false);
        if (_tlsListener is not null)
        {
            _ = AcceptAsync(_tlsListener, tls: true);
        }

        return Task.CompletedTask;
    }

    private static Socket Listen(IPEndPoint endpoint)
    {
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(endpoint);
            listener.Listen(1024);
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private async Task AcceptAsync(Socket listener, bool tls)
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
                Log.AcceptFailed(_logger, error.SocketErrorCode.ToString());
                continue;
            }

            // Over a cap: closed before a byte is read, with a reset so that a flood leaves no TIME_WAIT behind.
            if (_admission.TryAdmit(client.RemoteEndPoint, tls ? "TLS" : "TCP") is not { } lease)
            {
                client.Close(0);
                continue;
            }

            _ = Task.Run(() => RunAsync(client, tls, lease));
        }
    }

    private async Task RunAsync(Socket client, bool tls, IDisposable lease)
    {
        long accepted = _time.GetTimestamp();
        DevicePublishChannel? channel = null;
        string remote = client.RemoteEndPoint?.ToString() ?? "?";
        try
        {
            client.NoDelay = true;
            MqttTransport? transport = tls ? await HandshakeAsync(client, remote) : new SocketTransport(client);
            if (transport is null)
            {
                return;
            }

            channel = new DevicePublishChannel(transport, _handler, _limits, _limits.ConnectTimeout - _time.GetElapsedTime(accepted), _time, fastPathAllowed: true);
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(_options?.WriterBufferSize ?? 4096, _options?.WriterBufferSizeMax ?? 65535));
            using var adapter = new MqttChannelAdapter(channel, formatter, _mqttLogger);
            var run = ClientHandler ?? throw new InvalidOperationException("the MQTT broker is not running");
            await run(adapter);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Log.ConnectionFailed(_logger, error, remote);
        }
        finally
        {
            if (channel is not null)
            {
                channel.Dispose();
            }
            else
            {
                client.Dispose();
            }

            lease.Dispose();
        }
    }

    /// <summary>
    /// The client certificate is asked for but not required, so token clients keep working, and any certificate (or
    /// none) passes the handshake: it is judged at CONNECT by the authenticator (registered thumbprints, the
    /// configured client CA, never the machine's trust store), where a refusal is a CONNACK with a reason code and
    /// one log line, not a TLS alert the client reports as a broken connection.
    /// </summary>
    private SslServerAuthenticationOptions ServerOptions => new()
    {
        ServerCertificate = _certificate,
        ClientCertificateRequired = true,
#pragma warning disable CA5359 // A client's certificate, not the server's: judged at CONNECT, see above.
        RemoteCertificateValidationCallback = static (_, _, _, _) => true,
#pragma warning restore CA5359
    };

    /// <summary>The TLS handshake, within the connect timeout; null (and the socket closed) when it fails.</summary>
    private async Task<MqttTransport?> HandshakeAsync(Socket client, string remote)
    {
        var stream = new SslStream(new NetworkStream(client, ownsSocket: false), leaveInnerStreamOpen: false);
        using var deadline = new CancellationTokenSource(_limits.ConnectTimeout, _time);
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, _stopping.Token);
        try
        {
            await stream.AuthenticateAsServerAsync(ServerOptions, stopping.Token);
            return new TlsTransport(client, stream);
        }
        catch (Exception error) when (error is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException or SocketException)
        {
            TransportLog.TlsHandshakeFailed(_logger, remote, deadline.IsCancellationRequested ? $"not done within {_limits.ConnectTimeout.TotalSeconds:0.###} s (--mqtt-connect-timeout)" : error.Message);
            await stream.DisposeAsync();
            return null;
        }
    }

    public Task StopAsync()
    {
        _stopping.Cancel();
        _listener?.Dispose();
        _tlsListener?.Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _listener?.Dispose();
        _tlsListener?.Dispose();
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
