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

    /// <summary>Desired properties, retained on <c>devices/&lt;id&gt;/desired</c> from the start (docs/devices.md#desired-properties-and-commands). Null keeps none.</summary>
    public Plexus.Devices.Twin.DesiredProperties? Desired { get; init; }

    /// <summary>Commands, whose delivery and answers the broker reports to them. Null: answers are forwarded and not recorded.</summary>
    public Plexus.Devices.Twin.DeviceCommands? Commands { get; init; }

    /// <summary>Default largest packet a client may send (256 KiB); advertised to MQTT 5 clients as Maximum Packet Size.</summary>
    public const int DefaultMaxMessageSize = 256 * 1024;

    /// <summary>The MQTT-over-TLS endpoint; null runs none. Needs <see cref="TlsCertificatePath"/> and <see cref="TlsKeyPath"/>.</summary>
    public IPEndPoint? TlsEndpoint { get; init; }

    /// <summary>PEM file with the server certificate (and optionally its chain).</summary>
    public string? TlsCertificatePath { get; init; }

    /// <summary>PEM file with the certificate's private key.</summary>
    public string? TlsKeyPath { get; init; }

    /// <summary>
    /// Largest packet after the CONNECT (fixed header included) a client may send. A client announcing more is
    /// disconnected once its fixed header is read, before the body: MQTT 5 with reason 0x95 Packet too large,
    /// MQTT 3.1.1 by closing the connection.
    /// </summary>
    public int MaxMessageSize { get; init; } = DefaultMaxMessageSize;

    /// <summary>Default largest CONNECT (64 KiB): credentials, client id and a will fit; raise it for larger wills.</summary>
    public const int DefaultMaxConnectSize = 64 * 1024;

    /// <summary>Default time from accept until the whole CONNECT (and a TLS handshake) arrived.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Default cap of open MQTT connections (TCP, TLS and WebSocket together). An idle connection costs about 40 KiB
    /// (its 32 KiB receive buffer, MQTTnet's buffers and session), so 100,000 connections stay within about 4 GiB;
    /// raise it (and the process's open-file limit) for larger fleets.
    /// </summary>
    public const int DefaultMaxConnections = 100_000;

    /// <summary>
    /// Default cap of open connections from one IP address: room for a site or gateway with hundreds of devices
    /// behind one NAT address, while one host can hold at most 1 % of <see cref="DefaultMaxConnections"/>.
    /// </summary>
    public const int DefaultMaxConnectionsPerIp = 1_000;

    /// <summary>Largest first packet; it must be a CONNECT. Over it the connection is closed before the packet is read.</summary>
    public int MaxConnectSize { get; init; } = DefaultMaxConnectSize;

    /// <summary>From accept until the whole CONNECT arrived (TLS handshake included); a connection still without one is closed.</summary>
    public TimeSpan ConnectTimeout { get; init; } = DefaultConnectTimeout;

    /// <summary>Most MQTT connections open at once over every listener; more are closed at accept.</summary>
    public int MaxConnections { get; init; } = DefaultMaxConnections;

    /// <summary>Most MQTT connections open at once from one IP address (behind a proxy: the proxy's).</summary>
    public int MaxConnectionsPerIp { get; init; } = DefaultMaxConnectionsPerIp;

    /// <summary>Default most retained messages kept (all clients together).</summary>
    public const int DefaultMaxRetainedMessages = 100_000;

    /// <summary>Default most bytes of retained messages kept (topics, payloads and properties; they are also held in memory).</summary>
    public const long DefaultMaxRetainedBytes = 256L << 20;

    /// <summary>Default most retained messages one client (a device, or an API token) holds: a tenth of the total.</summary>
    public const int DefaultMaxRetainedMessagesPerClient = 10_000;

    /// <summary>Default most bytes of retained messages one client holds: an eighth of the total.</summary>
    public const long DefaultMaxRetainedBytesPerClient = 32L << 20;

    /// <summary>Most retained messages kept; a retained publish that would add one more is refused (docs/mqtt.md).</summary>
    public int MaxRetainedMessages { get; init; } = DefaultMaxRetainedMessages;

    /// <summary>Most bytes of retained messages kept.</summary>
    public long MaxRetainedBytes { get; init; } = DefaultMaxRetainedBytes;

    /// <summary>Most retained messages whose last publisher is one client (a device by its id, an application by its token).</summary>
    public int MaxRetainedMessagesPerClient { get; init; } = DefaultMaxRetainedMessagesPerClient;

    /// <summary>Most bytes of retained messages whose last publisher is one client.</summary>
    public long MaxRetainedBytesPerClient { get; init; } = DefaultMaxRetainedBytesPerClient;

    /// <summary>Messages per second one client may publish on average; 0 is unlimited (docs/mqtt.md, flood limits).</summary>
    public double MaxMessagesPerSecond { get; init; }

    /// <summary>Messages a client may publish at once above the rate; 0 means one second's worth of the rate.</summary>
    public int MaxBurst { get; init; }

    /// <summary>
    /// Default Receive Maximum the server advertises to MQTT 5 clients: QoS 1/2 messages a client may have unacknowledged
    /// at once. Generous, since nothing is held per message in flight beyond its acknowledgement; a client over it
    /// breaks the protocol and is disconnected (0x93).
    /// </summary>
    public const ushort DefaultReceiveMaximum = 1024;

    /// <summary>
    /// Default Topic Alias Maximum, both ways: aliases an MQTT 5 client may set (each holds a topic of up to 64 KiB in
    /// memory for the connection's life), and aliases the broker gives topics it sends to a client that accepts them.
    /// </summary>
    public const ushort DefaultTopicAliasMaximum = 10;

    /// <summary>
    /// Default longest keep-alive (seconds) of an MQTT 5 client: one that asks for more, or for none, is told this
    /// value in CONNACK (Server Keep Alive) and disconnected after 1.5 times it of silence, so a dead peer's
    /// connection does not stay open for hours.
    /// </summary>
    public const ushort DefaultMaxKeepAlive = 1200;

    /// <summary>
    /// Default longest life (seconds) of a session after its connection ended: a day. Sessions and what is queued for
    /// them are held in memory, so one a client never comes back to must end some time; a client asking for more (or
    /// for never) gets this, and an MQTT 3.1.1 persistent session, which has no interval, ends after it too.
    /// </summary>
    public const uint DefaultMaxSessionExpiry = 86_400;

    /// <summary>Longest Session Expiry Interval in seconds (MQTT 5; MQTT 3.1.1 persistent sessions expire after it too).</summary>
    public uint MaxSessionExpiry { get; init; } = DefaultMaxSessionExpiry;

    /// <summary>QoS 1/2 messages an MQTT 5 client may have unacknowledged (CONNACK Receive Maximum).</summary>
    public ushort ReceiveMaximum { get; init; } = DefaultReceiveMaximum;

    /// <summary>Topic aliases an MQTT 5 client may set, and the broker gives topics sent to a client (CONNACK Topic Alias Maximum).</summary>
    public ushort TopicAliasMaximum { get; init; } = DefaultTopicAliasMaximum;

    /// <summary>Longest keep-alive in seconds an MQTT 5 client gets (CONNACK Server Keep Alive when it asked for more or none).</summary>
    public ushort MaxKeepAlive { get; init; } = DefaultMaxKeepAlive;

    /// <summary>
    /// Default most bytes of the persistent-session file (subscriptions and queued messages of sessions that outlive
    /// their connection). The file is rewritten whole while sessions change, so it is kept well below the retained
    /// messages' limit; sessions and messages over it live on in memory but do not survive a restart.
    /// </summary>
    public const long DefaultMaxSessionStoreBytes = 64L << 20;

    /// <summary>Most bytes of persistent sessions saved in the data folder (docs/mqtt.md, persistent sessions).</summary>
    public long MaxSessionStoreBytes { get; init; } = DefaultMaxSessionStoreBytes;

    /// <summary>An MQTT ACL file for applications (<see cref="Auth.MqttAclFile"/>), reloaded on change and SIGHUP; null for none.</summary>
    public string? AclFilePath { get; init; }
}
