using System.Net;

namespace Plexus.Broker;

public sealed class PlexusBrokerOptions
{
    /// <summary>
    /// Per-client limit of messages queued for delivery. MQTTnet's default (250) silently drops the oldest
    /// message when a subscriber falls behind (docs/mqtt.md); one million matched the measured loads without loss
    /// (shared broker-measurements.md), at the cost of memory while a slow subscriber catches up.
    /// </summary>
    public const int DefaultMaxPendingMessagesPerClient = 1_000_000;

    /// <summary>The TCP endpoint; port 0 picks a free port (see <see cref="PlexusBroker.Endpoint"/>).</summary>
    public required IPEndPoint Endpoint { get; init; }

    /// <summary>The data folder: retained messages are kept in it.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The namespace device data is stored in.</summary>
    public string Namespace { get; init; } = "main";

    public int MaxPendingMessagesPerClient { get; init; } = DefaultMaxPendingMessagesPerClient;

    /// <summary>Device live state: positions, reported properties, connectivity history, dead letters (docs/devices.md). Null keeps none.</summary>
    public Plexus.Devices.DeviceLiveState? DeviceState { get; init; }

    /// <summary>Default largest packet a client may send (256 KiB); advertised to MQTT 5 clients as Maximum Packet Size.</summary>
    public const int DefaultMaxMessageSize = 256 * 1024;

    /// <summary>The MQTT-over-TLS endpoint; null runs none. Needs <see cref="TlsCertificatePath"/> and <see cref="TlsKeyPath"/>.</summary>
    public IPEndPoint? TlsEndpoint { get; init; }

    /// <summary>PEM file with the server certificate (and optionally its chain).</summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>PEM file with the certificate's private key.</summary>
    public string? TlsKeyPath { get; init; }

    /// <summary>
    /// Largest PUBLISH packet (topic, properties and payload) a client may send. MQTT 5 clients over it are
    /// disconnected with reason 0x95 Packet too large, MQTT 3.1.1 clients are disconnected.
    /// </summary>
    public int MaxMessageSize { get; init; } = DefaultMaxMessageSize;

    /// <summary>Messages per second one client may publish on average; 0 is unlimited (docs/mqtt.md, flood limits).</summary>
    public double MaxMessagesPerSecond { get; init; }

    /// <summary>Messages a client may publish at once above the rate; 0 means one second's worth of the rate.</summary>
    public int MaxBurst { get; init; }
}
