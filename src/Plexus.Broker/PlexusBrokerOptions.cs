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
}
