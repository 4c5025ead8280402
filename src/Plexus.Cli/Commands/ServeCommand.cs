using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Plexus.Server;
using Plexus.Storage;
using Plexus.Storage.Cold;

namespace Plexus.Cli.Commands;

/// <summary>`plexus serve`: runs the server on the embedded store until SIGINT or SIGTERM.</summary>
internal static class ServeCommand
{
    private static readonly Option<string?> Data = new("--data") { Description = $"Data folder (env PLEXUS_DATA, default ./{PlexusServerOptions.DefaultDataDirectory})" };
    private static readonly Option<string?> Http = new("--http") { Description = $"HTTP listen address host:port (env PLEXUS_HTTP, default {PlexusServerOptions.DefaultHttpEndpoint})" };
    private static readonly Option<string?> HttpsCert = new("--https-cert") { Description = "PEM certificate: the HTTP port serves HTTPS only, /mqtt becomes WSS (env PLEXUS_HTTPS_CERT; default plain HTTP); needs --https-key" };
    private static readonly Option<string?> HttpsKey = new("--https-key") { Description = "PEM private key of the HTTPS certificate, not encrypted (env PLEXUS_HTTPS_KEY)" };
    private static readonly Option<string?> Mqtt = new("--mqtt") { Description = $"MQTT broker listen address host:port, or off (env PLEXUS_MQTT, default {PlexusServerOptions.DefaultMqttEndpoint})" };
    private static readonly Option<string?> MqttTls = new("--mqtt-tls") { Description = "MQTT over TLS listen address host:port, or off (env PLEXUS_MQTT_TLS, default off); needs --mqtt-tls-cert and --mqtt-tls-key" };
    private static readonly Option<string?> MqttTlsCert = new("--mqtt-tls-cert") { Description = "PEM certificate for the MQTT TLS listener (env PLEXUS_MQTT_TLS_CERT)" };
    private static readonly Option<string?> MqttTlsKey = new("--mqtt-tls-key") { Description = "PEM private key of that certificate, not encrypted (env PLEXUS_MQTT_TLS_KEY)" };
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
    private static readonly Option<string?> RetentionCheckInterval = new("--retention-check-interval") { Description = "How often retention policies delete expired rows (env PLEXUS_RETENTION_CHECK_INTERVAL, default 10m)" };
    private static readonly Option<string?> Compaction = new("--compaction") { Description = "true: closed time partitions are compacted into Parquet files, the cold tier (env PLEXUS_COMPACTION, default true)" };
    private static readonly Option<string?> PartitionSpan = new("--partition-span") { Description = "The time range of one partition of a measurement, aligned to UTC, at least 1m (env PLEXUS_PARTITION_SPAN, default 1d)" };
    private static readonly Option<string?> CompactionGrace = new("--compaction-grace") { Description = "How long after its end a partition takes late points in the hot store before it is compacted (env PLEXUS_COMPACTION_GRACE, default 1h)" };
    private static readonly Option<string?> CompactionCheckInterval = new("--compaction-check-interval") { Description = "How often closed partitions are compacted; the first check is one interval after start (env PLEXUS_COMPACTION_CHECK_INTERVAL, default 10m)" };
    private static readonly Option<string?> MetricsPublic = new("--metrics-public") { Description = "true: GET /metrics answers without a token, for a scraper on a trusted network (env PLEXUS_METRICS_PUBLIC, default false)" };
    private static readonly Option<string?> MapTilesOption = new("--map-tiles") { Description = "A tile server for the console's map, e.g. https://tile.example.org/{z}/{x}/{y}.png (env PLEXUS_MAP_TILES; default none: the land outline packaged with Plexus, nothing loaded from elsewhere)" };
    private static readonly Option<string?> MapAttribution = new("--map-attribution") { Description = "The credit the tile provider requires, shown under the map (env PLEXUS_MAP_ATTRIBUTION)" };
    private static readonly Option<string?> LiveMaxClients = new("--live-max-clients") { Description = "Live device streams (the console's live charts) open at once (env PLEXUS_LIVE_MAX_CLIENTS, default 100)" };
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

    public static Command Create()
    {
        var command = new Command("serve", "Run the Plexus server with the embedded store.");
        foreach (var option in new[] { Data, Http, HttpsCert, HttpsKey, Mqtt, MqttTls, MqttTlsCert, MqttTlsKey, MqttMaxMessageSize, MqttMaxConnectSize, MqttConnectTimeout, MqttMaxConnections, MqttMaxConnectionsPerIp, MqttMaxRetainedMessages, MqttMaxRetainedBytes, MqttMaxRetainedMessagesPerClient, MqttMaxRetainedBytesPerClient, MqttMaxRate, MqttMaxBurst, MqttReceiveMaximum, MqttMaxTopicAliases, MqttMaxKeepAlive, MqttMaxSessionExpiry, MqttAclFile, Pg, PgTlsCert, PgTlsKey, PgAllowLoopbackCleartext, PgMaxConnections, PgMaxConnectionsPerIp, PgAuthTimeout, PgMaxMessageSize, AdminToken, ProvisioningKey, MaxBodySize, MaxNamespaces, MaxMeasurementsPerNamespace, MaxColumnsPerMeasurement, MaxNewMeasurementsPerWrite, MaxNewColumnsPerWrite, MaxNewSeriesPerWrite, QueryTimeout, QueryMaxRows, QueryMaxBytes, QueryConcurrency, RulesMax, RulesQueue, WebhookTimeout, WebhookRetries, RetentionCheckInterval, Compaction, PartitionSpan, CompactionGrace, CompactionCheckInterval, MemoryLimit, DeviceTag, LogLevel, MetricsPublic, MapTilesOption, MapAttribution, LiveMaxClients, LiveQueue, Config })
        {
            command.Options.Add(option);
        }

        command.Options.Add(Demo);
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        ServeSettings settings;
        PlexusServerOptions options;
        bool demo;
        try
        {
            settings = ServeSettings.Load(parse.GetValue(Config) ?? Environment.GetEnvironmentVariable("PLEXUS_CONFIG"));
            string? Get(Option<string?> option, string env) => parse.GetValue(option) ?? Environment.GetEnvironmentVariable(env) ?? settings.Get(option.Name.TrimStart('-'));
            int Limit(Option<string?> option, int fallback)
            {
                string name = option.Name.TrimStart('-');
                return Get(option, EnvironmentName(name)) is { } value ? Units.ParsePositiveInt(value, name) : fallback;
            }

            options = new PlexusServerOptions
            {
                DataDirectory = Get(Data, "PLEXUS_DATA") ?? PlexusServerOptions.DefaultDataDirectory,
                HttpEndpoint = Get(Http, "PLEXUS_HTTP") ?? PlexusServerOptions.DefaultHttpEndpoint,
                HttpsCertificate = Get(HttpsCert, "PLEXUS_HTTPS_CERT"),
                HttpsKey = Get(HttpsKey, "PLEXUS_HTTPS_KEY"),
                MqttEndpoint = Get(Mqtt, "PLEXUS_MQTT") ?? PlexusServerOptions.DefaultMqttEndpoint,
                MqttTlsEndpoint = Get(MqttTls, "PLEXUS_MQTT_TLS"),
                MqttTlsCertificate = Get(MqttTlsCert, "PLEXUS_MQTT_TLS_CERT"),
                MqttTlsKey = Get(MqttTlsKey, "PLEXUS_MQTT_TLS_KEY"),
                MqttAclFile = Get(MqttAclFile, "PLEXUS_MQTT_ACL_FILE"),
                MqttMaxMessageSize = Get(MqttMaxMessageSize, "PLEXUS_MQTT_MAX_MESSAGE_SIZE") is { } mqttSize ? Units.ParseBytes(mqttSize, "mqtt-max-message-size") : 256 * 1024,
                MqttMaxConnectSize = Get(MqttMaxConnectSize, "PLEXUS_MQTT_MAX_CONNECT_SIZE") is { } connectSize ? Units.ParseBytes(connectSize, "mqtt-max-connect-size") : Broker.PlexusBrokerOptions.DefaultMaxConnectSize,
                MqttConnectTimeout = Get(MqttConnectTimeout, "PLEXUS_MQTT_CONNECT_TIMEOUT") is { } connectTimeout ? Units.ParseDuration(connectTimeout, "mqtt-connect-timeout") : Broker.PlexusBrokerOptions.DefaultConnectTimeout,
                MqttMaxConnections = Get(MqttMaxConnections, "PLEXUS_MQTT_MAX_CONNECTIONS") is { } connections ? Units.ParsePositiveInt(connections, "mqtt-max-connections") : Broker.PlexusBrokerOptions.DefaultMaxConnections,
                MqttMaxConnectionsPerIp = Get(MqttMaxConnectionsPerIp, "PLEXUS_MQTT_MAX_CONNECTIONS_PER_IP") is { } perIp ? Units.ParsePositiveInt(perIp, "mqtt-max-connections-per-ip") : Broker.PlexusBrokerOptions.DefaultMaxConnectionsPerIp,
                MqttMaxRetainedMessages = Get(MqttMaxRetainedMessages, "PLEXUS_MQTT_MAX_RETAINED_MESSAGES") is { } retained ? Units.ParsePositiveInt(retained, "mqtt-max-retained-messages") : Broker.PlexusBrokerOptions.DefaultMaxRetainedMessages,
                MqttMaxRetainedBytes = Get(MqttMaxRetainedBytes, "PLEXUS_MQTT_MAX_RETAINED_BYTES") is { } retainedBytes ? Units.ParseBytes(retainedBytes, "mqtt-max-retained-bytes") : Broker.PlexusBrokerOptions.DefaultMaxRetainedBytes,
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
                RetentionCheckInterval = Get(RetentionCheckInterval, "PLEXUS_RETENTION_CHECK_INTERVAL") is { } retentionInterval ? Units.ParseDuration(retentionInterval, "retention-check-interval") : PlexusServerOptions.DefaultRetentionCheckInterval,
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
            settings.LogLevel = Get(LogLevel, "PLEXUS_LOG_LEVEL");
            demo = parse.GetValue(Demo) || IsTrue(Environment.GetEnvironmentVariable("PLEXUS_DEMO"), "PLEXUS_DEMO") || IsTrue(settings.Get("demo"), "demo");
        }
        catch (Exception error) when (error is ArgumentException or FormatException or IOException or JsonException)
        {
            await Console.Error.WriteLineAsync("plexus serve: " + error.Message);
            return 2;
        }

        using var loggerFactory = LoggerFactory.Create(logging => logging
            .AddSimpleConsole(console =>
            {
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
                console.UseUtcTimestamp = true;
            })
            .SetMinimumLevel(ParseLevel(settings.LogLevel))
            .AddFilter("Microsoft", Microsoft.Extensions.Logging.LogLevel.Warning));

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registrations = new SignalRegistrations(stop);
        using var cancelRegistration = cancellationToken.Register(() => stop.TrySetResult());

        PlexusServer server;
        try
        {
            server = await PlexusServer.StartAsync(options, loggerFactory, cancellationToken: cancellationToken);
        }
        catch (Exception error) when (error is IOException or InvalidOperationException or Storage.StorageException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync("plexus serve: cannot start: " + error.Message);
            return 1;
        }

        PrintWelcome(server, options);
        using var demoStop = new CancellationTokenSource();
        var demoRun = demo ? Client.DemoRunner.RunInProcessAsync(server, Console.Out, Client.DemoRunner.DefaultInterval, demoStop.Token) : Task.CompletedTask;
        await stop.Task;
        await demoStop.CancelAsync();
        await demoRun;
        await server.StopAsync();
        return 0;
    }

    private static void PrintWelcome(PlexusServer server, PlexusServerOptions options)
    {
        var output = Console.Out;
        output.WriteLine();
        output.WriteLine($"  Plexus is running.");
        output.WriteLine($"  data       {Path.GetFullPath(options.DataDirectory)}");
        output.WriteLine($"  HTTP       {server.HttpAddress}  (InfluxDB clients and Telegraf: point them here)");
        output.WriteLine($"  console    {server.HttpAddress}  (open it in a browser; sign in with the admin token or an API token)");
        output.WriteLine($"  write      POST {server.HttpAddress}api/v2/write?bucket=main   or   POST {server.HttpAddress}write?db=main");
        output.WriteLine($"  query      POST {server.HttpAddress}api/v1/sql   or   plexus query \"SELECT ...\"");
        output.WriteLine(server.MqttEndpoint is { } mqtt
            ? $"  MQTT       mqtt://{mqtt}  (password: an API token; devices publish to devices/<id>/telemetry)"
            : "  MQTT       off");
        output.WriteLine(server.PgEndpoint is { } pg
            ? $"  PostgreSQL postgresql://{pg}/main  (password: an API token; psql, Grafana, Npgsql...; read-only)"
            : "  PostgreSQL off");
        if (server.MqttTlsEndpoint is { } mqttTls)
        {
            output.WriteLine($"  MQTT TLS   mqtts://{mqttTls}");
        }

        if (server.MqttEndpoint is not null)
        {
            output.WriteLine($"  MQTT WS    {server.HttpAddress.ToString().Replace("http", "ws", StringComparison.Ordinal)}mqtt  (subprotocol mqtt)");
        }

        if (server.MqttEndpoint is not null && !string.IsNullOrEmpty(options.ProvisioningKey))
        {
            output.WriteLine("  provisioning  on: unknown devices connecting with the provisioning key are registered");
        }

        if (server.AdminTokens.GeneratedToken is { } token)
        {
            output.WriteLine();
            output.WriteLine($"  admin token (shown only this once; only its hash is stored):");
            output.WriteLine($"    {token}");
            output.WriteLine($"  export PLEXUS_TOKEN={token}");
        }
        else
        {
            output.WriteLine($"  admin token  as given or stored earlier (hash in {server.AdminTokens.Path}); set a new one with --admin-token");
        }

        output.WriteLine();
        output.Flush();
    }

    private static bool IsTrue(string? text, string name) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "false" or "0" or "no" => false,
        "true" or "1" or "yes" => true,
        _ => throw new ArgumentException($"{name}: \"{text}\" is not true or false"),
    };

    private static LogLevel ParseLevel(string? text) => text?.ToLowerInvariant() switch
    {
        null or "" or "information" or "info" => Microsoft.Extensions.Logging.LogLevel.Information,
        "trace" => Microsoft.Extensions.Logging.LogLevel.Trace,
        "debug" => Microsoft.Extensions.Logging.LogLevel.Debug,
        "warning" or "warn" => Microsoft.Extensions.Logging.LogLevel.Warning,
        "error" => Microsoft.Extensions.Logging.LogLevel.Error,
        _ => throw new ArgumentException($"log level \"{text}\" is not one of trace, debug, information, warning, error"),
    };

    /// <summary>SIGINT, SIGTERM and SIGQUIT all mean "stop cleanly": finish, commit and close.</summary>
    private sealed class SignalRegistrations : IDisposable
    {
        private readonly PosixSignalRegistration[] _registrations;

        public SignalRegistrations(TaskCompletionSource stop)
        {
            void Handler(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.TrySetResult();
            }

            _registrations =
            [
                PosixSignalRegistration.Create(PosixSignal.SIGINT, Handler),
                PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handler),
                PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Handler),
            ];
        }

        public void Dispose()
        {
            foreach (var registration in _registrations)
            {
                registration.Dispose();
            }
        }
    }

    /// <summary>The optional JSON config file: keys are option names without dashes, values strings or numbers.</summary>
    private sealed class ServeSettings
    {
        private readonly Dictionary<string, string> _values;

        private ServeSettings(Dictionary<string, string> values) => _values = values;

        public string? LogLevel { get; set; }

        public string? Get(string key) => _values.TryGetValue(key, out var value) ? value : null;

        public static ServeSettings Load(string? path)
        {
            var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            if (path is null)
            {
                return new ServeSettings(values);
            }

            using var document = JsonDocument.Parse(File.ReadAllText(path));
            foreach (var property in document.RootElement.EnumerateObject())
            {
                string value = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString()!,
                    JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => property.Value.GetRawText(),
                    _ => throw new FormatException($"config {path}: \"{property.Name}\" must be a string or a number"),
                };
                values[property.Name.Replace("_", "-", StringComparison.Ordinal)] = value;
            }

            return new ServeSettings(values);
        }
    }

    private static int ParseRetries(string value) =>
        int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int retries) && retries <= 10
            ? retries
            : throw new ArgumentException($"webhook-retries: \"{value}\" is not a whole number from 0 to 10");
}

/// <summary>Parsing of sizes (25MB, 32MiB, 1000) and durations (30s, 500ms, 2m, or plain seconds) in options.</summary>
internal static class Units
{
    public static long ParseBytes(string text, string name)
    {
        string trimmed = text.Trim();
        (string suffix, long factor)[] units = [("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)];
        foreach (var (suffix, factor) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double scaled) && scaled > 0)
            {
                return (long)(scaled * factor);
            }
        }

        if (long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) && bytes > 0)
        {
            return bytes;
        }

        throw new FormatException($"{name}: \"{text}\" is not a size such as 25MB, 32MiB or 1000000");
    }

    public static TimeSpan ParseDuration(string text, string name)
    {
        string trimmed = text.Trim();
        (string suffix, double seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
        foreach (var (suffix, seconds) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }

        if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double plain) && plain > 0)
        {
            return TimeSpan.FromSeconds(plain);
        }

        throw new FormatException($"{name}: \"{text}\" is not a duration such as 30s, 500ms, 2m or 1d");
    }

    public static double ParseRate(string text, string name) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0 && double.IsFinite(value)
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a rate in messages per second such as 100 or 0.5 (0 is unlimited)");

    public static bool ParseBoolean(string text, string name) => text.Trim().ToLowerInvariant() switch
    {
        "true" or "on" or "yes" or "1" => true,
        "false" or "off" or "no" or "0" => false,
        _ => throw new FormatException($"{name}: \"{text}\" is not true or false"),
    };

    /// <summary>A count an MQTT 5 two-byte property carries: <paramref name="minimum"/> to 65535.</summary>
    public static ushort ParseMqttCount(string text, string name, int minimum) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= minimum && value <= ushort.MaxValue
            ? (ushort)value
            : throw new FormatException($"{name}: \"{text}\" is not a whole number from {minimum} to 65535 (MQTT carries it in two bytes)");

    /// <summary>A keep-alive in whole seconds from 1 s to 65535 s, the most MQTT can say.</summary>
    public static TimeSpan ParseKeepAlive(string text, string name)
    {
        TimeSpan value = ParseDuration(text, name);
        return value.TotalSeconds >= 1 && value.TotalSeconds <= ushort.MaxValue && value.TotalSeconds == Math.Floor(value.TotalSeconds)
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a whole number of seconds from 1s to 65535s (MQTT carries the keep-alive in seconds, in two bytes)");
    }

    /// <summary>A session expiry in whole seconds, below the 4294967295 s that MQTT 5 reads as "never".</summary>
    public static TimeSpan ParseSessionExpiry(string text, string name)
    {
        TimeSpan value = ParseDuration(text, name);
        return value.TotalSeconds >= 1 && value.TotalSeconds < uint.MaxValue && value.TotalSeconds == Math.Floor(value.TotalSeconds)
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a whole number of seconds from 1s to 4294967294s (MQTT carries it in seconds, in four bytes, and the largest value means never)");
    }

    public static int ParsePositiveInt(string text, string name) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a positive whole number");
}
