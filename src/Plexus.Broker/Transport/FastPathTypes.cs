using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using Plexus.Broker.Devices;
using Plexus.Pipeline.Devices;

namespace Plexus.Broker.Transport;

/// <summary>
/// Who a connection's fast path publishes for, set once MQTTnet accepted the CONNECT: a device (its own topics
/// only) or an application whose token may write (any device's topics, e.g. a gateway or Telegraf).
/// </summary>
internal sealed class FastPathIdentity
{
    private FastPathIdentity(string clientId, string? deviceId, uint maximumPacketSize)
    {
        ClientId = clientId;
        DeviceId = deviceId;
        TopicPrefix = System.Text.Encoding.UTF8.GetBytes(DeviceTopic.Prefix + deviceId + (deviceId is null ? "" : "/"));
        MaximumPacketSize = maximumPacketSize;
    }

    public static FastPathIdentity ForDevice(string clientId, string deviceId, uint maximumPacketSize) => new(clientId, deviceId, maximumPacketSize);

    public static FastPathIdentity ForApplication(string clientId, uint maximumPacketSize) => new(clientId, null, maximumPacketSize);

    public string ClientId { get; }

    /// <summary>The device this connection is; null for an application, which names the device in each topic.</summary>
    public string? DeviceId { get; }

    /// <summary><c>devices/&lt;id&gt;/</c> in UTF-8 for a device (the only topics it may publish to), <c>devices/</c> for an application.</summary>
    public byte[] TopicPrefix { get; }

    /// <summary>The client's MQTT 5 Maximum Packet Size (0: none), which a PUBACK reason string must respect.</summary>
    public uint MaximumPacketSize { get; }

    /// <summary>When the fast path next records the device as seen (a timestamp of the broker's <see cref="TimeProvider"/>).</summary>
    public long NextActivityUpdate { get; set; }

    // The last measurement name and (for an application) device id read from a topic, with their UTF-8: a
    // connection usually repeats them. Fields, as the topic parser updates them by reference.
    internal (byte[] Bytes, string Text)? LastMeasurement;
    internal (byte[] Bytes, string Text)? LastDevice;
}

/// <summary>Takes (or declines) a device's PUBLISH before MQTTnet decodes it.</summary>
internal interface IDevicePublishHandler
{
    /// <summary>
    /// True when the message is dealt with: decoded into the connection's staging (or dropped as the rules say);
    /// false hands it to MQTTnet unchanged.
    /// </summary>
    bool TryTake(DevicePublishChannel channel, FastPathIdentity identity, in PublishView publish);

    /// <summary>
    /// Moves what the connection staged into the shared batch. Returns a task when the connection should read
    /// nothing more until it completes; <paramref name="sequence"/> names the shared write they went into.
    /// </summary>
    Task? Commit(DevicePublishChannel channel, out long sequence);

    /// <summary>Completes once the shared write <paramref name="sequence"/> that <see cref="Commit"/> reported is committed (or failed).</summary>
    Task WhenStoredAsync(long sequence);

    DeviceIngest.IngestStaging CreateStaging();

    /// <summary>The connection broke an input limit and is being closed (logged and counted by the broker).</summary>
    void InputRefused(DevicePublishChannel channel, MqttInputRefusal refusal, long packetSize);
}

/// <summary>Why a connection was closed by the framing before MQTTnet saw the packet.</summary>
internal enum MqttInputRefusal
{
    /// <summary>The first packet is not a CONNECT.</summary>
    NotConnectFirst,

    /// <summary>The CONNECT announced more than the largest CONNECT allowed.</summary>
    ConnectTooLarge,

    /// <summary>The whole CONNECT did not arrive within the connect timeout.</summary>
    ConnectTimeout,

    /// <summary>A packet after the CONNECT announced more than the largest packet allowed.</summary>
    PacketTooLarge,

    /// <summary>MQTT 5: one more unacknowledged QoS 1/2 PUBLISH than the server's Receive Maximum (DISCONNECT 0x93).</summary>
    ReceiveMaximumExceeded,

    /// <summary>MQTT 5: a Topic Alias of 0 or above the server's Topic Alias Maximum (DISCONNECT 0x94).</summary>
    TopicAliasInvalid,

    /// <summary>MQTT 5: a PUBLISH with neither a topic name nor an alias set before on the connection (DISCONNECT 0x82).</summary>
    TopicAliasUnknown,

    /// <summary>MQTT 5: a PUBLISH whose topic and properties do not fit the 32 KiB receive buffer, so its topic alias cannot be checked (DISCONNECT 0x83).</summary>
    PublishHeaderTooLarge,
}

/// <summary>
/// The remote endpoint of a <see cref="DevicePublishChannel"/>, carrying the channel: MQTTnet reports a connection's
/// endpoint in its events, so the broker finds the connection's own channel from it, never another connection's
/// from the same address and port on another listener.
/// </summary>
internal sealed class ChannelEndPoint(IPEndPoint remote, DevicePublishChannel channel) : IPEndPoint(remote.Address, remote.Port)
{
    public DevicePublishChannel Channel { get; } = channel;
}
