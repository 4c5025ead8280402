using System.Buffers.Binary;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Plexus.TestKit;

/// <summary>A received MQTT packet: its first byte and its body (what follows the remaining length).</summary>
public sealed record RawPacket(byte First, byte[] Body)
{
    public int Type => First >> 4;

    /// <summary>The reason code of a DISCONNECT (0 when it has none).</summary>
    public byte DisconnectReason => Body.Length > 0 ? Body[0] : (byte)0;

    /// <summary>The packet identifier of a PUBACK, PUBREC, PUBREL or PUBCOMP, or of a QoS 1/2 PUBLISH.</summary>
    public ushort PacketId => Type == 3 ? BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(2 + TopicLength)) : BinaryPrimitives.ReadUInt16BigEndian(Body);

    /// <summary>A PUBLISH's topic name (empty when it uses an alias only).</summary>
    public string Topic => Encoding.UTF8.GetString(Body, 2, TopicLength);

    private int TopicLength => BinaryPrimitives.ReadUInt16BigEndian(Body);

    /// <summary>A PUBLISH's payload.</summary>
    public string Payload
    {
        get
        {
            int position = PropertiesStart(out int length);
            return Encoding.UTF8.GetString(Body, position + length, Body.Length - position - length);
        }
    }

    /// <summary>A PUBLISH's Topic Alias property; null when it has none.</summary>
    public ushort? TopicAlias => (ushort?)NumericProperty(0x23);

    /// <summary>A numeric MQTT 5 property (two- or four-byte integer) of a CONNACK or PUBLISH; null when absent.</summary>
    public uint? NumericProperty(byte id)
    {
        int position = PropertiesStart(out int length);
        int end = position + length;
        while (position < end)
        {
            byte property = Body[position++];
            int size = property switch
            {
                0x01 or 0x17 or 0x19 or 0x24 or 0x25 or 0x28 or 0x29 or 0x2A => 1,
                0x13 or 0x21 or 0x22 or 0x23 => 2,
                0x02 or 0x11 or 0x27 => 4,
                0x26 => 4 + BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(position)) + BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(position + 2 + BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(position)))),
                0x0B => VariableIntegerLength(position),
                _ => 2 + BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(position)),
            };
            if (property == id)
            {
                return size == 1 ? Body[position] : size == 2 ? BinaryPrimitives.ReadUInt16BigEndian(Body.AsSpan(position)) : BinaryPrimitives.ReadUInt32BigEndian(Body.AsSpan(position));
            }

            position += size;
        }

        return null;
    }

    private int VariableIntegerLength(int position)
    {
        int used = 1;
        while ((Body[position + used - 1] & 0x80) != 0)
        {
            used++;
        }

        return used;
    }

    private int PropertiesStart(out int length)
    {
        // CONNACK: flags and reason code; PUBLISH: topic and, at QoS 1/2, a packet identifier.
        int position = Type == 2 ? 2 : 2 + TopicLength + (((First >> 1) & 0x03) > 0 ? 2 : 0);
        length = 0;
        int multiplier = 1;
        byte encoded;
        do
        {
            encoded = Body[position++];
            length += (encoded & 0x7F) * multiplier;
            multiplier *= 128;
        }
        while ((encoded & 0x80) != 0);
        return position;
    }
}

/// <summary>
/// An MQTT 5 client that writes every byte itself, over TCP, TLS or WebSocket: for what client libraries will not send
/// (a topic alias of 0, more unacknowledged messages than the server allows) and for reading exactly what the server sent.
/// </summary>
public sealed class RawMqtt5Client : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly IDisposable? _owner;

    private RawMqtt5Client(Stream stream, IDisposable? owner)
    {
        _stream = stream;
        _owner = owner;
    }

    public RawPacket Connack { get; private set; } = new(0, []);

    /// <summary>The transports a test can run over: <c>tcp</c>, <c>tls</c> (the server's TLS listener) and <c>websocket</c> (the HTTP port's /mqtt).</summary>
    public static async Task<RawMqtt5Client> ConnectAsync(
        PlexusTestServer server,
        string transport = "tcp",
        ushort keepAliveSeconds = 60,
        ushort? receiveMaximum = null,
        ushort? topicAliasMaximum = null,
        string? clientId = null,
        string? tlsThumbprint = null,
        uint? sessionExpiry = null,
        bool cleanStart = true)
    {
        RawMqtt5Client client;
        switch (transport)
        {
            case "tcp":
                {
                    var socket = new TcpClient();
                    await socket.ConnectAsync(server.MqttEndpoint!.Address, server.MqttEndpoint.Port);
                    client = new RawMqtt5Client(socket.GetStream(), socket);
                    break;
                }

            case "tls":
                {
                    var endpoint = server.Server.MqttTlsEndpoint ?? throw new InvalidOperationException("the test server runs no TLS listener");
                    var socket = new TcpClient();
                    await socket.ConnectAsync(endpoint.Address, endpoint.Port);
                    var tls = new SslStream(socket.GetStream(), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
                        certificate is not null && string.Equals(certificate.GetCertHashString(), tlsThumbprint, StringComparison.OrdinalIgnoreCase));
                    await tls.AuthenticateAsClientAsync("localhost");
                    client = new RawMqtt5Client(tls, socket);
                    break;
                }

            case "websocket":
                {
                    var webSocket = new ClientWebSocket();
                    webSocket.Options.AddSubProtocol("mqtt");
                    await webSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Address.Port}/mqtt"), CancellationToken.None);
                    client = new RawMqtt5Client(WebSocketStream.Create(webSocket, WebSocketMessageType.Binary, ownsWebSocket: true), null);
                    break;
                }

            default:
                throw new ArgumentException($"unknown transport {transport}", nameof(transport));
        }

        var properties = new List<byte>();
        if (receiveMaximum is { } rm)
        {
            properties.AddRange([0x21, (byte)(rm >> 8), (byte)rm]);
        }

        if (sessionExpiry is { } expiry)
        {
            properties.AddRange([0x11, (byte)(expiry >> 24), (byte)(expiry >> 16), (byte)(expiry >> 8), (byte)expiry]);
        }

        if (topicAliasMaximum is { } tam)
        {
            properties.AddRange([0x22, (byte)(tam >> 8), (byte)tam]);
        }

        var body = new List<byte>();
        MqttBytes.AddString(body, "MQTT");
        body.Add(5);
        body.Add((byte)(0x80 | 0x40 | (cleanStart ? 0x02 : 0))); // user name, password, clean start
        body.Add((byte)(keepAliveSeconds >> 8));
        body.Add((byte)keepAliveSeconds);
        AddVariableInteger(body, properties.Count);
        body.AddRange(properties);
        MqttBytes.AddString(body, clientId ?? "raw-" + Guid.NewGuid().ToString("N")[..8]);
        MqttBytes.AddString(body, "app");
        MqttBytes.AddString(body, PlexusTestServer.AdminToken);
        await client.SendAsync(MqttBytes.Packet(0x10, body));
        client.Connack = await client.ReadAsync(TimeSpan.FromSeconds(10)) ?? throw new InvalidOperationException("the connection closed before its CONNACK");
        if (client.Connack.Type != 2 || client.Connack.Body[1] != 0)
        {
            throw new InvalidOperationException($"expected a successful CONNACK, got packet type {client.Connack.Type}");
        }

        return client;
    }

    public async Task SendAsync(byte[] packet)
    {
        await _stream.WriteAsync(packet);
        await _stream.FlushAsync();
    }

    /// <summary>The next packet; null when the server closed the connection. Throws <see cref="TimeoutException"/> when none came in time.</summary>
    public async Task<RawPacket?> ReadAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout, TimeProvider.System);
        try
        {
            byte[] first = new byte[1];
            if (await _stream.ReadAsync(first, deadline.Token) == 0)
            {
                return null;
            }

            int remaining = 0;
            int multiplier = 1;
            byte[] digit = new byte[1];
            do
            {
                await _stream.ReadExactlyAsync(digit, deadline.Token);
                remaining += (digit[0] & 0x7F) * multiplier;
                multiplier *= 128;
            }
            while ((digit[0] & 0x80) != 0);
            byte[] body = new byte[remaining];
            await _stream.ReadExactlyAsync(body, deadline.Token);
            return new RawPacket(first[0], body);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            throw new TimeoutException($"no packet within {timeout.TotalSeconds} s");
        }
        catch (Exception error) when (error is IOException or WebSocketException or EndOfStreamException)
        {
            return null;
        }
    }

    /// <summary>Reads packets until the server's DISCONNECT and the end of the connection; returns the DISCONNECT.</summary>
    public async Task<RawPacket> ReadUntilDisconnectAsync()
    {
        while (await ReadAsync(TimeSpan.FromSeconds(10)) is { } packet)
        {
            if (packet.Type == 14)
            {
                Assert(await ReadAsync(TimeSpan.FromSeconds(10)) is null, "the server closes the connection after its DISCONNECT");
                return packet;
            }
        }

        throw new InvalidOperationException("the connection closed without a DISCONNECT");
    }

    /// <summary>An MQTT 5 PUBLISH; <paramref name="topicAlias"/> adds the Topic Alias property (0 included).</summary>
    public static byte[] Publish(string topic, string payload, int qos = 0, ushort packetId = 0, ushort? topicAlias = null)
    {
        var body = new List<byte>();
        MqttBytes.AddString(body, topic);
        if (qos > 0)
        {
            body.Add((byte)(packetId >> 8));
            body.Add((byte)packetId);
        }

        if (topicAlias is { } alias)
        {
            body.AddRange([3, 0x23, (byte)(alias >> 8), (byte)alias]);
        }
        else
        {
            body.Add(0);
        }

        body.AddRange(Encoding.UTF8.GetBytes(payload));
        return MqttBytes.Packet((byte)(0x30 | (qos << 1)), body);
    }

    /// <summary>Whether the CONNACK said the session was resumed.</summary>
    public bool SessionPresent => (Connack.Body[0] & 0x01) != 0;

    /// <summary>A normal DISCONNECT; with <paramref name="sessionExpiry"/> it carries a Session Expiry Interval (0 included).</summary>
    public static byte[] Disconnect(uint? sessionExpiry = null) => sessionExpiry is { } expiry
        ? [0xE0, 7, 0x00, 5, 0x11, (byte)(expiry >> 24), (byte)(expiry >> 16), (byte)(expiry >> 8), (byte)expiry]
        : [0xE0, 0];

    public static byte[] Subscribe(ushort packetId, string filter, int qos)
    {
        var body = new List<byte> { (byte)(packetId >> 8), (byte)packetId, 0 };
        MqttBytes.AddString(body, filter);
        body.Add((byte)qos);
        return MqttBytes.Packet(0x82, body);
    }

    /// <summary>An acknowledgement without reason code: PUBACK (0x40), PUBREC (0x50), PUBREL (0x62) or PUBCOMP (0x70).</summary>
    public static byte[] Ack(byte first, ushort packetId) => [first, 2, (byte)(packetId >> 8), (byte)packetId];

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _owner?.Dispose();
    }

    private static void AddVariableInteger(List<byte> target, int value)
    {
        do
        {
            byte encoded = (byte)(value % 128);
            value /= 128;
            target.Add(value > 0 ? (byte)(encoded | 0x80) : encoded);
        }
        while (value > 0);
    }

    private static void Assert(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException("expected: " + what);
        }
    }
}
