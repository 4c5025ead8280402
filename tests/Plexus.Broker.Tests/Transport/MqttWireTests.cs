using System.Text;
using Plexus.Broker.Transport;

namespace Plexus.Broker.Tests.Transport;

/// <summary>The wire pieces the device fast path reads and writes without MQTTnet.</summary>
public sealed class MqttWireTests
{
    [Theory]
    [InlineData("devices/+/telemetry", "devices/d1/telemetry", true)]
    [InlineData("devices/+/telemetry", "devices/d1/telemetry/engine", false)]
    [InlineData("devices/#", "devices/d1/telemetry/engine", true)]
    [InlineData("devices/#", "devices", true)]
    [InlineData("#", "devices/d1/lp", true)]
    [InlineData("#", "$SYS/broker", false)]
    [InlineData("+/d1/telemetry", "$devices/d1/telemetry", false)]
    [InlineData("devices/d1/telemetry", "devices/d1/telemetry", true)]
    [InlineData("devices/d1/telemetry", "devices/d1/telemetr", false)]
    [InlineData("devices/d1", "devices/d1/telemetry", false)]
    [InlineData("devices/+/+/engine", "devices/d1/telemetry/engine", true)]
    [InlineData("devices/+", "devices/", true)]
    [InlineData("devices/+/#", "devices/d1", true)]
    public void Topic_filters_match_as_mqtt_section_4_7_says(string filter, string topic, bool matches) =>
        Assert.Equal(matches, MqttWire.FilterMatches(Encoding.UTF8.GetBytes(filter), Encoding.UTF8.GetBytes(topic)));

    [Fact]
    public void A_v5_publish_is_parsed_in_place_and_properties_are_noticed()
    {
        // PUBLISH QoS 1, topic "a/b", packet id 0x0102, properties: content type "x" (0x03), payload "hi".
        byte[] withProperties = [0x32, 13, 0, 3, (byte)'a', (byte)'/', (byte)'b', 1, 2, 4, 0x03, 0, 1, (byte)'x', (byte)'h', (byte)'i'];
        withProperties[1] = (byte)(withProperties.Length - 2);
        Assert.True(MqttWire.TryReadFixedHeader(withProperties, out int header, out int remaining, out bool malformed));
        Assert.False(malformed);
        Assert.Equal(withProperties.Length, header + remaining);
        Assert.True(MqttWire.TryParsePublish(withProperties, header, v5: true, out PublishView publish));
        Assert.Equal(1, publish.Qos);
        Assert.Equal(0x0102, publish.PacketId);
        Assert.Equal("a/b", Encoding.UTF8.GetString(publish.Topic));
        Assert.True(publish.HasProperties);
        Assert.Equal("hi", Encoding.UTF8.GetString(publish.Payload));

        // The same as 3.1.1 has no property length: the byte 4 and what follows is payload.
        Assert.True(MqttWire.TryParsePublish(withProperties, header, v5: false, out PublishView v311));
        Assert.False(v311.HasProperties);
        Assert.Equal(7, v311.Payload.Length);
    }

    [Fact]
    public void Malformed_publish_packets_are_left_to_mqttnet()
    {
        Assert.False(MqttWire.TryParsePublish([0x36, 2, 0, 0], 2, v5: false, out _)); // QoS 3
        Assert.False(MqttWire.TryParsePublish([0x32, 4, 0, 1, (byte)'a', 0], 2, v5: false, out _)); // packet id cut off
        Assert.False(MqttWire.TryParsePublish([0x32, 5, 0, 1, (byte)'a', 0, 0], 2, v5: false, out _)); // packet id 0
        Assert.False(MqttWire.TryParsePublish([0x30, 3, 0, 9, (byte)'a'], 2, v5: false, out _)); // topic longer than the packet
        Assert.True(MqttWire.TryReadFixedHeader([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], out _, out _, out bool malformed));
        Assert.True(malformed);
        Assert.False(MqttWire.TryReadFixedHeader([0x30, 0x80], out _, out _, out _)); // needs another byte
    }

    [Fact]
    public void Puback_carries_a_reason_only_for_mqtt5_and_drops_the_reason_string_past_the_clients_maximum()
    {
        var buffer = new byte[MqttWire.MaxPubAckSize(200)];
        Assert.Equal(new byte[] { 0x40, 2, 0, 7 }, buffer[..MqttWire.WritePubAck(buffer, 7, v5: false, 0x99, "bad", 0)]);
        Assert.Equal(new byte[] { 0x40, 2, 0, 7 }, buffer[..MqttWire.WritePubAck(buffer, 7, v5: true, 0, null, 0)]);
        Assert.Equal(new byte[] { 0x40, 10, 0, 7, 0x99, 6, 0x1F, 0, 3, (byte)'b', (byte)'a', (byte)'d' }, buffer[..MqttWire.WritePubAck(buffer, 7, v5: true, 0x99, "bad", 0)]);
        Assert.Equal(new byte[] { 0x40, 3, 0, 7, 0x99 }, buffer[..MqttWire.WritePubAck(buffer, 7, v5: true, 0x99, "bad", maximumPacketSize: 8)]);
        Assert.Equal(new byte[] { 0x40, 3, 0, 7, 0x10 }, buffer[..MqttWire.WritePubAck(buffer, 7, v5: true, 0x10, null, 0)]);
    }
}
