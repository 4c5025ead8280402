using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;

namespace Plexus.Broker.Transport;

/// <summary>
/// The bytes under a <see cref="DevicePublishChannel"/>: a plain TCP socket, TLS over one, or a WebSocket the HTTP
/// server accepted. One reader and one writer at a time (the channel serialises its writes).
/// </summary>
internal abstract class MqttTransport : IDisposable
{
    public abstract EndPoint RemoteEndPoint { get; }

    public abstract EndPoint LocalEndPoint { get; }

    public abstract bool IsSecure { get; }

    /// <summary>The certificate the client presented in the TLS handshake; null without TLS or when it sent none.</summary>
    public virtual X509Certificate2? ClientCertificate => null;

    /// <summary>Reads what has arrived, at least one byte; 0 at the end of the connection.</summary>
    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Ends the connection at once: a pending receive returns (or throws), the peer sees it closed.</summary>
    public abstract void Shutdown();

    /// <summary>Ends the connection in order, after what was sent (a WebSocket sends its close frame); then <see cref="Shutdown"/>.</summary>
    public virtual ValueTask CloseAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public abstract void Dispose();

    /// <summary>Whether an exception from <see cref="ReceiveAsync"/> or <see cref="SendAsync"/> means the connection is gone.</summary>
    public static bool IsConnectionLost(Exception error) =>
        error is SocketException or ObjectDisposedException or IOException or WebSocketException;

    protected static void ShutdownSocket(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception error) when (error is SocketException or ObjectDisposedException)
        {
        }
    }
}

/// <summary>Plain TCP: straight to the socket, as the device fast path was measured.</summary>
internal sealed class SocketTransport(Socket socket) : MqttTransport
{
    public override EndPoint RemoteEndPoint { get; } = socket.RemoteEndPoint!;

    public override EndPoint LocalEndPoint { get; } = socket.LocalEndPoint!;

    public override bool IsSecure => false;

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int sent = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            data = data[sent..];
        }
    }

    public override void Shutdown() => ShutdownSocket(socket);

    public override void Dispose() => socket.Dispose();
}

/// <summary>TLS over an accepted socket, after the handshake.</summary>
internal sealed class TlsTransport(Socket socket, SslStream stream) : MqttTransport
{
    public override EndPoint RemoteEndPoint { get; } = socket.RemoteEndPoint!;

    public override EndPoint LocalEndPoint { get; } = socket.LocalEndPoint!;

    public override bool IsSecure => true;

    public override X509Certificate2? ClientCertificate { get; } = stream.RemoteCertificate as X509Certificate2;

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) => stream.ReadAsync(buffer, cancellationToken);

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => stream.WriteAsync(data, cancellationToken);

    public override void Shutdown() => ShutdownSocket(socket);

    public override void Dispose()
    {
        stream.Dispose();
        socket.Dispose();
    }
}

/// <summary>MQTT over WebSocket: binary messages, one MQTT packet per message sent; received messages are a byte stream.</summary>
internal sealed class WebSocketTransport(WebSocket webSocket, EndPoint remoteEndPoint, bool isSecure) : MqttTransport
{
    public override EndPoint RemoteEndPoint { get; } = remoteEndPoint;

    public override EndPoint LocalEndPoint { get; } = new IPEndPoint(IPAddress.None, 0);

    public override bool IsSecure => isSecure;

    public override async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await webSocket.ReceiveAsync(buffer, cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return 0;
            }

            // An empty frame is not the end of the connection.
            if (result.Count > 0)
            {
                return result.Count;
            }
        }
    }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        webSocket.SendAsync(data, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);

    public override async ValueTask CloseAsync(CancellationToken cancellationToken)
    {
        if (webSocket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            await webSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, string.Empty, cancellationToken);
        }
    }

    public override void Shutdown()
    {
        // After our close frame the connection ends in order; an abort now could reset it before the peer read
        // what was sent last (a refused CONNECT's CONNACK).
        if (webSocket.State is not WebSocketState.CloseSent and not WebSocketState.Closed)
        {
            webSocket.Abort();
        }
    }

    public override void Dispose() => webSocket.Dispose();
}
