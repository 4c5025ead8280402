using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Plexus.TestKit;

/// <summary>
/// MQTT clients that log in with a user name and a password (a device and its token, an application and an API token
/// or the provisioning key): MQTTnet, a hand-made raw connection, mosquitto_pub; and the device's rows and registry entry.
/// </summary>
public static class DeviceTestClients
{
    /// <summary>Connects, and throws (failing the test) when the CONNECT is refused.</summary>
    public static async Task<IMqttClient> ConnectAsync(
        PlexusTestServer server, string userName, string password, MqttProtocolVersion version = MqttProtocolVersion.V500, string? clientId = null, bool cleanSession = true)
    {
        var (client, result) = await TryConnectAsync(server, userName, password, version, clientId, cleanSession);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            client.Dispose();
            throw new InvalidOperationException($"CONNECT as {userName} refused: {result.ResultCode}");
        }

        return client;
    }

    /// <summary>Connects and returns the CONNACK's result whatever it is, for the tests of refusals.</summary>
    public static async Task<(IMqttClient Client, MqttClientConnectResult Result)> TryConnectAsync(
        PlexusTestServer server, string userName, string password, MqttProtocolVersion version = MqttProtocolVersion.V500, string? clientId = null, bool cleanSession = true)
    {
        var endpoint = server.MqttEndpoint!;
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(endpoint.Address.ToString(), endpoint.Port)
            .WithProtocolVersion(version)
            .WithClientId(clientId ?? "test-" + Guid.NewGuid().ToString("N")[..8])
            .WithCleanSession(cleanSession)
            .WithCredentials(userName, password)
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (!cleanSession && version == MqttProtocolVersion.V500)
        {
            builder.WithSessionExpiryInterval(300);
        }

        var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            return (client, await client.ConnectAsync(builder.Build()));
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Publishes at QoS 1, so the answer comes after the server stored (or refused) the message.</summary>
    public static Task<MqttClientPublishResult> PublishAsync(IMqttClient client, string topic, string payload, string? contentType = null)
    {
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (contentType is not null)
        {
            builder.WithContentType(contentType);
        }

        return client.PublishAsync(builder.Build());
    }

    /// <summary>
    /// A raw MQTT 3.1.1 CONNECT on a socket, so a test can stay silent past the keep-alive or drop the connection
    /// without a DISCONNECT (an MQTTnet client pings and disconnects cleanly on its own). Returns after the CONNACK.
    /// </summary>
    public static async Task<Socket> RawConnectAsync(PlexusTestServer server, string clientId, string userName, string password, ushort keepAliveSeconds, (string Topic, string Message)? will = null)
    {
        var payload = new List<byte>();
        MqttBytes.AddString(payload, clientId);
        byte flags = 0xC2; // user name, password, clean session
        if (will is { } w)
        {
            flags |= 0x04;
            MqttBytes.AddString(payload, w.Topic);
            MqttBytes.AddString(payload, w.Message);
        }

        MqttBytes.AddString(payload, userName);
        MqttBytes.AddString(payload, password);
        var variable = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, flags, (byte)(keepAliveSeconds >> 8), (byte)keepAliveSeconds };
        byte[] packet = MqttBytes.Packet(0x10, [.. variable, .. payload]);

        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(server.MqttEndpoint!);
        await socket.SendAsync(packet);
        var connack = new byte[4];
        int read = 0;
        while (read < 4)
        {
            int n = await socket.ReceiveAsync(connack.AsMemory(read));
            if (n == 0)
            {
                throw new IOException("the broker closed the connection before CONNACK");
            }

            read += n;
        }

        if (connack[0] != 0x20 || connack[3] != 0)
        {
            throw new InvalidOperationException($"expected a CONNACK (0x20) accepting the connection (0), got 0x{connack[0]:x2} with return code {connack[3]}");
        }

        return socket;
    }

    /// <summary>The connectivity rows of a device, oldest first: (value, reason).</summary>
    public static async Task<List<(string Value, string Reason)>> OnlineRowsAsync(PlexusTestServer server, string device)
    {
        // Before the first row the measurement does not exist yet.
        if ((await server.RowsAsync("SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'state_history'")).Count == 0)
        {
            return [];
        }

        var rows = await server.RowsAsync($"SELECT value, reason FROM state_history WHERE device = '{device}' AND property = 'online' ORDER BY time");
        return rows.Select(r => (r[0].GetString()!, r[1].GetString()!)).ToList();
    }

    public static async Task<JsonElement> GetDeviceAsync(PlexusTestServer server, string id)
    {
        using var response = await server.Client.GetAsync($"/api/v1/devices/{id}");
        string body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET /api/v1/devices/{id} answered {(int)response.StatusCode}: {body}");
        }

        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<(int ExitCode, string Error)> MosquittoPubAsync(PlexusTestServer server, string user, string password, string topic, string message)
    {
        var start = new ProcessStartInfo("mosquitto_pub", ["-h", "127.0.0.1", "-p", server.MqttEndpoint!.Port.ToString(), "-u", user, "-P", password, "-q", "1", "-t", topic, "-m", message])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, error);
    }
}
