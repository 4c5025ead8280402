using System.Text;

namespace Plexus.TestKit;

/// <summary>Hand-made MQTT packets for tests that must control every byte a client sends.</summary>
public static class MqttBytes
{
    /// <summary>A packet: its first byte, the remaining length, then <paramref name="body"/>.</summary>
    public static byte[] Packet(byte first, IReadOnlyCollection<byte> body)
    {
        var packet = new List<byte>(body.Count + 5) { first };
        packet.AddRange(VariableInteger(body.Count));
        packet.AddRange(body);
        return [.. packet];
    }

    /// <summary>MQTT's variable byte integer (a remaining length, an MQTT 5 properties length).</summary>
    public static List<byte> VariableInteger(int value)
    {
        var bytes = new List<byte>(4);
        do
        {
            byte digit = (byte)(value % 128);
            value /= 128;
            bytes.Add(value > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (value > 0);
        return bytes;
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
