using System.CommandLine;
using System.Globalization;
using Plexus.Server;
using Plexus.Storage;
using Plexus.Storage.Cold;

namespace Plexus.Cli.Commands;

/// <summary>The options of `plexus serve`: each a flag, an environment variable and a config-file key.</summary>
internal static partial class ServeCommand
{
    private static readonly Option<string?> Data = new("--data") { Description = $"Data folder (env PLEXUS_DATA, default ./{PlexusServerOptions.DefaultDataDirectory})" };
    private static readonly Option<string?> Http = new("--http") { Description = $"HTTP listen address host:port (env PLEXUS_HTTP, default {PlexusServerOptions.DefaultHttpEndpoint})" };
    private static readonly Option<string?> HttpsCert = new("--https-cert") { Description = "PEM certificate: the HTTP port serves HTTPS only, /mqtt becomes WSS (env PLEXUS_HTTPS_CERT; default plain HTTP); needs --https-key" };
    private static readonly Option<string?> HttpsKey = new("--https-key") { Description = "PEM private key of the HTTPS certificate, not encrypted (env PLEXUS_HTTPS_KEY)" };
    private static readonly Option<string?> Mqtt = new("--mqtt") { Description = $"MQTT broker listen address host:port, or off (env PLEXUS_MQTT, default {PlexusServerOptions.DefaultMqttEndpoint})" };
    private static readonly Option<string?> MqttTls = new("--mqtt-tls") { Description = "MQTT over TLS listen address host:port, or off (env PLEXUS_MQTT_TLS, default off); needs --mqtt-tls-cert and --mqtt-tls-key" };
    private static readonly Option<string?> MqttTlsCert = new("--mqtt-tls-cert") { Description = "PEM certificate for the MQTT TLS listener (env PLEXUS_MQTT_TLS_CERT)" };
    private static readonly Option<string?> MqttTlsKey = new("--mqtt-tls-key") { Description = "PEM private key of that certificate, not encrypted (env PLEXUS_MQTT_TLS_KEY)" };
    private static readonly Option<string?> MqttClientCa = new("--mqtt-client-ca") { Description = "PEM file of the CAs whose client certificates authenticate devices on the MQTT TLS listener, CN = device id (env PLEXUS_MQTT_CLIENT_CA, default none: only registered certificates)" };
    private static readonly Option<string?> MqttMaxMessageSize = new("--mqtt-max-message-size") { Description = "Largest MQTT packet a client may send, e.g. 256KiB (env PLEXUS_MQTT_MAX_MESSAGE_SIZE, default 256KiB)" };
    private static readonly Option<string?> MqttMaxConnectSize = new("--mqtt-max-connect-size") { Description = "Largest MQTT CONNECT packet (the first packet of a connection), e.g. 64KiB (env PLEXUS_MQTT_MAX_CONNECT_SIZE, default 64KiB)" };
    private static readonly Option<string?> MqttConnectTimeout = new("--mqtt-connect-timeout") { Description = "Time a new MQTT connection has to send its whole CONNECT, TLS handshake included, e.g. 10s (env PLEXUS_MQTT_CONNECT_TIMEOUT, default 10s)" };
    private static readonly Option<string?> MqttMaxConnections = new("--mqtt-max-connections") { Description = "Most MQTT connections open at once over TCP, TLS and WebSocket (env PLEXUS_MQTT_MAX_CONNECTIONS, default 100000)" };
    private static readonly Option<string?> MqttMaxConnectionsPerIp = new("--mqtt-max-connections-per-ip") { Description = "Most MQTT connections open at once from one IP address (env PLEXUS_MQTT_MAX_CONNECTIONS_PER_IP, default 1000)" };
    private static readonly Option<string?> MqttMaxRetainedMessages = new("--mqtt-max-retained-messages") { Description = "Most retained MQTT messages kept (env PLEXUS_MQTT_MAX_RETAINED_MESSAGES, default 100000)" };
    private static readonly Option<string?> MqttMaxRetainedBytes = new("--mqtt-max-retained-bytes") { Description = "Most bytes of retained MQTT messages kept, e.g. 256MiB (env PLEXUS_MQTT_MAX_RETAINED_BYTES, default 256MiB)" };
    private static readonly Option<string?> MqttMaxRetainedMessagesPerClient = new("--mqtt-max-retained-messages-per-client") { Description = "Most retained MQTT messages one device or API token holds (env PLEXUS_MQTT_MAX_RETAINED_MESSAGES_PER_CLIENT, default 10000)" };
    private static readonly Option<string?> MqttMaxRetainedBytesPerClient = new("--mqtt-max-retained-bytes-per-client") { Description = "Most bytes of retained MQTT messages one device or API token holds, e.g. 32MiB (env PLEXUS_MQTT_MAX_RETAINED_BYTES_PER_CLIENT, default 32MiB)" };
    private static readonly Option<string?> MqttMaxRate = new("--mqtt-max-rate") { Description = "Messages per second one MQTT client may publish; 0 is unlimited (env PLEXUS_MQTT_MAX_RATE, default 0)" };
    private static readonly Option<string?> MqttAclFile = new("--mqtt-acl-file") { Description = "MQTT ACL file for applications, Mosquitto's format (user/topic/pattern); reloaded when it changes and on SIGHUP (env PLEXUS_MQTT_ACL_FILE, default none)" };
    private static readonly Option<string?> MqttReceiveMaximum = new("--mqtt-receive-maximum") { Description = "MQTT 5: QoS 1/2 messages a client may have unacknowledged at once (CONNACK Receive Maximum, 1 to 65535); more is disconnected with 0x93 (env PLEXUS_MQTT_RECEIVE_MAXIMUM, default 1024)" };
    private static readonly Option<string?> MqttMaxTopicAliases = new("--mqtt-max-topic-aliases") { Description = "MQTT 5: topic aliases a client may set, and the broker gives topics it sends to a client (CONNACK Topic Alias Maximum, 0 to 65535); a higher alias is disconnected with 0x94 (env PLEXUS_MQTT_MAX_TOPIC_ALIASES, default 10)" };
    private static readonly Option<string?> MqttMaxKeepAlive = new("--mqtt-max-keep-alive") { Description = "MQTT 5: longest keep-alive a client gets, e.g. 20m (1s to 65535s); one asking for more, or none, is told this in CONNACK (Server Keep Alive) (env PLEXUS_MQTT_MAX_KEEP_ALIVE, default 20m)" };
    private static readonly Option<string?> MqttMaxSessionStoreBytes = new("--mqtt-max-session-store-bytes") { Description = "Most bytes of persistent MQTT sessions (subscriptions, queued messages) saved in the data folder to survive a restart, e.g. 64MiB (env PLEXUS_MQTT_MAX_SESSION_STORE_BYTES, default 64MiB)" };
    private static readonly Option<string?> MqttMaxSessionExpiry = new("--mqtt-max-session-expiry") { Description = "Longest an MQTT session (subscriptions, queued messages) lives after its connection ended, e.g. 24h or 168h; a client asking for more gets this (env PLEXUS_MQTT_MAX_SESSION_EXPIRY, default 24h)" };
    private static readonly Option<string?> MqttMaxBurst = new("--mqtt-max-burst") { Description = "Messages a client may publish at once above --mqtt-max-rate (env PLEXUS_MQTT_MAX_BURST, default one second's worth)" };
    private static readonly Option<string?> Pg = new("--pg") { Description = $"PostgreSQL wire-protocol listen address host:port, or off (env PLEXUS_PG, default {PlexusServerOptions.DefaultPgEndpoint})" };
    private static readonly Option<string?> PgTlsCert = new("--pg-tls-cert") { Description = "PEM certificate the PostgreSQL listener offers to clients asking for TLS (env PLEXUS_PG_TLS_CERT; default none: TLS refused); needs --pg-tls-key" };
    private static readonly Option<string?> PgTlsKey = new("--pg-tls-key") { Description = "PEM private key of that certificate, not encrypted (env PLEXUS_PG_TLS_KEY)" };
    private static readonly Option<string?> PgAllowLoopbackCleartext = new("--pg-allow-loopback-cleartext") { Description = "true: PostgreSQL clients on 127.0.0.1 or ::1 may send their token without TLS (env PLEXUS_PG_ALLOW_LOOPBACK_CLEARTEXT, default false)" };
    private static readonly Option<string?> PgMaxConnections = new("--pg-max-connections") { Description = "Most PostgreSQL connections open at once (env PLEXUS_PG_MAX_CONNECTIONS, default 256)" };
    private static readonly Option<string?> PgMaxConnectionsPerIp = new("--pg-max-connections-per-ip") { Description = "Most PostgreSQL connections open at once from one IP address (env PLEXUS_PG_MAX_CONNECTIONS_PER_IP, default 64)" };
    private static readonly Option<string?> PgAuthTimeout = new("--pg-auth-timeout") { Description = "Time a new PostgreSQL connection has to authenticate, TLS handshake included, e.g. 10s (env PLEXUS_PG_AUTH_TIMEOUT, default 10s)" };
    private static readonly Option<string?> PgMaxMessageSize = new("--pg-max-message-size") { Description = "Largest message a PostgreSQL client may send (a query's text, a Bind), e.g. 1MiB (env PLEXUS_PG_MAX_MESSAGE_SIZE, default 1MiB)" };
    private static readonly Option<string?> AdminToken = new("--admin-token") { Description = "Admin token to use; its hash replaces the stored one (env PLEXUS_ADMIN_TOKEN; default: generated on first start and printed once)" };
    private static readonly Option<string?> ProvisioningKey = new("--provisioning-key") { Description = "Turns on auto-provisioning: an unknown device connecting over MQTT with its id as user name and this key as password is registered (env PLEXUS_PROVISIONING_KEY; default off)" };
    private static readonly Option<string?> MaxBodySize = new("--max-body-size") { Description = "Largest write body after decompression, e.g. 25MB (env PLEXUS_MAX_BODY_SIZE)" };
    private static readonly Option<string?> MaxImportSize = new("--max-import-size") { Description = "Largest import (POST /api/v1/import, plexus import) after decompression, e.g. 10GiB (env PLEXUS_MAX_IMPORT_SIZE)" };
    private static readonly Option<string?> MaxNamespaces = LimitOption(SchemaLimits.MaxNamespacesOption, "Most namespaces holding data, main included", SchemaLimits.Default.MaxNamespaces);
    private static readonly Option<string?> MaxMeasurementsPerNamespace = LimitOption(SchemaLimits.MaxMeasurementsPerNamespaceOption, "Most measurements in one namespace", SchemaLimits.Default.MaxMeasurementsPerNamespace);
    private static readonly Option<string?> MaxColumnsPerMeasurement = LimitOption(SchemaLimits.MaxColumnsPerMeasurementOption, "Most tag and field columns of one measurement", SchemaLimits.Default.MaxColumnsPerMeasurement);
    private static readonly Option<string?> MaxNewMeasurementsPerWrite = LimitOption(SchemaLimits.MaxNewMeasurementsPerWriteOption, "Most measurements one write may create", SchemaLimits.Default.MaxNewMeasurementsPerWrite);
    private static readonly Option<string?> MaxNewColumnsPerWrite = LimitOption(SchemaLimits.MaxNewColumnsPerWriteOption, "Most tag and field columns one write may create", SchemaLimits.Default.MaxNewColumnsPerWrite);
    private static readonly Option<string?> MaxNewSeriesPerWrite = LimitOption(SchemaLimits.MaxNewSeriesPerWriteOption, "Most series (tag sets) one write may create", SchemaLimits.Default.MaxNewSeriesPerWrite);
    private static readonly Option<string?> QueryTimeout = new("--query-timeout") { Description = "Queries running longer are cancelled, e.g. 30s (env PLEXUS_QUERY_TIMEOUT)" };
    private static readonly Option<string?> QueryMaxRows = new("--query-max-rows") { Description = "Most rows a query returns; more are cut and flagged truncated (env PLEXUS_QUERY_MAX_ROWS, default 100000)" };
    private static readonly Option<string?> QueryMaxBytes = new("--query-max-bytes") { Description = "Most bytes one query answer holds; past it the answer ends flagged truncated, e.g. 64MiB (env PLEXUS_QUERY_MAX_BYTES, default 64MiB)" };
    private static readonly Option<string?> RulesMax = new("--rules-max") { Description = "Rules one server keeps (env PLEXUS_RULES_MAX, default 10000)" };
    private static readonly Option<string?> RulesQueue = new("--rules-queue") { Description = "Stored writes waiting for the rule engine; past it a write's points are not evaluated, counted and logged (env PLEXUS_RULES_QUEUE, default 1024)" };
    private static readonly Option<string?> RulesStateInterval = new("--rules-state-interval") { Description = "How often the rules' state (pending for, windows, previous values) is written to the data folder while it changes; a stop always writes it, a crash loses at most this much (env PLEXUS_RULES_STATE_INTERVAL, default 1m)" };
    private static readonly Option<string?> RulesMaxWindowBytes = new("--rules-max-window-bytes") { Description = "Most the windows of one rule expression (count_within, anomaly) may hold per device, e.g. 64KiB; checked when a rule is saved (env PLEXUS_RULES_MAX_WINDOW_BYTES, default 64KiB)" };
    private static readonly Option<string?> RulesMaxCountWithin = new("--rules-max-count-within") { Description = "Point times one count_within call keeps per device; a count past it stays at it (env PLEXUS_RULES_MAX_COUNT_WITHIN, default 4096)" };
    private static readonly Option<string?> RulesMaxStateBytes = new("--rules-max-state-bytes") { Description = "Most one rule's windows may hold across its devices, at their fullest; past it the rule tracks no new device, counted and logged (env PLEXUS_RULES_MAX_STATE_BYTES, default 1GiB)" };
    private static readonly Option<string?> RetentionCheckInterval = new("--retention-check-interval") { Description = "How often retention policies delete expired rows (env PLEXUS_RETENTION_CHECK_INTERVAL, default 10m)" };
    private static readonly Option<string?> RollupInterval = new("--rollup-interval") { Description = "How often the rollups recompute the windows new, late and deleted points touched; a rollup is at most about this much behind its raw rows (env PLEXUS_ROLLUP_INTERVAL, default 10s)" };
    private static readonly Option<string?> RollupsMax = new("--rollups-max") { Description = "Rollups one server keeps (env PLEXUS_ROLLUPS_MAX, default 100)" };
    private static readonly Option<string?> Compaction = new("--compaction") { Description = "true: closed time partitions are compacted into Parquet files, the cold tier (env PLEXUS_COMPACTION, default true)" };
    private static readonly Option<string?> PartitionSpan = new("--partition-span") { Description = "The time range of one partition of a measurement, aligned to UTC, at least 1m (env PLEXUS_PARTITION_SPAN, default 1d)" };
    private static readonly Option<string?> CompactionGrace = new("--compaction-grace") { Description = "How long after its end a partition takes late points in the hot store before it is compacted (env PLEXUS_COMPACTION_GRACE, default 1h)" };
    private static readonly Option<string?> CompactionCheckInterval = new("--compaction-check-interval") { Description = "How often closed partitions are compacted; the first check is one interval after start (env PLEXUS_COMPACTION_CHECK_INTERVAL, default 10m)" };
    private static readonly Option<string?> MetricsPublic = new("--metrics-public") { Description = "true: GET /metrics answers without a token, for a scraper on a trusted network (env PLEXUS_METRICS_PUBLIC, default false)" };
    private static readonly Option<string?> MapTilesOption = new("--map-tiles") { Description = "A tile server for the console's map, e.g. https://tile.example.org/{z}/{x}/{y}.png (env PLEXUS_MAP_TILES; default none: the land outline packaged with Plexus, nothing loaded from elsewhere)" };
    private static readonly Option<string?> MapAttribution = new("--map-attribution") { Description = "The credit the tile provider requires, shown under the map (env PLEXUS_MAP_ATTRIBUTION)" };
    private static readonly Option<string?> LiveMaxClients = new("--live-max-clients") { Description = "Live device streams (the console's live charts) open at once (env PLEXUS_LIVE_MAX_CLIENTS, default 100)" };
    private static readonly Option<string?> MaxDesiredBytes = new("--max-desired-bytes") { Description = "Largest desired-properties document of one device, in bytes of JSON, e.g. 64KiB (env PLEXUS_MAX_DESIRED_BYTES, default 64KiB)" };
    private static readonly Option<string?> MaxCommandBytes = new("--max-command-bytes") { Description = "Largest command payload and recorded device answer, e.g. 64KiB (env PLEXUS_MAX_COMMAND_BYTES, default 64KiB)" };
    private static readonly Option<string?> MaxCommandTimeout = new("--max-command-timeout") { Description = "Longest timeout a command may ask for, e.g. 1h (env PLEXUS_MAX_COMMAND_TIMEOUT, default 1h)" };
    private static readonly Option<string?> MaxPendingCommands = new("--max-pending-commands") { Description = "Commands of one device waiting for an answer at once (env PLEXUS_MAX_PENDING_COMMANDS, default 100)" };
    private static readonly Option<string?> CommandHistoryRetention = new("--command-history-retention") { Description = "How long finished commands (succeeded, failed, timed out) stay in main.device_commands, e.g. 30d (env PLEXUS_COMMAND_HISTORY_RETENTION, default 30d)" };
    private static readonly Option<string?> LiveQueue = new("--live-queue") { Description = "Points a live stream's client may fall behind before new ones are dropped for it (env PLEXUS_LIVE_QUEUE, default 1024)" };
    private static readonly Option<string?> WebhookTimeout = new("--webhook-timeout") { Description = "How long a rule's webhook call may take, unless the action sets its own (env PLEXUS_WEBHOOK_TIMEOUT, default 5s)" };
    private static readonly Option<string?> WebhookRetries = new("--webhook-retries") { Description = "Retries of a failed webhook call, 1 s, 2 s, 4 s... apart, before it becomes a dead letter (env PLEXUS_WEBHOOK_RETRIES, default 3)" };
    private static readonly Option<string?> QueryConcurrency = new("--query-concurrency") { Description = "Queries running at once; more wait up to 2 s, then get 503 with Retry-After (env PLEXUS_QUERY_CONCURRENCY, default twice the cores, at least 4)" };
    private static readonly Option<string?> MemoryLimit = new("--memory-limit") { Description = "Storage engine memory limit, e.g. 2GB (env PLEXUS_MEMORY_LIMIT, default 80% of RAM)" };
    private static readonly Option<string?> DeviceTag = new("--device-tag") { Description = "Tag holding the device key in measurements: a tag, and/or namespace=tag entries, e.g. device,fleet=name (env PLEXUS_DEVICE_TAG, default device)" };
    private static readonly Option<string?> LogLevel = new("--log-level") { Description = "trace, debug, information, warning or error (env PLEXUS_LOG_LEVEL, default information)" };
    private static readonly Option<bool> Demo = new("--demo") { Description = "Register a small demo fleet (tag demo=true) and keep it publishing over MQTT; remove it with plexus demo remove (env PLEXUS_DEMO=true, config key demo)" };
    private static readonly Option<string?> Config = new("--config") { Description = "JSON config file whose keys are these option names without dashes (env PLEXUS_CONFIG)" };

    /// <summary>A schema limit (<see cref="SchemaLimits"/>): flag --name, env PLEXUS_NAME, config key name.</summary>
    private static Option<string?> LimitOption(string name, string what, int fallback) =>
        new("--" + name) { Description = $"{what} (env {EnvironmentName(name)}, default {fallback.ToString(CultureInfo.InvariantCulture)})" };

    private static string EnvironmentName(string option) => "PLEXUS_" + option.Replace('-', '_').ToUpperInvariant();

    /// <summary>
    /// A value from, first to last, its flag, its environment variable or its key in the config file (the option's
    /// name without dashes).
    /// </summary>
    private static string? Value(ParseResult parse, ServeSettings settings, Option<string?> option, string env) =>
        parse.GetValue(option) ?? Environment.GetEnvironmentVariable(env) ?? settings.Get(option.Name.TrimStart('-'));

    /// <summary>
    /// Every option read and checked before anything starts; a bad value throws an <see cref="ArgumentException"/> or
    /// <see cref="FormatException"/> whose message names the option.
    /// </summary>
    private static PlexusServerOptions ReadOptions(ParseResult parse, ServeSettings settings)
    {
        string? Get(Option<string?> option, string env) => Value(parse, settings, option, env);
        int Limit(Option<string?> option, int fallback)
        {
            string name = option.Name.TrimStart('-');
            return Get(option, EnvironmentName(name)) is { } value ? Units.ParsePositiveInt(value, name) : fallback;
        }

        var options = new PlexusServerOptions
        {
            DataDirectory = Get(Data, "PLEXUS_DATA") ?? PlexusServerOptions.DefaultDataDirectory,
            HttpEndpoint = Get(Http, "PLEXUS_HTTP") ?? PlexusServerOptions.DefaultHttpEndpoint,
            HttpsCertificate = Get(HttpsCert, "PLEXUS_HTTPS_CERT"),
            HttpsKey = Get(HttpsKey, "PLEXUS_HTTPS_KEY"),
            MqttEndpoint = Get(Mqtt, "PLEXUS_MQTT") ?? PlexusServerOptions.DefaultMqttEndpoint,
            MqttTlsEndpoint = Get(MqttTls, "PLEXUS_MQTT_TLS"),
            MqttTlsCertificate = Get(MqttTlsCert, "PLEXUS_MQTT_TLS_CERT"),
            MqttTlsKey = Get(MqttTlsKey, "PLEXUS_MQTT_TLS_KEY"),
            MqttClientCa = Get(MqttClientCa, "PLEXUS_MQTT_CLIENT_CA"),
            MqttAclFile = Get(MqttAclFile, "PLEXUS_MQTT_ACL_FILE"),
            MqttMaxMessageSize = Get(MqttMaxMessageSize, "PLEXUS_MQTT_MAX_MESSAGE_SIZE") is { } mqttSize ? Units.ParseBytes(mqttSize, "mqtt-max-message-size") : 256 * 1024,
            MqttMaxConnectSize = Get(MqttMaxConnectSize, "PLEXUS_MQTT_MAX_CONNECT_SIZE") is { } connectSize ? Units.ParseBytes(connectSize, "mqtt-max-connect-size") : Broker.PlexusBrokerOptions.DefaultMaxConnectSize,
            MqttConnectTimeout = Get(MqttConnectTimeout, "PLEXUS_MQTT_CONNECT_TIMEOUT") is { } connectTimeout ? Units.ParseDuration(connectTimeout, "mqtt-connect-timeout") : Broker.PlexusBrokerOptions.DefaultConnectTimeout,
            MqttMaxConnections = Get(MqttMaxConnections, "PLEXUS_MQTT_MAX_CONNECTIONS") is { } connections ? Units.ParsePositiveInt(connections, "mqtt-max-connections") : Broker.PlexusBrokerOptions.DefaultMaxConnections,
            MqttMaxConnectionsPerIp = Get(MqttMaxConnectionsPerIp, "PLEXUS_MQTT_MAX_CONNECTIONS_PER_IP") is { } perIp ? Units.ParsePositiveInt(perIp, "mqtt-max-connections-per-ip") : Broker.PlexusBrokerOptions.DefaultMaxConnectionsPerIp,
            MqttMaxRetainedMessages = Get(MqttMaxRetainedMessages, "PLEXUS_MQTT_MAX_RETAINED_MESSAGES") is { } retained ? Units.ParsePositiveInt(retained, "mqtt-max-retained-messages") : Broker.PlexusBrokerOptions.DefaultMaxRetainedMessages,
            MqttMaxRetainedBytes = Get(MqttMaxRetainedBytes, "PLEXUS_MQTT_MAX_RETAINED_BYTES") is { } retainedBytes ? Units.ParseBytes(retainedBytes, "mqtt-max-retained-bytes") : Broker.PlexusBrokerOptions.DefaultMaxRetainedBytes,
            MqttMaxSessionStoreBytes = Get(MqttMaxSessionStoreBytes, "PLEXUS_MQTT_MAX_SESSION_STORE_BYTES") is { } sessionBytes ? Units.ParseBytes(sessionBytes, "mqtt-max-session-store-bytes") : Broker.PlexusBrokerOptions.DefaultMaxSessionStoreBytes,
            MqttMaxRetainedMessagesPerClient = Get(MqttMaxRetainedMessagesPerClient, "PLEXUS_MQTT_MAX_RETAINED_MESSAGES_PER_CLIENT") is { } retainedPerClient ? Units.ParsePositiveInt(retainedPerClient, "mqtt-max-retained-messages-per-client") : Broker.PlexusBrokerOptions.DefaultMaxRetainedMessagesPerClient,
            MqttMaxRetainedBytesPerClient = Get(MqttMaxRetainedBytesPerClient, "PLEXUS_MQTT_MAX_RETAINED_BYTES_PER_CLIENT") is { } retainedBytesPerClient ? Units.ParseBytes(retainedBytesPerClient, "mqtt-max-retained-bytes-per-client") : Broker.PlexusBrokerOptions.DefaultMaxRetainedBytesPerClient,
            MqttMaxRate = Get(MqttMaxRate, "PLEXUS_MQTT_MAX_RATE") is { } rate ? Units.ParseRate(rate, "mqtt-max-rate") : 0,
            MqttMaxBurst = Get(MqttMaxBurst, "PLEXUS_MQTT_MAX_BURST") is { } burst ? Units.ParsePositiveInt(burst, "mqtt-max-burst") : 0,
            MqttReceiveMaximum = Get(MqttReceiveMaximum, "PLEXUS_MQTT_RECEIVE_MAXIMUM") is { } receiveMaximum ? Units.ParseMqttCount(receiveMaximum, "mqtt-receive-maximum", 1) : Broker.PlexusBrokerOptions.DefaultReceiveMaximum,
            MqttMaxTopicAliases = Get(MqttMaxTopicAliases, "PLEXUS_MQTT_MAX_TOPIC_ALIASES") is { } topicAliases ? Units.ParseMqttCount(topicAliases, "mqtt-max-topic-aliases", 0) : Broker.PlexusBrokerOptions.DefaultTopicAliasMaximum,
            MqttMaxSessionExpiry = Get(MqttMaxSessionExpiry, "PLEXUS_MQTT_MAX_SESSION_EXPIRY") is { } sessionExpiry ? Units.ParseSessionExpiry(sessionExpiry, "mqtt-max-session-expiry") : TimeSpan.FromSeconds(Broker.PlexusBrokerOptions.DefaultMaxSessionExpiry),
            MqttMaxKeepAlive = Get(MqttMaxKeepAlive, "PLEXUS_MQTT_MAX_KEEP_ALIVE") is { } keepAlive ? Units.ParseKeepAlive(keepAlive, "mqtt-max-keep-alive") : TimeSpan.FromSeconds(Broker.PlexusBrokerOptions.DefaultMaxKeepAlive),
            PgEndpoint = Get(Pg, "PLEXUS_PG") ?? PlexusServerOptions.DefaultPgEndpoint,
            PgTlsCertificate = Get(PgTlsCert, "PLEXUS_PG_TLS_CERT"),
            PgTlsKey = Get(PgTlsKey, "PLEXUS_PG_TLS_KEY"),
            PgAllowLoopbackCleartext = Get(PgAllowLoopbackCleartext, "PLEXUS_PG_ALLOW_LOOPBACK_CLEARTEXT") is { } cleartext && Units.ParseBoolean(cleartext, "pg-allow-loopback-cleartext"),
            PgMaxConnections = Get(PgMaxConnections, "PLEXUS_PG_MAX_CONNECTIONS") is { } pgConnections ? Units.ParsePositiveInt(pgConnections, "pg-max-connections") : PgWire.PgWireOptions.DefaultMaxConnections,
            PgMaxConnectionsPerIp = Get(PgMaxConnectionsPerIp, "PLEXUS_PG_MAX_CONNECTIONS_PER_IP") is { } pgPerIp ? Units.ParsePositiveInt(pgPerIp, "pg-max-connections-per-ip") : PgWire.PgWireOptions.DefaultMaxConnectionsPerIp,
            PgAuthTimeout = Get(PgAuthTimeout, "PLEXUS_PG_AUTH_TIMEOUT") is { } pgTimeout ? Units.ParseDuration(pgTimeout, "pg-auth-timeout") : PgWire.PgWireOptions.DefaultAuthenticationTimeout,
            PgMaxMessageSize = Get(PgMaxMessageSize, "PLEXUS_PG_MAX_MESSAGE_SIZE") is { } pgSize ? Units.ParseBytes(pgSize, "pg-max-message-size") : PgWire.PgWireOptions.DefaultMaxMessageSize,
            AdminToken = Get(AdminToken, "PLEXUS_ADMIN_TOKEN"),
            ProvisioningKey = Get(ProvisioningKey, "PLEXUS_PROVISIONING_KEY") is { Length: > 0 } key ? key : null,
            MaxBodyBytes = Get(MaxBodySize, "PLEXUS_MAX_BODY_SIZE") is { } size ? Units.ParseBytes(size, "max-body-size") : 25_000_000,
            MaxImportBytes = Get(MaxImportSize, "PLEXUS_MAX_IMPORT_SIZE") is { } importSize ? Units.ParseBytes(importSize, "max-import-size") : Api.ApiOptions.DefaultMaxImportBytes,
            SchemaLimits = new SchemaLimits
            {
                MaxNamespaces = Limit(MaxNamespaces, SchemaLimits.Default.MaxNamespaces),
                MaxMeasurementsPerNamespace = Limit(MaxMeasurementsPerNamespace, SchemaLimits.Default.MaxMeasurementsPerNamespace),
                MaxColumnsPerMeasurement = Limit(MaxColumnsPerMeasurement, SchemaLimits.Default.MaxColumnsPerMeasurement),
                MaxNewMeasurementsPerWrite = Limit(MaxNewMeasurementsPerWrite, SchemaLimits.Default.MaxNewMeasurementsPerWrite),
                MaxNewColumnsPerWrite = Limit(MaxNewColumnsPerWrite, SchemaLimits.Default.MaxNewColumnsPerWrite),
                MaxNewSeriesPerWrite = Limit(MaxNewSeriesPerWrite, SchemaLimits.Default.MaxNewSeriesPerWrite),
            },
            QueryTimeout = Get(QueryTimeout, "PLEXUS_QUERY_TIMEOUT") is { } timeout ? Units.ParseDuration(timeout, "query-timeout") : TimeSpan.FromSeconds(30),
            QueryMaxRows = Get(QueryMaxRows, "PLEXUS_QUERY_MAX_ROWS") is { } rows ? Units.ParsePositiveInt(rows, "query-max-rows") : 100_000,
            QueryMaxBytes = Get(QueryMaxBytes, "PLEXUS_QUERY_MAX_BYTES") is { } maxBytes ? Units.ParseBytes(maxBytes, "query-max-bytes") : Query.QueryOptions.DefaultMaxBytes,
            QueryConcurrency = Get(QueryConcurrency, "PLEXUS_QUERY_CONCURRENCY") is { } concurrency ? Units.ParsePositiveInt(concurrency, "query-concurrency") : Query.QueryOptions.DefaultMaxConcurrent,
            RulesMax = Get(RulesMax, "PLEXUS_RULES_MAX") is { } rulesMax ? Units.ParsePositiveInt(rulesMax, "rules-max") : PlexusServerOptions.DefaultRulesMax,
            RulesQueue = Get(RulesQueue, "PLEXUS_RULES_QUEUE") is { } rulesQueue ? Units.ParsePositiveInt(rulesQueue, "rules-queue") : PlexusServerOptions.DefaultRulesQueue,
            RulesStateInterval = Get(RulesStateInterval, "PLEXUS_RULES_STATE_INTERVAL") is { } rulesStateInterval ? Units.ParseDuration(rulesStateInterval, "rules-state-interval") : Rules.Engine.RuleStateOptions.DefaultInterval,
            RuleLimits = new Rules.RuleLimits
            {
                WindowBytesPerDevice = Get(RulesMaxWindowBytes, "PLEXUS_RULES_MAX_WINDOW_BYTES") is { } windowBytes ? ParseIntRange(Units.ParseBytes(windowBytes, "rules-max-window-bytes"), 8, int.MaxValue, "rules-max-window-bytes", windowBytes) : Rules.RuleLimits.DefaultWindowBytesPerDevice,
                CountWithinTimes = Get(RulesMaxCountWithin, "PLEXUS_RULES_MAX_COUNT_WITHIN") is { } countWithin ? ParseIntRange(Units.ParsePositiveInt(countWithin, "rules-max-count-within"), 1, 1 << 24, "rules-max-count-within", countWithin) : Rules.RuleLimits.DefaultCountWithinTimes,
                StateBytesPerRule = Get(RulesMaxStateBytes, "PLEXUS_RULES_MAX_STATE_BYTES") is { } stateBytes ? Units.ParseBytes(stateBytes, "rules-max-state-bytes") : Rules.RuleLimits.DefaultStateBytesPerRule,
            },
            RetentionCheckInterval = Get(RetentionCheckInterval, "PLEXUS_RETENTION_CHECK_INTERVAL") is { } retentionInterval ? Units.ParseDuration(retentionInterval, "retention-check-interval") : PlexusServerOptions.DefaultRetentionCheckInterval,
            RollupInterval = Get(RollupInterval, "PLEXUS_ROLLUP_INTERVAL") is { } rollupInterval ? Units.ParseDuration(rollupInterval, "rollup-interval") : PlexusServerOptions.DefaultRollupInterval,
            RollupsMax = Get(RollupsMax, "PLEXUS_ROLLUPS_MAX") is { } rollupsMax ? Units.ParsePositiveInt(rollupsMax, "rollups-max") : PlexusServerOptions.DefaultRollupsMax,
            ColdTier = new ColdTierOptions
            {
                Enabled = Get(Compaction, "PLEXUS_COMPACTION") is not { } compaction || Units.ParseBoolean(compaction, "compaction"),
                PartitionSpan = Get(PartitionSpan, "PLEXUS_PARTITION_SPAN") is { } span ? Units.ParseDuration(span, "partition-span") : ColdTierOptions.DefaultPartitionSpan,
                Grace = Get(CompactionGrace, "PLEXUS_COMPACTION_GRACE") is { } grace ? Units.ParseDuration(grace, "compaction-grace") : ColdTierOptions.DefaultGrace,
                CheckInterval = Get(CompactionCheckInterval, "PLEXUS_COMPACTION_CHECK_INTERVAL") is { } compactionInterval ? Units.ParseDuration(compactionInterval, "compaction-check-interval") : ColdTierOptions.DefaultCheckInterval,
            },
            WebhookTimeout = Get(WebhookTimeout, "PLEXUS_WEBHOOK_TIMEOUT") is { } webhookTimeout ? Units.ParseDuration(webhookTimeout, "webhook-timeout") : PlexusServerOptions.DefaultWebhookTimeout,
            WebhookRetries = Get(WebhookRetries, "PLEXUS_WEBHOOK_RETRIES") is { } webhookRetries ? ParseRetries(webhookRetries) : PlexusServerOptions.DefaultWebhookRetries,
            MemoryLimit = Get(MemoryLimit, "PLEXUS_MEMORY_LIMIT"),
            DeviceTag = Get(DeviceTag, "PLEXUS_DEVICE_TAG") ?? Devices.DeviceTagMap.DefaultTag,
            MetricsPublic = Get(MetricsPublic, "PLEXUS_METRICS_PUBLIC") is { } metricsPublic && Units.ParseBoolean(metricsPublic, "metrics-public"),
            MapTiles = Get(MapTilesOption, "PLEXUS_MAP_TILES") is { } mapTiles ? Api.MapTiles.Parse(mapTiles, Get(MapAttribution, "PLEXUS_MAP_ATTRIBUTION")) : null,
            LiveMaxClients = Get(LiveMaxClients, "PLEXUS_LIVE_MAX_CLIENTS") is { } liveClients ? Units.ParsePositiveInt(liveClients, "live-max-clients") : PlexusServerOptions.DefaultLiveMaxClients,
            LiveQueue = Get(LiveQueue, "PLEXUS_LIVE_QUEUE") is { } liveQueue ? Units.ParsePositiveInt(liveQueue, "live-queue") : PlexusServerOptions.DefaultLiveQueue,
            MaxDesiredBytes = Get(MaxDesiredBytes, "PLEXUS_MAX_DESIRED_BYTES") is { } desiredBytes ? (int)Math.Clamp(Units.ParseBytes(desiredBytes, "max-desired-bytes"), 2, 16 << 20) : Plexus.Devices.Twin.DesiredProperties.DefaultMaxBytes,
            MaxCommandBytes = Get(MaxCommandBytes, "PLEXUS_MAX_COMMAND_BYTES") is { } commandBytes ? (int)Math.Clamp(Units.ParseBytes(commandBytes, "max-command-bytes"), 4, 16 << 20) : Plexus.Devices.Twin.DeviceCommandOptions.DefaultMaxBytes,
            MaxCommandTimeout = Get(MaxCommandTimeout, "PLEXUS_MAX_COMMAND_TIMEOUT") is { } commandTimeout ? Units.ParseDuration(commandTimeout, "max-command-timeout") : Plexus.Devices.Twin.DeviceCommandOptions.DefaultMaxTimeout,
            MaxPendingCommands = Get(MaxPendingCommands, "PLEXUS_MAX_PENDING_COMMANDS") is { } pendingCommands ? Units.ParsePositiveInt(pendingCommands, "max-pending-commands") : Plexus.Devices.Twin.DeviceCommandOptions.DefaultMaxPendingPerDevice,
            CommandHistoryRetention = Get(CommandHistoryRetention, "PLEXUS_COMMAND_HISTORY_RETENTION") is { } commandRetention ? Units.ParseDuration(commandRetention, "command-history-retention") : Plexus.Devices.Twin.DeviceCommandOptions.DefaultHistoryRetention,
        };
        if (options.MapTiles is null && Get(MapAttribution, "PLEXUS_MAP_ATTRIBUTION") is not null)
        {
            throw new FormatException("map-attribution: credits a tile server; give --map-tiles too");
        }

        Devices.DeviceTagMap.Parse(options.DeviceTag);
        PlexusServer.ParseEndpoint(options.HttpEndpoint);
        if (options.AdminToken is { Length: > 0 } adminToken && !Api.Auth.AdminTokenStore.IsLongEnough(adminToken, out string? tokenProblem))
        {
            throw new ArgumentException(tokenProblem);
        }

        if ((options.HttpsCertificate is null) != (options.HttpsKey is null))
        {
            throw new ArgumentException("https-cert and https-key: HTTPS needs both, the PEM certificate and its private key");
        }

        if (options.ProvisioningKey is { Length: < 16 })
        {
            throw new ArgumentException("provisioning-key: the key must be at least 16 characters; it is the one secret that lets unknown devices register (e.g. openssl rand -base64 32)");
        }

        if (!PlexusServer.IsOff(options.MqttEndpoint))
        {
            PlexusServer.ParseEndpoint(options.MqttEndpoint!);
        }

        if (!PlexusServer.IsOff(options.PgEndpoint))
        {
            PlexusServer.ParseEndpoint(options.PgEndpoint!);
        }

        if ((options.PgTlsCertificate is null) != (options.PgTlsKey is null))
        {
            throw new ArgumentException("pg-tls-cert and pg-tls-key: TLS for PostgreSQL clients needs both, the PEM certificate and its private key");
        }

        if (options.PgMaxMessageSize is < 1024 or > 256 * 1024 * 1024)
        {
            throw new ArgumentException($"pg-max-message-size: {options.PgMaxMessageSize} bytes is outside 1KiB to 256MiB");
        }

        if (!PlexusServer.IsOff(options.MqttTlsEndpoint))
        {
            PlexusServer.ParseEndpoint(options.MqttTlsEndpoint!);
            if (PlexusServer.IsOff(options.MqttEndpoint))
            {
                throw new ArgumentException("mqtt-tls: the TLS listener is part of the MQTT broker, which --mqtt off turns off");
            }
        }

        return options;
    }

    private static int ParseIntRange(long value, int min, int max, string name, string text) =>
        value >= min && value <= max ? (int)value : throw new ArgumentException($"{name}: \"{text}\" is not from {min:N0} to {max:N0}");

    private static int ParseRetries(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int retries) && retries <= 10
            ? retries
            : throw new ArgumentException($"webhook-retries: \"{value}\" is not a whole number from 0 to 10");
}
