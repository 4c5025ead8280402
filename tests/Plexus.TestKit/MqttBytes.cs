using System.Text;

namespace Plexus.TestKit;

/// <summary>Hand-made MQTT packets for tests that must control every byte a client sends.</summary>
public static class MqttBytes
{
    /// <summary>A packet: its first byte, the remaining length, then <paramref name="body"/>.</summary>
    public static byte[] Packet(byte first, IReadOnlyCollection<byte> body)
    {
        var packet = new List<byte>(body.Count + 5) { first };
        int remaining = body.Count;
        do
        {
            byte digit = (byte)(remaining % 128);
            remaining /= 128;
            packet.Add(remaining > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remaining > 0);
        packet.AddRange(body);
        return [.. packet];
    }

    /// <summary>A length-prefixed UTF-8 string.</summary>
    public static void AddString(List<byte> target, string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        target.Add((byte)(utf8.Length >> 8));
        target.Add((byte)utf8.Length);
        target.AddRange(utf8);
    }

    /// <summary>An MQTT 3.1.1 PUBLISH: QoS 1 when <paramref name="packetId"/> is not 0, else QoS 0.</summary>
    public static byte[] Publish311(string topic, string payload, ushort packetId = 0, bool retain = false)
    {
        var body = new List<byte>();
        AddString(body, topic);
        if (packetId != 0)
        {
            body.Add((byte)(packetId >> 8));
            body.Add((byte)packetId);
        }

        body.AddRange(Encoding.UTF8.GetBytes(payload));
        return Packet((byte)(0x30 | (packetId != 0 ? 0x02 : 0) | (retain ? 0x01 : 0)), body);
    }
}
