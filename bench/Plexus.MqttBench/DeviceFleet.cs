using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Unicode;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Plexus.MqttBench;

/// <summary>One device to simulate: its id (the MQTT user name and client id) and its token, if the broker wants one.</summary>
internal readonly record struct DeviceIdentity(string Id, string? Token);

/// <summary>What one load achieved from the publishers' side.</summary>
internal readonly record struct PublishOutcome(long Published, long Failed, long StartTimestamp, long EndTimestamp, double GeneratorCpuSeconds)
{
    public double Seconds => Stopwatch.GetElapsedTime(StartTimestamp, EndTimestamp).TotalSeconds;
}

/// <summary>
/// The MQTTnet generator (<c>--generator mqttnet</c>): one MQTTnet client per device, each publishing its messages one after another (QoS 1 waits
/// for the PUBACK before the next, as a device does). The ~200-byte JSON payload is formatted into one buffer per
/// device and the message object is reused, so the generator allocates little beyond what MQTTnet itself does.
/// </summary>
internal sealed class DeviceFleet : IDeviceFleet
{
    /// <summary>2023-11-14T22:13:20Z; message n of a device gets this + n ms, so every message is its own row.</summary>
    public const long BaseTimeMs = 1_700_000_000_000;

    private readonly List<(DeviceIdentity Device, IMqttClient Client)> _clients;

    private DeviceFleet(List<(DeviceIdentity, IMqttClient)> clients) => _clients = clients;

    public static async Task<DeviceFleet> ConnectAsync(int port, IReadOnlyList<DeviceIdentity> devices, BenchTransport transport)
    {
        var factory = new MqttClientFactory();
        var clients = new List<(DeviceIdentity, IMqttClient)>(devices.Count);
        try
        {
            // A few at a time: a burst of 100 CONNECTs with token checks is not what is being measured.
            foreach (var chunk in devices.Chunk(10))
            {
                var connected = await Task.WhenAll(chunk.Select(async device =>
                {
                    var builder = transport.Configure(new MqttClientOptionsBuilder(), port)
                        .WithProtocolVersion(MqttProtocolVersion.V500)
                        .WithClientId(device.Id)
                        .WithCleanSession()
                        .WithKeepAlivePeriod(TimeSpan.FromSeconds(120))
                        .WithTimeout(TimeSpan.FromSeconds(120));
                    if (device.Token is not null)
                    {
                        builder.WithCredentials(device.Id, device.Token);
                    }

                    var client = factory.CreateMqttClient();
                    var result = await client.ConnectAsync(builder.Build());
                    if (result.ResultCode != MqttClientConnectResultCode.Success)
                    {
                        client.Dispose();
                        throw new InvalidOperationException($"device {device.Id}: CONNECT refused with {result.ResultCode}");
                    }

                    return (device, client);
                }));
                clients.AddRange(connected);
            }
        }
        catch
        {
            foreach (var (_, client) in clients)
            {
                client.Dispose();
            }

            throw;
        }

        return new DeviceFleet(clients);
    }

    public Task<PublishOutcome> PublishAsync(int qos, int messagesPerDevice, int firstSeq = 0) =>
        PublishAsync((MqttQualityOfServiceLevel)qos, messagesPerDevice, firstSeq);

    /// <summary>Each device publishes messages <paramref name="firstSeq"/> … <paramref name="firstSeq"/> + <paramref name="messagesPerDevice"/> − 1.</summary>
    public async Task<PublishOutcome> PublishAsync(MqttQualityOfServiceLevel qos, int messagesPerDevice, int firstSeq = 0)
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();
        var counts = await Task.WhenAll(_clients.Select(c => Task.Run(() => PublishDeviceAsync(c.Device, c.Client, qos, firstSeq, messagesPerDevice))));
        long end = Stopwatch.GetTimestamp();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        return new PublishOutcome(counts.Sum(c => c.Published), counts.Sum(c => c.Failed), start, end, cpu);
    }

    private static async Task<(long Published, long Failed)> PublishDeviceAsync(DeviceIdentity device, IMqttClient client, MqttQualityOfServiceLevel qos, int firstSeq, int messages)
    {
        var buffer = new byte[512];
        var message = new MqttApplicationMessage { Topic = $"devices/{device.Id}/telemetry", QualityOfServiceLevel = qos };
        int deviceNumber = device.Id.GetHashCode(StringComparison.Ordinal) & 0xffff;
        long published = 0;
        long failed = 0;
        for (int seq = firstSeq; seq < firstSeq + messages; seq++)
        {
            int length = FormatPayload(buffer, deviceNumber, seq);
            message.Payload = new ReadOnlySequence<byte>(buffer, 0, length);
            try
            {
                var result = await client.PublishAsync(message);
                if (result.IsSuccess)
                {
                    published++;
                }
                else
                {
                    failed++;
                }
            }
            catch (Exception error) when (error is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
                failed += firstSeq + messages - seq;
                break;
            }
        }

        return (published, failed);
    }

    /// <summary>A realistic telemetry message of ~200 bytes: a timestamp, a sequence number and ten readings.</summary>
    public static int FormatPayload(Span<byte> buffer, int device, int seq)
    {
        long ts = BaseTimeMs + seq;
        double phase = ((seq + device) % 360) * 0.01;
        bool ok = Utf8.TryWrite(buffer, CultureInfo.InvariantCulture,
            $"{{\"ts\":{ts},\"seq\":{seq},\"temp\":{20 + phase:F2},\"humidity\":{45 + phase:F2},\"pressure\":{1013.25 - phase:F2},\"battery\":{3.7 + (phase * 0.01):F3},\"rssi\":{-60 - (seq % 20)},\"speed\":{50 + phase:F1},\"heading\":{(seq + device) % 360},\"lat\":{52.520008 + (phase * 0.001):F6},\"lon\":{13.404954 + (phase * 0.001):F6},\"status\":\"ok\"}}",
            out int written);
        return ok ? written : throw new InvalidOperationException("payload buffer too small");
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, client) in _clients)
        {
            try
            {
                if (client.IsConnected)
                {
                    await client.DisconnectAsync();
                }
            }
            catch (Exception error) when (error is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
            {
            }

            client.Dispose();
        }
    }
}
