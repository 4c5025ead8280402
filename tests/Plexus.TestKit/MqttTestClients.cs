using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Plexus.TestKit;

namespace Plexus.TestKit;

/// <summary>Real MQTT clients against a <see cref="PlexusTestServer"/>'s broker.</summary>
public static class MqttTestClients
{
    public static async Task<IMqttClient> ConnectAsync(
        PlexusTestServer server,
        MqttProtocolVersion version = MqttProtocolVersion.V500,
        string? clientId = null,
        string? password = PlexusTestServer.AdminToken,
        Action<MqttClientOptionsBuilder>? configure = null)
    {
        var endpoint = server.MqttEndpoint ?? throw new InvalidOperationException("the test server runs no broker");
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(endpoint.Address.ToString(), endpoint.Port)
            .WithProtocolVersion(version)
            .WithClientId(clientId ?? "test-" + Guid.NewGuid().ToString("N")[..8])
            .WithTimeout(TimeSpan.FromSeconds(10));
        if (password is not null)
        {
            builder.WithCredentials("app", password);
        }

        configure?.Invoke(builder);
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(builder.Build());
        return client;
    }

    public static Task<MqttClientPublishResult> PublishAsync(this IMqttClient client, string topic, string payload, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce, bool retain = false, string? contentType = null)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(Encoding.UTF8.GetBytes(payload))
            .WithQualityOfServiceLevel(qos)
            .WithRetainFlag(retain);
        if (contentType is not null)
        {
            message.WithContentType(contentType);
        }

        return client.PublishAsync(message.Build());
    }

    /// <summary>Subscribes to one filter at QoS 1 and returns the broker's answer (granted, or why not).</summary>
    public static async Task<MqttClientSubscribeResultCode> SubscribeResultAsync(this IMqttClient client, string filter)
    {
        var result = await client.SubscribeAsync(new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return result.Items.Single().ResultCode;
    }

    /// <summary>Subscribes and collects every message received, for assertions with <see cref="Eventually"/>.</summary>
    public static async Task<List<MqttApplicationMessage>> SubscribeCollectingAsync(this IMqttClient client, string filter, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var received = new List<MqttApplicationMessage>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            lock (received)
            {
                received.Add(e.ApplicationMessage);
            }

            return Task.CompletedTask;
        };
        var options = new MqttClientFactory().CreateSubscribeOptionsBuilder().WithTopicFilter(filter, qos).Build();
        var result = await client.SubscribeAsync(options);
        if (result.Items.FirstOrDefault(item => (int)item.ResultCode > 2) is { } refused)
        {
            throw new InvalidOperationException($"subscription to {filter} refused: {refused.ResultCode}");
        }

        return received;
    }

    public static int Count(List<MqttApplicationMessage> received)
    {
        lock (received)
        {
            return received.Count;
        }
    }

    public static string Text(MqttApplicationMessage message) => Encoding.UTF8.GetString(message.Payload);

    /// <summary>
    /// A hand-written MQTT 3.1.1 CONNECT (optionally with a will and a password) over a raw socket: the
    /// connection's CONNACK return code is read byte by byte, not through any client library's mapping.
    /// </summary>
    public static async Task<(TcpClient Socket, byte ReturnCode)> RawConnect311Async(PlexusTestServer server, string clientId, string? password, (string Topic, string Payload)? will = null, string userName = "app", bool cleanSession = true)
    {
        var endpoint = server.MqttEndpoint!;
        var socket = new TcpClient();
        await socket.ConnectAsync(endpoint.Address, endpoint.Port);
        var body = new List<byte>();
        MqttBytes.AddString(body, "MQTT");
        body.Add(4); // protocol level 3.1.1
        byte flags = cleanSession ? (byte)0x02 : (byte)0;
        if (will is not null)
        {
            flags |= 0x04 | 0x08; // will flag, will QoS 1
        }

        if (password is not null)
        {
            flags |= 0x80 | 0x40; // user name and password
        }

        body.Add(flags);
        body.Add(0);
        body.Add(60); // keep alive 60 s
        MqttBytes.AddString(body, clientId);
        if (will is { } w)
        {
            MqttBytes.AddString(body, w.Topic);
            MqttBytes.AddString(body, w.Payload);
        }

        if (password is not null)
        {
            MqttBytes.AddString(body, userName);
            MqttBytes.AddString(body, password);
        }

        var stream = socket.GetStream();
        await stream.WriteAsync(MqttBytes.Packet(0x10, body));
        var connack = new byte[4];
        await stream.ReadExactlyAsync(connack);
        if (connack[0] != 0x20)
        {
            throw new InvalidOperationException($"expected a CONNACK (0x20), got 0x{connack[0]:x2}");
        }

        return (socket, connack[3]);
    }

    /// <summary>Starts one of Debian's mosquitto clients (mosquitto_pub, mosquitto_sub) with its output redirected.</summary>
    public static Process StartMosquitto(string program, string[] arguments)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            return Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            throw new InvalidOperationException($"{program} is not installed: scripts/test.sh installs Debian's mosquitto-clients", error);
        }
    }
}
