using Plexus.Storage;

namespace Plexus.Server;

/// <summary>Everything `plexus serve` can be told; each has a flag, an environment variable and a config-file key (docs/configuration.md).</summary>
public sealed record PlexusServerOptions
{
    public const string DefaultDataDirectory = "plexus-data";
    public const string DefaultHttpEndpoint = "127.0.0.1:8086";
    public const string DefaultMqttEndpoint = "127.0.0.1:1883";
    public const string MqttOff = "off";
    public const string DefaultPgEndpoint = "127.0.0.1:5433";

    public string DataDirectory { get; init; } = DefaultDataDirectory;

    /// <summary>host:port to listen on; port 0 picks a free port (tests).</summary>
    public string HttpEndpoint { get; init; } = DefaultHttpEndpoint;

    /// <summary>host:port of the embedded MQTT broker; port 0 picks a free port (tests); "off" (or null) runs no broker.</summary>
    public string? MqttEndpoint { get; init; } = DefaultMqttEndpoint;

    /// <summary>host:port of the MQTT-over-TLS listener; null or "off" runs none (needs <see cref="MqttTlsCertificate"/> and <see cref="MqttTlsKey"/>).</summary>
    public string? MqttTlsEndpoint { get; init; }

    /// <summary>host:port of the PostgreSQL wire-protocol listener (docs/postgres.md); port 0 picks a free port (tests); "off" (or null) runs none.</summary>
    public string? PgEndpoint { get; init; } = DefaultPgEndpoint;

    /// <summary>PEM file with the certificate the PostgreSQL listener offers on SSLRequest; none answers 'N'.</summary>
    public string? PgTlsCertificate { get; init; }

    /// <summary>PEM file with that certificate's private key.</summary>
    public string? PgTlsKey { get; init; }

    /// <summary>Whether clients on 127.0.0.1/::1 may send their token as a password without TLS.</summary>
    public bool PgAllowLoopbackCleartext { get; init; }

    /// <summary>Most PostgreSQL connections open at once.</summary>
    public int PgMaxConnections { get; init; } = PgWire.PgWireOptions.DefaultMaxConnections;

    /// <summary>Most PostgreSQL connections open at once from one IP address.</summary>
    public int PgMaxConnectionsPerIp { get; init; } = PgWire.PgWireOptions.DefaultMaxConnectionsPerIp;

    /// <summary>Time a new PostgreSQL connection has to authenticate, TLS handshake included.</summary>
    public TimeSpan PgAuthTimeout { get; init; } = PgWire.PgWireOptions.DefaultAuthenticationTimeout;

    /// <summary>Largest message a PostgreSQL client may send, in bytes.</summary>
    public long PgMaxMessageSize { get; init; } = PgWire.PgWireOptions.DefaultMaxMessageSize;

    /// <summary>PEM file with the MQTT TLS server certificate.</summary>
    public string? MqttTlsCertificate { get; init; }

    /// <summary>PEM file with the MQTT TLS certificate's private key.</summary>
    public string? MqttTlsKey { get; init; }

    /// <summary>
    /// PEM file of the CAs trusted to issue device client certificates on the MQTT TLS listener (the subject's CN is
    /// the device id); null accepts only certificates registered for a device.
    /// </summary>
    public string? MqttClientCa { get; init; }

    /// <summary>An MQTT ACL file (Mosquitto's format) for applications, reloaded on change and SIGHUP; null for none.</summary>
    public string? MqttAclFile { get; init; }

    /// <summary>
    /// PEM file with the HTTPS server certificate: with <see cref="HttpsKey"/>, the HTTP listener serves HTTPS only
    /// (and MQTT over WebSocket on <c>/mqtt</c> becomes WSS). Null serves plain HTTP.
    /// </summary>
    public string? HttpsCertificate { get; init; }

    /// <summary>PEM file with the HTTPS certificate's private key.</summary>
    public string? HttpsKey { get; init; }

    /// <summary>Largest MQTT packet a client may send, in bytes (docs/mqtt.md, flood limits).</summary>
    public long MqttMaxMessageSize { get; init; } = 256 * 1024;

    /// <summary>Largest MQTT CONNECT packet, in bytes; the first packet must be a CONNECT (docs/mqtt.md, input limits).</summary>
    public long MqttMaxConnectSize { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxConnectSize;

    /// <summary>How long a new MQTT connection has to deliver its whole CONNECT (and TLS handshake).</summary>
    public TimeSpan MqttConnectTimeout { get; init; } = Broker.PlexusBrokerOptions.DefaultConnectTimeout;

    /// <summary>Most MQTT connections open at once, over TCP, TLS and WebSocket together.</summary>
    public int MqttMaxConnections { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxConnections;

    /// <summary>Most MQTT connections open at once from one IP address.</summary>
    public int MqttMaxConnectionsPerIp { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxConnectionsPerIp;

    /// <summary>Most retained MQTT messages kept (docs/mqtt.md, retained messages).</summary>
    public int MqttMaxRetainedMessages { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxRetainedMessages;

    /// <summary>Most bytes of retained MQTT messages kept.</summary>
    /// <summary>Most bytes of persistent MQTT sessions saved in the data folder (subscriptions, queued messages); more live in memory only.</summary>
    public long MqttMaxSessionStoreBytes { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxSessionStoreBytes;

    public long MqttMaxRetainedBytes { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxRetainedBytes;

    /// <summary>Most retained MQTT messages one client (device or API token) holds.</summary>
    public int MqttMaxRetainedMessagesPerClient { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxRetainedMessagesPerClient;

    /// <summary>Most bytes of retained MQTT messages one client holds.</summary>
    public long MqttMaxRetainedBytesPerClient { get; init; } = Broker.PlexusBrokerOptions.DefaultMaxRetainedBytesPerClient;

    /// <summary>Messages per second one MQTT client may publish; 0 is unlimited.</summary>
    public double MqttMaxRate { get; init; }

    /// <summary>Messages a client may publish at once above the rate; 0 is one second's worth.</summary>
    public int MqttMaxBurst { get; init; }

    /// <summary>MQTT 5: QoS 1/2 messages a client may have unacknowledged (CONNACK Receive Maximum; docs/mqtt.md).</summary>
    public ushort MqttReceiveMaximum { get; init; } = Broker.PlexusBrokerOptions.DefaultReceiveMaximum;

    /// <summary>MQTT 5: topic aliases a client may set, and the broker gives topics sent to a client (CONNACK Topic Alias Maximum).</summary>
    public ushort MqttMaxTopicAliases { get; init; } = Broker.PlexusBrokerOptions.DefaultTopicAliasMaximum;

    /// <summary>The longest an MQTT session lives after its connection ended (MQTT 5 Session Expiry Interval; MQTT 3.1.1 persistent sessions too), whole seconds.</summary>
    public TimeSpan MqttMaxSessionExpiry { get; init; } = TimeSpan.FromSeconds(Broker.PlexusBrokerOptions.DefaultMaxSessionExpiry);

    /// <summary>MQTT 5: the longest keep-alive a client gets (CONNACK Server Keep Alive when it asked for more or none), whole seconds up to 65535.</summary>
    public TimeSpan MqttMaxKeepAlive { get; init; } = TimeSpan.FromSeconds(Broker.PlexusBrokerOptions.DefaultMaxKeepAlive);

    /// <summary>
    /// Admin token to use (its hash replaces the stored one); null keeps the stored token or generates one. At least
    /// <c>AdminTokenStore.MinTokenLength</c> (16) characters.
    /// </summary>
    public string? AdminToken { get; init; }

    /// <summary>
    /// Auto-provisioning: an unknown device connecting over MQTT with user name = its id and password = this key is
    /// registered (docs/devices.md#auto-provisioning). Null (the default) turns it off.
    /// </summary>
    public string? ProvisioningKey { get; init; }

    public long MaxBodyBytes { get; init; } = 25_000_000;

    /// <summary>Largest import body after decompression (<c>--max-import-size</c>).</summary>
    public long MaxImportBytes { get; init; } = Api.ApiOptions.DefaultMaxImportBytes;

    /// <summary>How far writes may grow the schema: namespaces, measurements, columns, and what one write may add (docs/configuration.md#schema-limits).</summary>
    public SchemaLimits SchemaLimits { get; init; } = SchemaLimits.Default;

    public TimeSpan QueryTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public int QueryMaxRows { get; init; } = 100_000;

    /// <summary>Bytes one query answer may hold; past it the answer ends flagged truncated.</summary>
    public long QueryMaxBytes { get; init; } = Query.QueryOptions.DefaultMaxBytes;

    /// <summary>Queries running at once; more wait briefly, then get 503 with Retry-After.</summary>
    public int QueryConcurrency { get; init; } = Query.QueryOptions.DefaultMaxConcurrent;

    public const int DefaultRulesMax = 10_000;
    public const int DefaultRulesQueue = 1024;
    public const int DefaultWebhookRetries = 3;
    public static readonly TimeSpan DefaultWebhookTimeout = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan DefaultRetentionCheckInterval = Storage.Retention.RetentionEnforcer.DefaultCheckInterval;

    /// <summary>How often the retention policies delete the rows they let expire (docs/storage.md#retention).</summary>
    public TimeSpan RetentionCheckInterval { get; init; } = DefaultRetentionCheckInterval;

    public static readonly TimeSpan DefaultRollupInterval = Storage.Rollups.RollupMaintainer.DefaultInterval;
    public const int DefaultRollupsMax = Storage.Rollups.RollupRegistry.DefaultMaxRollups;

    /// <summary>How often the rollups recompute the windows that writes and deletes touched (docs/storage.md#rollups).</summary>
    public TimeSpan RollupInterval { get; init; } = DefaultRollupInterval;

    /// <summary>Rollups one server keeps (docs/storage.md#rollups).</summary>
    public int RollupsMax { get; init; } = DefaultRollupsMax;

    /// <summary>When closed time partitions are compacted into Parquet files (docs/storage.md#hot-and-cold-tiers).</summary>
    public Storage.Cold.ColdTierOptions ColdTier { get; init; } = new();

    /// <summary>Rules one server keeps.</summary>
    public int RulesMax { get; init; } = DefaultRulesMax;

    /// <summary>Stored writes that may wait for the rule engine; past it a write's points are not evaluated (counted, logged).</summary>
    public int RulesQueue { get; init; } = DefaultRulesQueue;

    /// <summary>How often the rule engine's state (pending <c>for</c>, windows) is written while it changes; a crash loses at most this much (docs/rules.md#restarts).</summary>
    public TimeSpan RulesStateInterval { get; init; } = Rules.Engine.RuleStateOptions.DefaultInterval;

    /// <summary>How much rules' windows may hold: per device, per count_within, per rule across its devices (docs/rules.md#limits).</summary>
    public Rules.RuleLimits RuleLimits { get; init; } = Rules.RuleLimits.Default;

    /// <summary>Serve <c>GET /metrics</c> without a token (<c>--metrics-public</c>).</summary>
    public bool MetricsPublic { get; init; }

    /// <summary>The tile server behind the console's map (<c>--map-tiles</c>, <c>--map-attribution</c>); null: the packaged outline.</summary>
    public Api.MapTiles? MapTiles { get; init; }

    public const int DefaultLiveMaxClients = 100;

    /// <summary>Live device streams open at once (<c>--live-max-clients</c>).</summary>
    public int LiveMaxClients { get; init; } = DefaultLiveMaxClients;

    public const int DefaultLiveQueue = 1024;

    /// <summary>Points one live stream may fall behind before new ones are dropped for it (<c>--live-queue</c>).</summary>
    public int LiveQueue { get; init; } = DefaultLiveQueue;

    /// <summary>The largest desired-properties document of one device, in bytes of JSON (<c>--max-desired-bytes</c>).</summary>
    public int MaxDesiredBytes { get; init; } = Plexus.Devices.Twin.DesiredProperties.DefaultMaxBytes;

    /// <summary>The largest command payload and recorded answer, in bytes (<c>--max-command-bytes</c>).</summary>
    public int MaxCommandBytes { get; init; } = Plexus.Devices.Twin.DeviceCommandOptions.DefaultMaxBytes;

    /// <summary>The longest timeout a command may ask for (<c>--max-command-timeout</c>).</summary>
    public TimeSpan MaxCommandTimeout { get; init; } = Plexus.Devices.Twin.DeviceCommandOptions.DefaultMaxTimeout;

    /// <summary>Commands of one device waiting for an answer at once (<c>--max-pending-commands</c>).</summary>
    public int MaxPendingCommands { get; init; } = Plexus.Devices.Twin.DeviceCommandOptions.DefaultMaxPendingPerDevice;

    /// <summary>How long a finished command stays in <c>main.device_commands</c> (<c>--command-history-retention</c>).</summary>
    public TimeSpan CommandHistoryRetention { get; init; } = Plexus.Devices.Twin.DeviceCommandOptions.DefaultHistoryRetention;

    /// <summary>How long a webhook call may take unless its action says otherwise.</summary>
    public TimeSpan WebhookTimeout { get; init; } = DefaultWebhookTimeout;

    /// <summary>Retries of a failed webhook call (1 s, 2 s, 4 s... apart) before it becomes a dead letter.</summary>
    public int WebhookRetries { get; init; } = DefaultWebhookRetries;

    /// <summary>DuckDB memory limit such as "2GB"; null is DuckDB's default (80 % of RAM).</summary>
    public string? MemoryLimit { get; init; }

    /// <summary>
    /// The tag whose value is the device key in measurements: <c>device</c>, or per namespace
    /// <c>device,fleet=name</c> (see <c>Plexus.Devices.DeviceTagMap</c>).
    /// </summary>
    public string DeviceTag { get; init; } = "device";

    /// <summary>How long shutdown waits for requests in flight before closing their connections.</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(15);
}
