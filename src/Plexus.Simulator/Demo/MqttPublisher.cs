using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;

namespace Plexus.Simulator.Demo;

/// <summary>The broker refused the CONNECT (a bad token, an unknown device) or closed the connection.</summary>
public sealed class MqttPublishException(string message, Exception? inner = null) : Exception(message, inner)
{
    public MqttPublishException()
        : this("MQTT publish failed")
    {
    }

    public MqttPublishException(string message)
        : this(message, null)
    {
    }
}

/// <summary>
/// Just enough of an MQTT 3.1.1 client to be a device: CONNECT with a user name and password, PUBLISH at QoS 1 awaiting
/// each PUBACK, DISCONNECT. The simulator's devices talk to Plexus through the same port and checks as real ones, and
/// this project stays free of an MQTT library (only the broker's project references MQTTnet).
/// </summary>
public sealed class MqttPublisher : IAsyncDisposable
{
    private static readonly TimeSpan AckTimeout = TimeSpan.FromSeconds(30);

    private readonly TcpClient _tcp;
    private NetworkStream _stream = null!;
    private readonly ConcurrentDictionary<ushort, TaskCompletionSource> _pending = new();
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private ushort _nextPacketId;

    private MqttPublisher(TcpClient tcp) => _tcp = tcp;

    public bool IsConnected => _reader is { IsCompleted: false };

    public static async Task<MqttPublisher> ConnectAsync(string host, int port, string clientId, string userName, string password, CancellationToken cancellationToken)
    {
        var tcp = new TcpClient { NoDelay = true };
        var publisher = new MqttPublisher(tcp);
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken);
            publisher._stream = tcp.GetStream();
            var body = new List<byte>();
            AppendString(body, "MQTT");
            body.Add(4);                // protocol level 3.1.1
            body.Add(0b1100_0010);      // user name, password, clean session
            body.Add(0);
            body.Add(60);               // keep-alive 60 s: the demo sends far more often
            AppendString(body, clientId);
            AppendString(body, userName);
            AppendString(body, password);
            await publisher.WritePacketAsync(0x10, [.. body], cancellationToken);

            byte[] header = new byte[4];
            await publisher._stream.ReadExactlyAsync(header, cancellationToken);
            if (header[0] != 0x20 || header[3] != 0)
            {
                throw new MqttPublishException($"the broker refused the connection of {clientId} (CONNACK return code {header[3]}: {(header[3] is 4 or 5 ? "bad user name or password" : "refused")})");
            }

            publisher._reader = publisher.ReadAsync();
            return publisher;
        }
        catch (Exception error) when (error is IOException or SocketException or InvalidOperationException)
        {
            await publisher.DisposeAsync();
            throw new MqttPublishException($"cannot connect to MQTT at {host}:{port}: {error.Message}", error);
        }
        catch
        {
            await publisher.DisposeAsync();
            throw;
        }
    }

    /// <summary>Publishes at QoS 1 and returns once the broker acknowledged it (for Plexus: once it is durable).</summary>
    public async Task PublishAsync(string topic, string payload, CancellationToken cancellationToken)
    {
        ushort id = unchecked(++_nextPacketId == 0 ? ++_nextPacketId : _nextPacketId);
        var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = acknowledged;
        var body = new List<byte>(topic.Length + payload.Length + 4);
        AppendString(body, topic);
        body.Add((byte)(id >> 8));
        body.Add((byte)id);
        body.AddRange(Encoding.UTF8.GetBytes(payload));
        try
        {
            await WritePacketAsync(0x32, [.. body], cancellationToken);
            await acknowledged.Task.WaitAsync(AckTimeout, TimeProvider.System, cancellationToken);
        }
        catch (Exception error) when (error is IOException or SocketException or TimeoutException or ObjectDisposedException)
        {
            throw new MqttPublishException($"publish to {topic} failed: {error.Message}", error);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_tcp.Connected)
        {
            try
            {
                await WritePacketAsync(0xE0, [], CancellationToken.None);
            }
            catch (Exception error) when (error is IOException or SocketException or ObjectDisposedException)
            {
                // Gone already: nothing to say goodbye to.
            }
        }

        await _stop.CancelAsync();
        _tcp.Dispose();
        await _reader.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
        _writeLock.Dispose();
    }

    private async Task ReadAsync()
    {
        byte[] buffer = new byte[256];
        try
        {
            while (true)
            {
                await _stream.ReadExactlyAsync(buffer.AsMemory(0, 1), _stop.Token);
                byte type = buffer[0];
                int remaining = 0;
                for (int shift = 0; ; shift += 7)
                {
                    await _stream.ReadExactlyAsync(buffer.AsMemory(0, 1), _stop.Token);
                    remaining |= (buffer[0] & 0x7F) << shift;
                    if ((buffer[0] & 0x80) == 0 || shift > 21)
                    {
                        break;
                    }
                }

                byte[] body = remaining <= buffer.Length ? buffer : new byte[remaining];
                await _stream.ReadExactlyAsync(body.AsMemory(0, remaining), _stop.Token);
                if (type == 0x40 && remaining >= 2 && _pending.TryRemove(BinaryPrimitives.ReadUInt16BigEndian(body), out var acknowledged))
                {
                    acknowledged.TrySetResult();
                }
            }
        }
        catch (Exception error) when (error is IOException or SocketException or OperationCanceledException or ObjectDisposedException or EndOfStreamException)
        {
            foreach (var pending in _pending.Values)
            {
                pending.TrySetException(new IOException("the broker closed the connection"));
            }
        }
    }

    private async Task WritePacketAsync(byte firstByte, byte[] body, CancellationToken cancellationToken)
    {
        byte[] packet = new byte[body.Length + 5];
        packet[0] = firstByte;
        int length = 1;
        int remaining = body.Length;
        do
        {
            byte digit = (byte)(remaining % 128);
            remaining /= 128;
            packet[length++] = remaining > 0 ? (byte)(digit | 0x80) : digit;
        }
        while (remaining > 0);
        body.CopyTo(packet, length);
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(packet.AsMemory(0, length + body.Length), cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static void AppendString(List<byte> body, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        body.Add((byte)(bytes.Length >> 8));
        body.Add((byte)bytes.Length);
        body.AddRange(bytes);
    }
}
