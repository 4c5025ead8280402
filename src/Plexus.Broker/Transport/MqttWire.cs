using System.Buffers.Binary;
using System.Text;

namespace Plexus.Broker.Transport;

/// <summary>A PUBLISH packet as it lies in the receive buffer: nothing is copied or allocated to look at it.</summary>
internal readonly ref struct PublishView
{
    public PublishView(byte qos, bool retain, ushort packetId, ReadOnlySpan<byte> topic, bool hasProperties, ReadOnlySpan<byte> payload, int packetSize)
    {
        Qos = qos;
        Retain = retain;
        PacketId = packetId;
        Topic = topic;
        HasProperties = hasProperties;
        Payload = payload;
        PacketSize = packetSize;
    }

    public byte Qos { get; }

    public bool Retain { get; }

    public ushort PacketId { get; }

    public ReadOnlySpan<byte> Topic { get; }

    /// <summary>MQTT 5 properties are present (topic alias, content type, expiry …): such a packet takes MQTTnet's path.</summary>
    public bool HasProperties { get; }

    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>The whole packet on the wire, fixed header included.</summary>
    public int PacketSize { get; }
}

/// <summary>The few pieces of the MQTT wire format the device fast path reads and writes itself.</summary>
internal static class MqttWire
{
    public const byte PublishType = 3;
    public const byte ConnectType = 1;

    /// <summary>PINGREQ: what the channel hands MQTTnet so its keep-alive sees a device whose packets it did not see.</summary>
    public static ReadOnlySpan<byte> PingRequest => [0xC0, 0x00];

    public static ReadOnlySpan<byte> PingResponse => [0xD0, 0x00];

    /// <summary>MQTT 5 DISCONNECT with reason 0x95 Packet too large.</summary>
    public static readonly ReadOnlyMemory<byte> DisconnectPacketTooLarge = new byte[] { 0xE0, 0x01, 0x95 };

    /// <summary>
    /// Reads a fixed header: false when more bytes are needed. <paramref name="malformed"/> is set for a remaining
    /// length longer than four bytes (MQTTnet then reports the violation when the bytes are handed to it).
    /// </summary>
    public static bool TryReadFixedHeader(ReadOnlySpan<byte> buffer, out int headerLength, out int remainingLength, out bool malformed)
    {
        headerLength = 0;
        remainingLength = 0;
        malformed = false;
        int multiplier = 1;
        for (int i = 1; i < 5; i++)
        {
            if (i >= buffer.Length)
            {
                return false;
            }

            byte encoded = buffer[i];
            remainingLength += (encoded & 0x7F) * multiplier;
            if ((encoded & 0x80) == 0)
            {
                headerLength = i + 1;
                return true;
            }

            multiplier *= 128;
        }

        malformed = true;
        headerLength = Math.Min(buffer.Length, 5);
        return true;
    }

    /// <summary>Parses a complete PUBLISH packet; false for anything malformed (MQTTnet then decides what to answer).</summary>
    public static bool TryParsePublish(ReadOnlySpan<byte> packet, int headerLength, bool v5, out PublishView publish)
    {
        publish = default;
        byte flags = (byte)(packet[0] & 0x0F);
        byte qos = (byte)((flags >> 1) & 0x03);
        if (qos == 3)
        {
            return false;
        }

        ReadOnlySpan<byte> body = packet[headerLength..];
        if (body.Length < 2)
        {
            return false;
        }

        int topicLength = BinaryPrimitives.ReadUInt16BigEndian(body);
        int position = 2 + topicLength;
        if (body.Length < position)
        {
            return false;
        }

        ReadOnlySpan<byte> topic = body.Slice(2, topicLength);
        ushort packetId = 0;
        if (qos > 0)
        {
            if (body.Length < position + 2)
            {
                return false;
            }

            packetId = BinaryPrimitives.ReadUInt16BigEndian(body[position..]);
            position += 2;
            if (packetId == 0)
            {
                return false;
            }
        }

        bool hasProperties = false;
        if (v5)
        {
            if (!TryReadVariableInteger(body[position..], out int propertiesLength, out int used) || body.Length < position + used + propertiesLength)
            {
                return false;
            }

            hasProperties = propertiesLength > 0;
            position += used + propertiesLength;
        }

        publish = new PublishView(qos, (flags & 0x01) != 0, packetId, topic, hasProperties, body[position..], packet.Length);
        return true;
    }

    public const byte PubAckType = 4;
    public const byte PubRecType = 5;
    public const byte PubCompType = 7;

    /// <summary>MQTT 5 reason codes the framing disconnects with.</summary>
    public const byte ProtocolError = 0x82;
    public const byte ImplementationSpecificError = 0x83;
    public const byte ReceiveMaximumExceeded = 0x93;
    public const byte TopicAliasInvalid = 0x94;

    /// <summary>The offset of a CONNECT's keep-alive from the start of its body (after the protocol name, level and flags).</summary>
    public const int ConnectKeepAliveOffset = 8;

    /// <summary>The MQTT 5 property identifier of Topic Alias (a two-byte integer).</summary>
    public const byte TopicAliasProperty = 0x23;

    /// <summary>Where a PUBLISH's MQTT 5 properties lie, read from as much of the packet as has arrived.</summary>
    public enum PublishHeaderStatus
    {
        Complete,
        NeedMore,
        Malformed,
    }

    /// <summary>
    /// Finds the properties of an MQTT 5 PUBLISH in <paramref name="available"/>, which holds at least its fixed header
    /// (the payload need not have arrived): <paramref name="propertiesStart"/> and <paramref name="propertiesLength"/>
    /// are offsets into it, <paramref name="topicLength"/> the length of its topic name.
    /// </summary>
    public static PublishHeaderStatus TryReadPublishHeader(ReadOnlySpan<byte> available, int headerLength, int remainingLength, out int topicLength, out int propertiesStart, out int propertiesLength)
    {
        topicLength = 0;
        propertiesStart = 0;
        propertiesLength = 0;
        int end = headerLength + remainingLength;
        int qos = (available[0] >> 1) & 0x03;
        if (headerLength + 2 > end)
        {
            return PublishHeaderStatus.Malformed;
        }

        if (available.Length < headerLength + 2)
        {
            return PublishHeaderStatus.NeedMore;
        }

        topicLength = BinaryPrimitives.ReadUInt16BigEndian(available[headerLength..]);
        int position = headerLength + 2 + topicLength + (qos > 0 ? 2 : 0);
        if (position >= end)
        {
            return PublishHeaderStatus.Malformed;
        }

        int lengthBytes = Math.Min(4, end - position);
        if (available.Length < position + lengthBytes && available.Length < end)
        {
            return PublishHeaderStatus.NeedMore;
        }

        if (!TryReadVariableInteger(available.Slice(position, Math.Min(lengthBytes, available.Length - position)), out propertiesLength, out int used)
            || position + used + propertiesLength > end)
        {
            return PublishHeaderStatus.Malformed;
        }

        propertiesStart = position + used;
        return available.Length < propertiesStart + propertiesLength ? PublishHeaderStatus.NeedMore : PublishHeaderStatus.Complete;
    }

    /// <summary>
    /// One numeric property among MQTT 5 properties (Topic Alias, Session Expiry Interval …): 1 when present (its value
    /// in <paramref name="value"/>), 0 when absent, -1 when the properties cannot be read (MQTTnet then reports the
    /// malformed packet).
    /// </summary>
    public static int FindProperty(ReadOnlySpan<byte> properties, byte wanted, out uint value)
    {
        value = 0;
        int found = 0;
        int position = 0;
        while (position < properties.Length)
        {
            byte id = properties[position++];
            int size;
            switch (id)
            {
                case 0x01: // payload format indicator
                    size = 1;
                    break;
                case TopicAliasProperty:
                    size = 2;
                    break;
                case 0x02: // message expiry interval
                case SessionExpiryProperty:
                    size = 4;
                    break;
                case 0x03: // content type
                case 0x08: // response topic
                case 0x09: // correlation data
                case 0x1C: // server reference
                case 0x1F: // reason string
                    size = position + 2 <= properties.Length ? 2 + BinaryPrimitives.ReadUInt16BigEndian(properties[position..]) : int.MaxValue;
                    break;
                case 0x26: // user property: two strings
                    if (position + 2 > properties.Length)
                    {
                        return -1;
                    }

                    int nameEnd = position + 2 + BinaryPrimitives.ReadUInt16BigEndian(properties[position..]);
                    size = nameEnd + 2 <= properties.Length ? nameEnd - position + 2 + BinaryPrimitives.ReadUInt16BigEndian(properties[nameEnd..]) : int.MaxValue;
                    break;
                case 0x0B: // subscription identifier
                    if (!TryReadVariableInteger(properties[position..], out _, out size))
                    {
                        return -1;
                    }

                    break;
                default:
                    return -1;
            }

            if (size > properties.Length - position)
            {
                return -1;
            }

            if (id == wanted)
            {
                if (found != 0)
                {
                    return -1;
                }

                value = size == 2 ? BinaryPrimitives.ReadUInt16BigEndian(properties[position..]) : size == 4 ? BinaryPrimitives.ReadUInt32BigEndian(properties[position..]) : properties[position];
                found = 1;
            }

            position += size;
        }

        return found;
    }

    /// <summary>The MQTT 5 property identifier of Session Expiry Interval (a four-byte integer).</summary>
    public const byte SessionExpiryProperty = 0x11;

    public const byte DisconnectType = 14;

    /// <summary>
    /// The Session Expiry Interval a complete MQTT 5 DISCONNECT sets: true with the value when it carries one, false when
    /// it carries none (the CONNECT's stays) or cannot be read.
    /// </summary>
    public static bool TryReadDisconnectSessionExpiry(ReadOnlySpan<byte> packet, int headerLength, out uint interval)
    {
        interval = 0;
        ReadOnlySpan<byte> body = packet[headerLength..];
        if (body.Length < 2 || !TryReadVariableInteger(body[1..], out int propertiesLength, out int used) || body.Length < 1 + used + propertiesLength)
        {
            return false;
        }

        return FindProperty(body.Slice(1 + used, propertiesLength), SessionExpiryProperty, out interval) == 1;
    }

    /// <summary>
    /// Copies a complete MQTT 5 PUBLISH with a Topic Alias property added, and its topic name left empty when
    /// <paramref name="omitTopic"/> (the client knows the alias already). Returns the length written, or 0 when the
    /// packet is not one this reads (it is then sent unchanged). <paramref name="destination"/> must hold
    /// <see cref="AliasedPublishGrowth"/> bytes more than the packet.
    /// </summary>
    public static int WriteAliasedPublish(ReadOnlySpan<byte> packet, Span<byte> destination, ushort alias, bool omitTopic)
    {
        if (packet.Length < 2 || !TryReadFixedHeader(packet, out int headerLength, out int remaining, out bool malformed) || malformed
            || headerLength + remaining != packet.Length
            || TryReadPublishHeader(packet, headerLength, remaining, out int topicLength, out int propertiesStart, out int propertiesLength) != PublishHeaderStatus.Complete)
        {
            return 0;
        }

        int qos = (packet[0] >> 1) & 0x03;
        int newTopicLength = omitTopic ? 0 : topicLength;
        int newPropertiesLength = propertiesLength + 3;
        int payloadStart = propertiesStart + propertiesLength;
        int newRemaining = 2 + newTopicLength + (qos > 0 ? 2 : 0) + VariableIntegerSize(newPropertiesLength) + newPropertiesLength + (packet.Length - payloadStart);
        destination[0] = packet[0];
        int position = 1 + WriteVariableInteger(destination[1..], newRemaining);
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], (ushort)newTopicLength);
        position += 2;
        packet.Slice(headerLength + 2, newTopicLength).CopyTo(destination[position..]);
        position += newTopicLength;
        if (qos > 0)
        {
            packet.Slice(headerLength + 2 + topicLength, 2).CopyTo(destination[position..]);
            position += 2;
        }

        position += WriteVariableInteger(destination[position..], newPropertiesLength);
        destination[position++] = TopicAliasProperty;
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], alias);
        position += 2;
        packet[propertiesStart..].CopyTo(destination[position..]);
        return position + packet.Length - propertiesStart;
    }

    /// <summary>How much longer <see cref="WriteAliasedPublish"/> can make a packet: the property and two longer lengths.</summary>
    public const int AliasedPublishGrowth = 5;

    /// <summary>An MQTT 5 DISCONNECT with a reason code and no properties.</summary>
    public static byte[] Disconnect(byte reasonCode) => [0xE0, 0x01, reasonCode];

    /// <summary>Protocol level (4: 3.1.1, 5: 5.0) and keep-alive of a complete CONNECT packet; false when it is not one this understands.</summary>
    public static bool TryReadConnect(ReadOnlySpan<byte> packet, int headerLength, out byte protocolLevel, out ushort keepAliveSeconds)
    {
        protocolLevel = 0;
        keepAliveSeconds = 0;
        ReadOnlySpan<byte> body = packet[headerLength..];
        if (body.Length < 10 || !body[..6].SequenceEqual("\0\u0004MQTT"u8))
        {
            return false;
        }

        protocolLevel = body[6];
        keepAliveSeconds = BinaryPrimitives.ReadUInt16BigEndian(body[8..]);
        return protocolLevel is 4 or 5;
    }

    public static bool TryReadVariableInteger(ReadOnlySpan<byte> buffer, out int value, out int used)
    {
        value = 0;
        int multiplier = 1;
        for (used = 1; used <= 4 && used <= buffer.Length; used++)
        {
            byte encoded = buffer[used - 1];
            value += (encoded & 0x7F) * multiplier;
            if ((encoded & 0x80) == 0)
            {
                return true;
            }

            multiplier *= 128;
        }

        return false;
    }

    /// <summary>
    /// Writes a PUBACK. MQTT 5: the reason code (omitted for success without a reason string, as the spec allows) and
    /// an optional reason string, left out when it would take the packet over the client's maximum packet size.
    /// </summary>
    public static int WritePubAck(Span<byte> destination, ushort packetId, bool v5, byte reasonCode, string? reasonString, uint maximumPacketSize)
    {
        destination[0] = 0x40;
        if (!v5 || (reasonCode == 0 && reasonString is null))
        {
            destination[1] = 2;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], packetId);
            return 4;
        }

        int reasonBytes = reasonString is null ? 0 : Encoding.UTF8.GetByteCount(reasonString);
        int propertiesLength = reasonBytes == 0 ? 0 : 3 + reasonBytes;
        int remaining = 3 + VariableIntegerSize(propertiesLength) + propertiesLength;
        if (reasonBytes == 0 || (maximumPacketSize > 0 && 1 + VariableIntegerSize(remaining) + remaining > maximumPacketSize))
        {
            // Remaining length 3: packet id and reason code, no properties (MQTT 5 §3.4.2.2.1).
            destination[1] = 3;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], packetId);
            destination[4] = reasonCode;
            return 5;
        }

        int position = 1 + WriteVariableInteger(destination[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(destination[position..], packetId);
        position += 2;
        destination[position++] = reasonCode;
        position += WriteVariableInteger(destination[position..], propertiesLength);
        if (reasonBytes > 0)
        {
            destination[position++] = 0x1F;
            BinaryPrimitives.WriteUInt16BigEndian(destination[position..], (ushort)reasonBytes);
            position += 2;
            position += Encoding.UTF8.GetBytes(reasonString, destination[position..]);
        }

        return position;
    }

    /// <summary>Largest PUBACK <see cref="WritePubAck"/> writes for a reason string of <paramref name="reasonChars"/> characters.</summary>
    public static int MaxPubAckSize(int reasonChars) => 16 + Encoding.UTF8.GetMaxByteCount(reasonChars);

    private static int VariableIntegerSize(int value) => value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;

    private static int WriteVariableInteger(Span<byte> destination, int value)
    {
        int i = 0;
        do
        {
            byte encoded = (byte)(value % 128);
            value /= 128;
            if (value > 0)
            {
                encoded |= 0x80;
            }

            destination[i++] = encoded;
        }
        while (value > 0);
        return i;
    }

    /// <summary>
    /// MQTT topic filter matching on UTF-8 (§4.7): <c>+</c> one level, <c>#</c> the rest (including the parent
    /// level), and wildcards in the first level never match a topic starting with <c>$</c>.
    /// </summary>
    public static bool FilterMatches(ReadOnlySpan<byte> filter, ReadOnlySpan<byte> topic)
    {
        if (topic.Length > 0 && topic[0] == (byte)'$' && filter.Length > 0 && (filter[0] == (byte)'+' || filter[0] == (byte)'#'))
        {
            return false;
        }

        while (true)
        {
            int filterEnd = filter.IndexOf((byte)'/');
            ReadOnlySpan<byte> filterLevel = filterEnd < 0 ? filter : filter[..filterEnd];
            if (filterLevel.Length == 1 && filterLevel[0] == (byte)'#')
            {
                return true;
            }

            int topicEnd = topic.IndexOf((byte)'/');
            ReadOnlySpan<byte> topicLevel = topicEnd < 0 ? topic : topic[..topicEnd];
            if (!(filterLevel.Length == 1 && filterLevel[0] == (byte)'+') && !filterLevel.SequenceEqual(topicLevel))
            {
                return false;
            }

            if (filterEnd < 0 || topicEnd < 0)
            {
                // Both must end together; "a/#" also matches "a".
                return (filterEnd < 0 && topicEnd < 0) || (topicEnd < 0 && filter[(filterEnd + 1)..].SequenceEqual("#"u8));
            }

            filter = filter[(filterEnd + 1)..];
            topic = topic[(topicEnd + 1)..];
        }
    }
}
