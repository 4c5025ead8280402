using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using MQTTnet;
using MQTTnet.Formatter;
using Plexus.TestKit;

namespace Plexus.Broker.Tests;

/// <summary>
/// What an unauthenticated (or any) peer can make the broker read and hold: the first packet must be a small
/// CONNECT that arrives in time, a packet over the size limit is refused on its fixed header, and connections are
/// capped in total and per IP address on every listener.
/// </summary>
public sealed class InputLimitTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_connect_announcing_256_MB_is_cut_off_before_1_MiB_is_read()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var socket = await OpenAsync(server.MqttEndpoint!);

        // CONNECT with a remaining length of 127 × 128³ bytes (about 254 MiB), then its first 64 KiB: the server must
        // close the connection with no more than that sent (without the limit it waits for the other 254 MiB).
        await socket.SendAsync(new byte[] { 0x10, 0x80, 0x80, 0x80, 0x7F });
        try
        {
            await socket.SendAsync(new byte[64 * 1024]);
        }
        catch (SocketException)
        {
        }

        Assert.True(await IsClosedByServerAsync(socket), "the server still waits for the body of a 254 MiB CONNECT");
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("its CONNECT announces 266338309 bytes, the limit is 65536 (--mqtt-max-connect-size)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_first_packet_that_is_not_a_connect_closes_the_connection()
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var socket = await OpenAsync(server.MqttEndpoint!);

        await socket.SendAsync(MqttBytes.Publish311("devices/d1/telemetry", "{}"));

        Assert.True(await IsClosedByServerAsync(socket));
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("its first packet is not a CONNECT", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.2\r\n")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003")]
    public async Task Non_mqtt_traffic_on_the_mqtt_port_is_one_warning_line_with_the_peer_address(string traffic)
    {
        await using var server = await PlexusTestServer.StartAsync();
        using var socket = await OpenAsync(server.MqttEndpoint!);
        string peer = socket.LocalEndPoint!.ToString()!;

        await socket.SendAsync(System.Text.Encoding.Latin1.GetBytes(traffic));

        Assert.True(await IsClosedByServerAsync(socket));
        var warnings = server.Logs.Entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning && e.Category.StartsWith("Plexus.Broker", StringComparison.Ordinal)).ToList();
        var warning = Assert.Single(warnings);
        Assert.Contains(peer, warning.Message, StringComparison.Ordinal);
        Assert.Null(warning.Error);
        Assert.DoesNotContain('\n', warning.Message);
    }

    [Theory]
    [InlineData("tcp")]
    [InlineData("tls")]
    [InlineData("websocket")]
    public async Task A_connection_that_sends_no_connect_is_closed_within_the_connect_timeout(string transport)
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder, o => o with { MqttConnectTimeout = TimeSpan.FromMilliseconds(500) });
        var clock = Stopwatch.StartNew();
        await using var connection = await HoldAsync(server, transport);

        Assert.True(await connection.IsClosedByServerAsync(), "the silent connection is still open");

        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), Patience);
        Assert.Contains(server.Logs.Entries, e => e.Message.Contains("no complete CONNECT within 0.5 s (--mqtt-connect-timeout)", StringComparison.Ordinal)
            || (transport == "tls" && e.Message.Contains("handshake", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_packet_over_the_size_limit_closes_the_connection_before_its_body_is_sent(MqttProtocolVersion version)
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxMessageSize = 1024 });
        using var socket = await OpenAsync(server.MqttEndpoint!);
        await ConnectAsync(socket, version);

        // A PUBLISH announcing 10 MB: only its fixed header is sent.
        await socket.SendAsync(new byte[] { 0x30, 0x80, 0xAD, 0xE2, 0x04 });

        if (version == MqttProtocolVersion.V500)
        {
            var disconnect = new byte[3];
            await ReceiveExactlyAsync(socket, disconnect);
            Assert.Equal(new byte[] { 0xE0, 0x01, 0x95 }, disconnect);
        }

        Assert.True(await IsClosedByServerAsync(socket));
        Assert.Equal(1, server.Server.Broker!.TooLargeRefused);
    }

    [Theory]
    [InlineData("tcp", false)]
    [InlineData("tls", false)]
    [InlineData("websocket", false)]
    [InlineData("tcp", true)]
    [InlineData("tls", true)]
    [InlineData("websocket", true)]
    public async Task A_connection_over_the_cap_is_closed_at_accept(string transport, bool perIp)
    {
        using var folder = new TempDirectory();
        await using var server = await StartAsync(folder, o => perIp
            ? o with { MqttMaxConnectionsPerIp = 2, MqttConnectTimeout = TimeSpan.FromSeconds(60) }
            : o with { MqttMaxConnections = 2, MqttConnectTimeout = TimeSpan.FromSeconds(60) });
        await using var first = await HoldAsync(server, transport);
        await using var second = await HoldAsync(server, transport);
        await Eventually.TrueAsync(() => server.Server.Broker!.OpenConnections == 2);

        await using var third = await HoldAsync(server, transport);
        await using var fourth = await HoldAsync(server, transport);

        Assert.True(await third.IsClosedByServerAsync(), "the connection over the cap is open");
        Assert.True(await fourth.IsClosedByServerAsync(), "the connection over the cap is open");
        Assert.False(await first.IsClosedByServerAsync(TimeSpan.FromMilliseconds(300)), "a connection within the cap was closed");
        Assert.Equal(2, server.Server.Broker!.RefusedConnections);
        string limit = perIp ? "per IP address (--mqtt-max-connections-per-ip)" : "(--mqtt-max-connections)";
        var lines = server.Logs.Entries.Where(e => e.Message.Contains("refused at accept", StringComparison.Ordinal)).ToList();
        var line = Assert.Single(lines); // rate-limited: one line for both
        Assert.Contains(limit, line.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:", line.Message, StringComparison.Ordinal);
        Assert.Null(line.Error);

        // A place freed is a place taken.
        await first.DisposeAsync();
        await Eventually.TrueAsync(() => server.Server.Broker!.OpenConnections == 1);
        using var client = await MqttTestClients.ConnectAsync(server);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task The_per_ip_cap_leaves_other_addresses_their_own_connections()
    {
        await using var server = await PlexusTestServer.StartAsync(configure: o => o with { MqttMaxConnectionsPerIp = 1 });
        using var held = await OpenAsync(server.MqttEndpoint!);
        using var refused = await OpenAsync(server.MqttEndpoint!);
        using var otherAddress = await OpenAsync(server.MqttEndpoint!, IPAddress.Parse("127.0.0.2"));

        Assert.True(await IsClosedByServerAsync(refused));
        await ConnectAsync(otherAddress, MqttProtocolVersion.V311);
    }

    private static Task<PlexusTestServer> StartAsync(TempDirectory folder, Func<Server.PlexusServerOptions, Server.PlexusServerOptions> configure)
    {
        var (certificate, key, _) = BrokerTransportTests.WriteSelfSignedPem(folder.Path);
        return PlexusTestServer.StartAsync(configure: o => configure(o with { MqttTlsEndpoint = "127.0.0.1:0", MqttTlsCertificate = certificate, MqttTlsKey = key }));
    }

    private static async Task<Socket> OpenAsync(IPEndPoint endpoint, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        try
        {
            await socket.ConnectAsync(endpoint);
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Refused at accept before the connect completed here: the socket reads as closed.
        }

        return socket;
    }

    /// <summary>True when the server closes (or resets) the connection within the time; false when it stays open and silent.</summary>
    private static async Task<bool> IsClosedByServerAsync(Socket socket, TimeSpan? within = null)
    {
        var buffer = new byte[256];
        try
        {
            using var timeout = new CancellationTokenSource(within ?? Patience);
            while (true)
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>A hand-written CONNECT of either protocol version with the admin token; asserts the CONNACK accepts it.</summary>
    private static async Task ConnectAsync(Socket socket, MqttProtocolVersion version)
    {
        var body = new List<byte>();
        MqttBytes.AddString(body, "MQTT");
        bool v5 = version == MqttProtocolVersion.V500;
        body.Add(v5 ? (byte)5 : (byte)4);
        body.Add(0xC2); // user name, password, clean session
        body.Add(0);
        body.Add(60);
        if (v5)
        {
            body.Add(0); // no properties
        }

        MqttBytes.AddString(body, "raw-" + Guid.NewGuid().ToString("N")[..8]);
        MqttBytes.AddString(body, "app");
        MqttBytes.AddString(body, PlexusTestServer.AdminToken);
        await socket.SendAsync(MqttBytes.Packet(0x10, body));
        var header = new byte[2];
        await ReceiveExactlyAsync(socket, header);
        var rest = new byte[header[1]];
        await ReceiveExactlyAsync(socket, rest);
        Assert.Equal(0x20, header[0]);
        Assert.Equal(0, rest[1]);
    }

    private static async Task ReceiveExactlyAsync(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = await socket.ReceiveAsync(buffer.AsMemory(read)).AsTask().WaitAsync(Patience);
            Assert.True(n > 0, "the server closed the connection");
            read += n;
        }
    }

    /// <summary>Opens a connection over a transport and sends nothing on it.</summary>
    private static async Task<HeldConnection> HoldAsync(PlexusTestServer server, string transport)
    {
        switch (transport)
        {
            case "tcp":
                return new HeldConnection(await OpenAsync(server.MqttEndpoint!), null);
            case "tls":
                // Not even the handshake: admission happens at accept.
                return new HeldConnection(await OpenAsync(server.Server.MqttTlsEndpoint!), null);
            default:
                var webSocket = new ClientWebSocket();
                webSocket.Options.AddSubProtocol("mqtt");
                try
                {
                    await webSocket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Address.Port}/mqtt"), CancellationToken.None);
                }
                catch (WebSocketException)
                {
                    // Refused at accept while the upgrade's answer was on its way: it reads as closed.
                }

                return new HeldConnection(null, webSocket);
        }
    }

    private sealed class HeldConnection(Socket? socket, ClientWebSocket? webSocket) : IAsyncDisposable
    {
        public async Task<bool> IsClosedByServerAsync(TimeSpan? within = null)
        {
            if (socket is not null)
            {
                return await InputLimitTests.IsClosedByServerAsync(socket, within);
            }

            if (webSocket!.State != WebSocketState.Open)
            {
                return true;
            }

            try
            {
                using var timeout = new CancellationTokenSource(within ?? Patience);
                var result = await webSocket.ReceiveAsync(new byte[256], timeout.Token);
                return result.MessageType == WebSocketMessageType.Close;
            }
            catch (WebSocketException)
            {
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public ValueTask DisposeAsync()
        {
            socket?.Dispose();
            webSocket?.Abort();
            webSocket?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
