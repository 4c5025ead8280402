using System.Net;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Broker.Devices;
using Plexus.Broker.Extensions;
using Plexus.Broker.Retained;
using Plexus.Broker.Sessions;
using Plexus.Broker.Transport;
using Plexus.Devices.Twin;
using Plexus.Pipeline.Devices;
using Plexus.Storage.Writing;

namespace Plexus.Broker;

/// <summary>
/// The embedded MQTT broker (MQTTnet.Server): a general MQTT 3.1.1/5.0 broker whose device data topics are also
/// stored. Only this project knows MQTTnet types; the server composes it from an authenticator and the store's
/// <see cref="IPointWriter"/>. Behaviour and evidence: docs/mqtt.md.
/// </summary>
/// <remarks>
/// Design note: the ack follows durability. MQTTnet runs the publish interceptor inside the connection's receive
/// loop and only enqueues the PUBACK (QoS 1) or PUBREC (QoS 2) after the interceptor's task completed, with the
/// reason code the interceptor set:
/// <code>
///   receive PUBLISH ─▶ InterceptingPublishAsync ─▶ decode ─▶ IPointWriter.WriteAsync ─▶ (group commit, fsync)
///                                                                                    │
///   PUBACK/PUBREC ◀─ enqueue ack ◀─ forward to subscribers, retained update ◀────────┘
/// </code>
/// Hazard: a connection's publishes are handled one at a time, so one client's QoS 1 throughput is one message per
/// commit; many devices share commits through the store's group commit.
/// <para>
/// The broker only configures MQTTnet and runs an ordered list of extensions (<see cref="Extensions.IBrokerExtension"/>,
/// one concern each: authentication, topic ACL, retained messages, device ingest, the fast path…); each MQTTnet
/// event calls its hooks in the order of that list, written down once in the constructor.
/// </para>
/// </remarks>
public sealed class PlexusBroker : IAsyncDisposable
{
    private readonly MqttServer _server;
    private readonly DeviceTcpServerAdapter _tcp;
    private readonly WebSocketServerAdapter _webSockets;
    private readonly ConnectionAdmission _admission;
    private readonly DeviceIngest _ingest;
    private readonly ILogger _logger;
    private readonly MqttSessionOwnership _owners;
    private readonly TopicAclExtension _topicAcl;
    private readonly MqttAclFileSource? _aclFile;
    private readonly ClientRateLimiter _rateLimiter;
    private readonly WillKeeper _wills;
    private readonly PublishGate _gate = new();
    private readonly DeviceFastPath _fastPath;
    private readonly RetainedExtension _retained;
    private readonly QueueOverflowExtension _queueOverflow;
    private readonly SessionPersistence _sessions;

    private PlexusBroker(PlexusBrokerOptions options, IMqttAuthenticator authenticator, IPointWriter writer, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _logger = loggerFactory.CreateLogger("Plexus.Broker");
        _ingest = new DeviceIngest(writer, options.Namespace, time, options.DeviceState, _logger);
        DeviceConnectivity? connectivity = options.DeviceState is null ? null : new DeviceConnectivity(options.DeviceState, time);
        var retainedStore = new RetainedMessageStore(
            options.DataDirectory,
            new RetainedLimits(options.MaxRetainedMessages, options.MaxRetainedBytes, options.MaxRetainedMessagesPerClient, options.MaxRetainedBytesPerClient),
            _logger);
        _owners = new MqttSessionOwnership(time, SessionExists);
        if (options.AclFilePath is not null)
        {
            _aclFile = new MqttAclFileSource(options.AclFilePath, _logger, time);
            _owners.AclFile = _aclFile;
        }

        var clients = new ConnectedClients();
        var shared = new SharedSubscriptions();
        var subscriptions = new SubscriptionIndex();
        _rateLimiter = new ClientRateLimiter(options.MaxMessagesPerSecond, options.MaxBurst, time);
        _fastPath = new DeviceFastPath(_ingest, subscriptions, shared, _rateLimiter, _gate, connectivity, _owners, clients, options, time, _logger);

        // TCP, plain and TLS, is served by Plexus's own listener (DeviceTcpServerAdapter: connection caps, input limits
        // before MQTTnet reads a byte, the device fast path); MQTTnet's own listeners are off.
        var serverOptions = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(options.MaxPendingMessagesPerClient)
            .WithPendingMessagesOverflowStrategy(MqttPendingMessagesOverflowStrategy.DropOldestQueuedMessage)
            .Build();
        var limits = new MqttInputLimits(options.MaxConnectSize, options.MaxMessageSize, options.ConnectTimeout, options.ReceiveMaximum, options.TopicAliasMaximum, options.MaxKeepAlive);
        _admission = new ConnectionAdmission(options.MaxConnections, options.MaxConnectionsPerIp, _logger, time);
        _tcp = new DeviceTcpServerAdapter(options.Endpoint, LoadTls(options), _fastPath, limits, _admission, time, _logger);
        _webSockets = new WebSocketServerAdapter(_fastPath, limits, _admission, time);
        var factory = new MqttServerFactory();
        factory.DefaultServerAdapters.Add(_ => _tcp);
        factory.DefaultServerAdapters.Add(_ => _webSockets);
        _server = factory.CreateMqttServer(serverOptions, new MqttNetLoggerBridge(loggerFactory));

        _wills = new WillKeeper(time, PublishWillAsync);
        _retained = new RetainedExtension(retainedStore, _owners, clients, _server, _logger);
        _queueOverflow = new QueueOverflowExtension(options.MaxPendingMessagesPerClient, _logger);
        var outboundRules = new OutboundRules(time);
        _sessions = new SessionPersistence(
            _server, new MqttSessionFile(options.DataDirectory, _logger), _owners, clients, outboundRules, options.MaxSessionStoreBytes, options.MaxPendingMessagesPerClient, time, _logger);

        // Each MQTTnet event runs its hooks in this order (an extension that throws stops that event's chain):
        // - authentication, then the client id's ownership: nothing else acts on a CONNECT before both accepted it,
        //   and the hooks after them skip a refused one;
        // - the topic ACL before every other publish and subscription hook;
        // - connectivity before the wills: it reads the will flag the will extension clears in the CONNECT;
        // - retained before ingest: a retained message over its limits is neither stored nor forwarded;
        // - ingest before outbound (a message's expiry counts from when it was accepted) and before shared
        //   subscriptions (a message the store refused is not delivered to groups either);
        // - wills before shared subscriptions at a disconnect: a will published at once finds the groups as they were;
        // - shared subscriptions before the fast path's index: a shared filter is not MQTTnet's and is not indexed;
        // - session persistence before the connected-clients table: at a disconnect it reads whether the session persists;
        // - the connected-clients table last: at a disconnect, the hooks before it still read whether the session persists.
        _topicAcl = new TopicAclExtension(_owners, _logger);
        var ordered = new List<IBrokerExtension>
        {
            new ConnectionAuthentication(authenticator, _logger),
            new SessionOwnershipExtension(_owners, _logger),
            new SessionExpiryExtension(_server, options.MaxSessionExpiry),
            _topicAcl,
        };
        if (connectivity is not null)
        {
            ordered.Add(new ConnectivityExtension(connectivity));
        }

        ordered.AddRange(
        [
            new RateLimitExtension(_rateLimiter, options.MaxMessagesPerSecond, time, _logger),
            _retained,
        ]);
        if (options.Commands is not null)
        {
            // After the ACL, which refuses a foreign answer before it is read and a session that may not receive a command.
            ordered.Add(new DeviceTwinExtension(options.Commands, _owners));
        }

        ordered.AddRange(
        [
            new DeviceIngestExtension(_ingest, connectivity, _gate, _logger),
            new OutboundExtension(outboundRules, clients, limits, options.MaxMessageSize, _logger),
            new WillExtension(_wills),
            new SharedSubscriptionExtension(shared, _owners, clients, _logger),
            new FastPathSubscriptions(subscriptions, clients),
            _fastPath,
            _queueOverflow,
            _sessions,
            clients,
        ]);
        new BrokerExtensions(ordered).AttachTo(_server);
    }

    /// <summary>The endpoint the broker listens on, with the port the system chose when 0 was asked for.</summary>
    public IPEndPoint Endpoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>Where the MQTT-over-TLS listener listens (the bound port when 0 was asked for); null when there is none.</summary>
    public IPEndPoint? TlsEndpoint { get; private set; }

    /// <summary>Messages dropped because a subscriber fell <see cref="PlexusBrokerOptions.MaxPendingMessagesPerClient"/> behind.</summary>
    public long DroppedMessages => _queueOverflow.Dropped;

    /// <summary>QoS 0 messages dropped because their client published over <see cref="PlexusBrokerOptions.MaxMessagesPerSecond"/>.</summary>
    public long ThrottledDropped => _rateLimiter.Dropped;

    /// <summary>QoS 1/2 messages held back because their client published over the rate.</summary>
    public long ThrottledDelayed => _rateLimiter.Delayed;

    /// <summary>Wills of disconnected MQTT 5 clients waiting for their Will Delay Interval on the broker's clock.</summary>
    internal int WillsWaiting => _wills.Waiting;

    /// <summary>Packets refused as larger than <see cref="PlexusBrokerOptions.MaxMessageSize"/>.</summary>
    public long TooLargeRefused => _fastPath.TooLargeRefused;

    /// <summary>Device messages stored through the fast path (the rest went through MQTTnet).</summary>
    public long FastPathMessages => _fastPath.FastPathMessages;

    /// <summary>Connections open now over TCP, TLS and WebSocket.</summary>
    public int OpenConnections => _admission.Open;

    /// <summary>Connections refused at accept over <see cref="PlexusBrokerOptions.MaxConnections"/> or <see cref="PlexusBrokerOptions.MaxConnectionsPerIp"/>.</summary>
    public long RefusedConnections => _admission.Refused;

    /// <summary>Publishes the topic ACL refused (token filters, the ACL file, device and twin topics).</summary>
    public long AclRefusedPublishes => _topicAcl.PublishesRefused;

    /// <summary>Subscriptions the topic ACL refused.</summary>
    public long AclRefusedSubscriptions => _topicAcl.SubscriptionsRefused;

    public static async Task<PlexusBroker> StartAsync(
        PlexusBrokerOptions options,
        IMqttAuthenticator authenticator,
        IPointWriter writer,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(authenticator);
        ArgumentNullException.ThrowIfNull(writer);
        var broker = new PlexusBroker(options, authenticator, writer, loggerFactory ?? NullLoggerFactory.Instance, time ?? TimeProvider.System);
        broker._retained.Load();
        if (options.Desired is { } desired)
        {
            broker._retained.AddLoaded(desired.RetainedMessages().Select(m => DesiredMessage(m.Topic, m.Payload)));
        }

        await broker._sessions.RestoreAsync();
        await broker._server.StartAsync();
        broker._sessions.Start();

        broker.Endpoint = broker._tcp.Endpoint;
        BrokerLog.Listening(broker._logger, broker.Endpoint.ToString());
        if (broker._tcp.TlsEndpoint is { } tls)
        {
            broker.TlsEndpoint = tls;
            ProtocolLog.TlsListening(broker._logger, tls.ToString());
        }

        return broker;
    }

    /// <summary>
    /// Stops gracefully: publishes being stored finish and are acknowledged, new ones are refused without an ack
    /// (the client resends them after reconnecting), then every connection is closed. Call before the store closes.
    /// </summary>
    public async Task StopAsync()
    {
        if (!_gate.TryClose(out int inFlight))
        {
            return;
        }

        BrokerLog.Stopping(_logger, inFlight);
        await _gate.Drained;
        await _ingest.DrainQueueAsync();
        await _server.StopAsync();
        await _sessions.StopAsync();
        _server.Dispose();
        _aclFile?.Dispose();
        BrokerLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>
    /// Runs one MQTT connection over a WebSocket the HTTP server accepted (subprotocol <c>mqtt</c>) until it ends;
    /// <paramref name="stopping"/> aborts it (the HTTP server stopping).
    /// </summary>
    public Task RunWebSocketAsync(WebSocket webSocket, EndPoint? remoteEndPoint, bool isSecure, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        return _webSockets.RunAsync(webSocket, remoteEndPoint, isSecure, stopping);
    }

    /// <summary>Whether a client with this id is connected now, as the broker sees it (tests wait on a disconnect with it).</summary>
    public async Task<bool> IsConnectedAsync(string clientId)
    {
        var clients = await _server.GetClientsAsync();
        return clients.Any(c => string.Equals(c.Id, clientId, StringComparison.Ordinal));
    }

    /// <summary>
    /// Closes every connection of a device whose token stopped working (rotated, or the device removed): MQTT 5
    /// clients get DISCONNECT reason 0x87 Not authorized. A reconnect with the old token is refused at CONNECT.
    /// </summary>
    /// <summary>
    /// Publishes a message of the server's own (a rule's action) to every subscriber allowed to read the topic. It is
    /// judged as the admin application: rules are made by admins, and publish where an admin could.
    /// </summary>
    public Task PublishAsServerAsync(string topic, byte[] payload, string contentType = "application/json")
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        var message = new MQTTnet.MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithContentType(contentType).Build();
        var items = new System.Collections.Hashtable { [Extensions.ConnectionEvents.PrincipalKey] = MqttPrincipal.AdminApplication };
        return _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = ServerClientId, CustomSessionItems = items });
    }

    /// <summary>
    /// Publishes a device's desired properties retained on <c>devices/&lt;id&gt;/desired</c> (QoS 1), so a device that
    /// subscribes now or later gets the newest; an empty payload clears it. Kept by the desired properties' table, not
    /// by the retained journal.
    /// </summary>
    public Task PublishDesiredAsync(string deviceId, byte[] payload)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(payload);
        return InjectTwinMessage(DesiredMessage(TwinTopics.Desired(deviceId), payload));
    }

    /// <summary>
    /// Publishes a command on <c>devices/&lt;id&gt;/commands/&lt;name&gt;</c> (QoS 1, not retained): the envelope for every
    /// client, and for MQTT 5 the response topic, the command id as correlation data and the timeout as message
    /// expiry, so a persistent session does not hand over a command nobody waits for any more.
    /// </summary>
    public Task PublishCommandAsync(DeviceCommand command, byte[] envelope)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(envelope);
        var message = new MQTTnet.MqttApplicationMessageBuilder()
            .WithTopic(TwinTopics.Command(command.Device, command.Name))
            .WithPayload(envelope)
            .WithContentType("application/json")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithResponseTopic(command.ResponseTopic)
            .WithCorrelationData(System.Text.Encoding.UTF8.GetBytes(command.Id))
            .WithMessageExpiryInterval((uint)Math.Max(1, Math.Ceiling(command.Timeout.TotalSeconds)))
            .Build();
        return InjectTwinMessage(message);
    }

    private static MQTTnet.MqttApplicationMessage DesiredMessage(string topic, byte[] payload) =>
        new MQTTnet.MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithContentType("application/json")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build();

    private Task InjectTwinMessage(MQTTnet.MqttApplicationMessage message)
    {
        var items = new System.Collections.Hashtable
        {
            [Extensions.ConnectionEvents.PrincipalKey] = MqttPrincipal.AdminApplication,
            [DeviceTwinExtension.TwinKey] = true,
        };
        return _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = ServerClientId, CustomSessionItems = items });
    }

    /// <summary>The sender of the server's own messages; '$' keeps it apart from every client id a CONNECT may take.</summary>
    public const string ServerClientId = "$plexus";

    public Task DisconnectDeviceAsync(string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        return DisconnectWhereAsync(
            p => p.Kind == MqttPrincipalKind.Device && string.Equals(p.DeviceId, deviceId, StringComparison.Ordinal),
            clientId => MqttAclLog.DeviceDisconnected(_logger, deviceId, clientId),
            (clientId, reason) => MqttAclLog.DeviceDisconnectFailed(_logger, deviceId, clientId, reason));
    }

    /// <summary>
    /// After a device's certificates changed: closes its connections that authenticated with a certificate
    /// <paramref name="stillAccepted"/> now refuses (removed, or no longer accepted since the device pinned others),
    /// as a rotated token closes the connections that used it. Token connections of the device stay.
    /// </summary>
    public Task DisconnectDeviceCertificatesAsync(string deviceId, Func<string, bool> stillAccepted)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(stillAccepted);
        return DisconnectWhereAsync(
            p => p.Kind == MqttPrincipalKind.Device && string.Equals(p.DeviceId, deviceId, StringComparison.Ordinal)
                && p.CertificateThumbprint is { } thumbprint && !stillAccepted(thumbprint),
            clientId => MqttAclLog.DeviceDisconnected(_logger, deviceId, clientId),
            (clientId, reason) => MqttAclLog.DeviceDisconnectFailed(_logger, deviceId, clientId, reason));
    }

    /// <summary>Closes every connection of an application whose API token was revoked (MQTT 5: DISCONNECT 0x87).</summary>
    public Task DisconnectApplicationAsync(string tokenName)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenName);
        return DisconnectWhereAsync(
            p => p.Kind == MqttPrincipalKind.Application && string.Equals(p.TokenName, tokenName, StringComparison.Ordinal),
            clientId => MqttAclLog.ApplicationDisconnected(_logger, tokenName, clientId),
            (clientId, reason) => MqttAclLog.DeviceDisconnectFailed(_logger, tokenName, clientId, reason));
    }

    private async Task DisconnectWhereAsync(Func<MqttPrincipal, bool> matches, Action<string> disconnected, Action<string, string> failed)
    {
        // Revoked first: nothing more is queued for these sessions from here on, connected or not.
        foreach (string clientId in _owners.Revoke(matches))
        {
            try
            {
                await _server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.NotAuthorized);
                disconnected(clientId);
            }
            catch (Exception error)
            {
                // Called without being awaited: never throw. Usually the client is not connected at the moment (a
                // persistent session) or already gone; its next CONNECT is refused either way.
                failed(clientId, error.Message);
            }
        }
    }

    private bool SessionExists(string clientId)
    {
        try
        {
            return _server.GetSessionAsync(clientId).GetAwaiter().GetResult() is not null;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private Task PublishWillAsync(string clientId, MQTTnet.MqttApplicationMessage message, System.Collections.IDictionary items) =>
        _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = clientId, CustomSessionItems = items });

    private static (IPEndPoint, System.Security.Cryptography.X509Certificates.X509Certificate2)? LoadTls(PlexusBrokerOptions options) =>
        options.TlsEndpoint is { } endpoint ? (endpoint, Core.TlsCertificate.LoadCertificate(options.TlsCertificatePath, options.TlsKeyPath)) : null;
}
