using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Plexus.MqttBench;

/// <summary>The load generator's two forms: both publish the same messages in the same order.</summary>
internal interface IDeviceFleet : IAsyncDisposable
{
    Task<PublishOutcome> PublishAsync(int qos, int messagesPerDevice, int firstSeq = 0);
}

/// <summary>
/// The lean generator (default): each device is a socket speaking MQTT 5 directly — a CONNECT, then PUBLISH packets
/// formatted into one buffer, one send each, and at QoS 1 the next only after its PUBACK, as a device does. It
/// costs about a third of the CPU of an MQTTnet client per message, which matters when it shares two cores with
/// the broker it measures: the brokers, not the generator, should be what runs out of CPU. With <c>--transport tls</c>
/// the same packets go through an <see cref="System.Net.Security.SslStream"/>, one TLS record per packet.
/// </summary>
internal sealed class RawDeviceFleet : IDeviceFleet
{
    private readonly List<(DeviceIdentity Device, Stream Stream)> _devices;

    private RawDeviceFleet(List<(DeviceIdentity, Stream)> devices) => _devices = devices;

    public static async Task<RawDeviceFleet> ConnectAsync(int port, IReadOnlyList<DeviceIdentity> devices, BenchTransport transport)
    {
        var connected = new List<(DeviceIdentity, Stream)>(devices.Count);
        try
        {
            foreach (var chunk in devices.Chunk(10))
            {
                connected.AddRange(await Task.WhenAll(chunk.Select(async device => (device, await ConnectOneAsync(port, device, transport)))));
            }
        }
        catch
        {
            foreach (var (_, stream) in connected)
            {
                await stream.DisposeAsync();
            }

            throw;
        }

        return new RawDeviceFleet(connected);
    }

    private static async Task<Stream> ConnectOneAsync(int port, DeviceIdentity device, BenchTransport transport)
    {
        var stream = await transport.ConnectAsync(port);
        try
        {
            byte[] connect = ConnectPacket(device);
            await stream.WriteAsync(connect);
            byte[] packet = new byte[256];
            var (type, length) = await ReadPacketAsync(stream, packet);

            // CONNACK: flags, reason code.
            if (type != 2 || length < 2 || packet[1] != 0)
            {
                throw new InvalidOperationException($"device {device.Id}: CONNECT refused (packet type {type}, reason 0x{(length >= 2 ? packet[1] : 0):x2})");
            }

            return stream;
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }
    }

    private static byte[] ConnectPacket(DeviceIdentity device)
    {
        var body = new List<byte>();
        body.AddRange([0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 5]);
        byte flags = 0x02;
        if (device.Token is not null)
        {
            flags |= 0x80 | 0x40;
        }

        body.Add(flags);
        body.AddRange([0, 120, 0]); // keep-alive 120 s, no properties
        AddString(body, device.Id);
        if (device.Token is not null)
        {
            AddString(body, device.Id);
            AddString(body, device.Token);
        }

        var packet = new List<byte> { 0x10 };
        AddVariableInteger(packet, body.Count);
        packet.AddRange(body);
        return [.. packet];
    }

    private static void AddString(List<byte> target, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        target.Add((byte)(bytes.Length >> 8));
        target.Add((byte)bytes.Length);
        target.AddRange(bytes);
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

    /// <summary>Reads one whole packet into <paramref name="body"/> (the bytes after the fixed header).</summary>
    private static async Task<(int Type, int Length)> ReadPacketAsync(Stream stream, byte[] body)
    {
        byte[] one = new byte[1];
        await ReadExactlyAsync(stream, one, 1);
        int type = one[0] >> 4;
        int length = 0;
        int multiplier = 1;
        do
        {
            await ReadExactlyAsync(stream, one, 1);
            length += (one[0] & 0x7F) * multiplier;
            multiplier *= 128;
        }
        while ((one[0] & 0x80) != 0);
        if (length > body.Length)
        {
            throw new InvalidOperationException($"unexpected {length}-byte packet of type {type}");
        }

        await ReadExactlyAsync(stream, body, length);
        return (type, length);
    }

    private static async Task ReadExactlyAsync(Stream stream, byte[] buffer, int count)
    {
        int read = 0;
        while (read < count)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(read, count - read));
            if (n == 0)
            {
                throw new IOException("the broker closed the connection");
            }

            read += n;
        }
    }

    public async Task<PublishOutcome> PublishAsync(int qos, int messagesPerDevice, int firstSeq = 0)
    {
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        long start = Stopwatch.GetTimestamp();
        var counts = await Task.WhenAll(_devices.Select(d => Task.Run(() => PublishDeviceAsync(d.Device, d.Stream, qos, firstSeq, messagesPerDevice))));
        long end = Stopwatch.GetTimestamp();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
        return new PublishOutcome(counts.Sum(c => c.Published), counts.Sum(c => c.Failed), start, end, cpu);
    }

    private static async Task<(long Published, long Failed)> PublishDeviceAsync(DeviceIdentity device, Stream stream, int qos, int firstSeq, int messages)
    {
        byte[] topic = Encoding.UTF8.GetBytes($"devices/{device.Id}/telemetry");
        byte[] packet = new byte[1024];
        byte[] ack = new byte[256];
        int deviceNumber = device.Id.GetHashCode(StringComparison.Ordinal) & 0xffff;
        long published = 0;
        ushort packetId = 0;
        for (int seq = firstSeq; seq < firstSeq + messages; seq++)
        {
            packetId = (ushort)(packetId == ushort.MaxValue ? 1 : packetId + 1);
            int length = FormatPublish(packet, topic, qos, packetId, deviceNumber, seq);
            try
            {
                await stream.WriteAsync(packet.AsMemory(0, length));
                if (qos == 1)
                {
                    var (type, ackLength) = await ReadPacketAsync(stream, ack);
                    bool success = type == 4 && ackLength >= 2 && BinaryPrimitives.ReadUInt16BigEndian(ack) == packetId && (ackLength == 2 || ack[2] < 0x80);
                    if (!success)
                    {
                        return (published, firstSeq + messages - seq);
                    }
                }

                published++;
            }
            catch (IOException)
            {
                return (published, firstSeq + messages - seq);
            }
        }

        return (published, 0);
    }

    /// <summary>An MQTT 5 PUBLISH without properties: fixed header, topic, packet id (QoS 1), property length 0, payload.</summary>
    private static int FormatPublish(byte[] packet, byte[] topic, int qos, ushort packetId, int deviceNumber, int seq)
    {
        // The payload goes first at a fixed offset, then the header is written in front of it.
        const int payloadOffset = 300;
        int payloadLength = DeviceFleet.FormatPayload(packet.AsSpan(payloadOffset), deviceNumber, seq);
        int remaining = 2 + topic.Length + (qos > 0 ? 2 : 0) + 1 + payloadLength;
        int headerLength = remaining < 128 ? 2 : 3;
        int start = payloadOffset - (remaining - payloadLength) - headerLength;
        int position = start;
        packet[position++] = qos > 0 ? (byte)0x32 : (byte)0x30;
        if (remaining < 128)
        {
            packet[position++] = (byte)remaining;
        }
        else
        {
            packet[position++] = (byte)((remaining % 128) | 0x80);
            packet[position++] = (byte)(remaining / 128);
        }

        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(position), (ushort)topic.Length);
        position += 2;
        topic.CopyTo(packet, position);
        position += topic.Length;
        if (qos > 0)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(position), packetId);
            position += 2;
        }

        packet[position] = 0;
        if (start != 0)
        {
            Buffer.BlockCopy(packet, start, packet, 0, headerLength + remaining);
        }

        return headerLength + remaining;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, stream) in _devices)
        {
            try
            {
                await stream.WriteAsync(new byte[] { 0xE0, 0x00 });
            }
            catch (IOException)
            {
            }

            await stream.DisposeAsync();
        }
    }
}
