using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Broker.Devices;
using Plexus.Broker.Retained;
using Plexus.Broker.Transport;
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
/// </remarks>
public sealed partial class PlexusBroker : IAsyncDisposable
{
    private const int DropLogInterval = 10_000;

    private readonly MqttServer _server;
    private readonly DeviceTcpServerAdapter _tcp;
    private readonly MqttServerOptions _serverOptions;
    private readonly PlexusBrokerOptions _options;
    private readonly IMqttAuthenticator _authenticator;
    private readonly DeviceIngest _ingest;
    private readonly DeviceConnectivity? _connectivity;
    private readonly RetainedMessageStore _retained;
    private readonly ILogger _logger;
    private readonly MqttSessionOwnership _owners;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private int _stopping;
    private long _dropped;
    private List<MQTTnet.MqttApplicationMessage>? _loadedRetained;

    private PlexusBroker(PlexusBrokerOptions options, IMqttAuthenticator authenticator, IPointWriter writer, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _options = options;
        _authenticator = authenticator;
        _logger = loggerFactory.CreateLogger("Plexus.Broker");
        _ingest = new DeviceIngest(writer, options.Namespace, time, options.DeviceState, _logger);
        _connectivity = options.DeviceState is null ? null : new DeviceConnectivity(options.DeviceState, time);
        _retained = new RetainedMessageStore(
            options.DataDirectory,
            new RetainedLimits(options.MaxRetainedMessages, options.MaxRetainedBytes, options.MaxRetainedMessagesPerClient, options.MaxRetainedBytesPerClient),
            _logger);
        _owners = new MqttSessionOwnership(time, SessionExists);

        // TCP, plain and TLS, is served by Plexus's own listener (DeviceTcpServerAdapter: connection caps, input limits
        // before MQTTnet reads a byte, the device fast path); MQTTnet's own listeners are off.
        _serverOptions = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(options.MaxPendingMessagesPerClient)
            .WithPendingMessagesOverflowStrategy(MqttPendingMessagesOverflowStrategy.DropOldestQueuedMessage)
            .Build();
        var limits = new MqttInputLimits(options.MaxConnectSize, options.MaxMessageSize, options.ConnectTimeout);
        _admission = new ConnectionAdmission(options.MaxConnections, options.MaxConnectionsPerIp, _logger, time);
        _beforeConnect = new RateLimitedWarning(time, ConnectionAdmission.LogInterval);
        _tcp = new DeviceTcpServerAdapter(options.Endpoint, LoadTls(options), this, limits, _admission, time, _logger);
        _webSockets = new WebSocketServerAdapter(this, limits, _admission, time);
        var factory = new MqttServerFactory();
        factory.DefaultServerAdapters.Add(_ => _tcp);
        factory.DefaultServerAdapters.Add(_ => _webSockets);
        _server = factory.CreateMqttServer(_serverOptions, new MqttNetLoggerBridge(loggerFactory));
        _server.ValidatingConnectionAsync += OnValidatingConnectionAsync;
        _server.InterceptingPublishAsync += OnInterceptingPublishAsync;
        _server.InterceptingSubscriptionAsync += OnInterceptingSubscriptionAsync;
        _server.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        _server.ClientConnectedAsync += OnClientConnectedAsync;
        _server.SessionDeletedAsync += OnOwnedSessionDeletedAsync;
        _server.InterceptingClientEnqueueAsync += OnInterceptingClientEnqueueAsync;
        _server.LoadingRetainedMessageAsync += OnLoadingRetainedMessagesAsync;
        _server.RetainedMessagesClearedAsync += OnRetainedMessagesClearedAsync;
        _server.ApplicationMessageEnqueuedOrDroppedAsync += OnEnqueuedOrDroppedAsync;
        AttachProtocolHandlers(time);
        AttachFastPath();
    }

    /// <summary>The endpoint the broker listens on, with the port the system chose when 0 was asked for.</summary>
    public IPEndPoint Endpoint { get; private set; } = new(IPAddress.Loopback, 0);

    /// <summary>Messages dropped because a subscriber fell <see cref="PlexusBrokerOptions.MaxPendingMessagesPerClient"/> behind.</summary>
    public long DroppedMessages => Interlocked.Read(ref _dropped);

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

        // Read here, not in MQTTnet's loading event: MQTTnet logs a failing loader and starts empty, and the next
        // retained publish would then overwrite the damaged journal. A damaged journal stops the start instead.
        broker._loadedRetained = broker._retained.Load();
        await broker._server.StartAsync();

        broker.Endpoint = broker._tcp.Endpoint;
        BrokerLog.Listening(broker._logger, broker.Endpoint.ToString());
        broker.SetTlsEndpoint();
        return broker;
    }

    /// <summary>
    /// Stops gracefully: publishes being stored finish and are acknowledged, new ones are refused without an ack
    /// (the client resends them after reconnecting), then every connection is closed. Call before the store closes.
    /// </summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return;
        }

        int inFlight = Volatile.Read(ref _inFlight);
        BrokerLog.Stopping(_logger, inFlight);
        if (inFlight == 0)
        {
            _drained.TrySetResult();
        }

        await _drained.Task;
        await _ingest.DrainQueueAsync();
        await _server.StopAsync();
        _server.Dispose();
        BrokerLog.Stopped(_logger);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private async Task OnValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        AssignClientIdentifierIfEmpty(e);
        var credentials = new MqttCredentials(e.ClientId, e.UserName, e.Password);
        MqttAuthentication authentication = await _authenticator.AuthenticateAsync(credentials, CancellationToken.None);
        MqttAuthenticationResult result = authentication.Result == MqttAuthenticationResult.Accepted && authentication.Principal is null
            ? MqttAuthenticationResult.NotAuthorized
            : authentication.Result;

        // MQTTnet writes the matching MQTT 3.1.1 return code for these (4 and 5).
        e.ReasonCode = result switch
        {
            MqttAuthenticationResult.Accepted => MqttConnectReasonCode.Success,
            MqttAuthenticationResult.BadUserNameOrPassword => MqttConnectReasonCode.BadUserNameOrPassword,
            _ => MqttConnectReasonCode.NotAuthorized,
        };
        if (result != MqttAuthenticationResult.Accepted)
        {
            BrokerLog.ConnectionRefused(_logger, result.ToString(), e.ClientId, e.UserName, e.RemoteEndPoint?.ToString());
            return;
        }

        // The client id belongs to the principal whose session it is: another principal neither resumes that session
        // nor kicks its client off. MQTTnet keeps the first connection's SessionItems when a session is resumed, so
        // the principal is kept here, per client id, and replaced by each accepted CONNECT of the owner.
        var principal = authentication.Principal!;
        string clientId = ClientIdOf(e);
        if (!string.IsNullOrEmpty(clientId) && !_owners.TryClaim(clientId, principal, out var owner))
        {
            e.ReasonCode = MqttConnectReasonCode.NotAuthorized;
            MqttAclLog.ClientIdTaken(_logger, clientId, principal.ToString(), owner!.ToString(), e.RemoteEndPoint?.ToString());
            return;
        }

        e.SessionItems[PrincipalKey] = principal;
        _connectivity?.Accepted(clientId, principal, e.KeepAlivePeriod ?? 0, HasWill(e));
    }

    private static bool HasWill(ValidatingConnectionEventArgs e)
    {
        try
        {
            return ConnectPacket(e).WillFlag;
        }
        catch (MissingFieldException)
        {
            return false;
        }
    }

    private async Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        _owners.Connected(e.ClientId);
        if (_connectivity is not null)
        {
            await _connectivity.ConnectedAsync(e.ClientId);
        }
    }

    private const string PrincipalKey = "plexus.principal";

    private static string ClientIdOf(ValidatingConnectionEventArgs e) =>
        string.IsNullOrEmpty(e.ClientId) && !string.IsNullOrEmpty(e.AssignedClientIdentifier) ? e.AssignedClientIdentifier : e.ClientId;

    private async Task OnClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (_connectivity is not null)
        {
            await _connectivity.DisconnectedAsync(e);
        }
    }

    private Task OnOwnedSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        _owners.SessionEnded(e.Id);
        return Task.CompletedTask;
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

    /// <summary>
    /// The topic ACL again at delivery: a message is queued for a client only while its session's principal may read
    /// the topic and was not revoked, so a revoked token receives nothing more at once, before its connection is
    /// closed and also into a persistent session.
    /// </summary>
    private Task OnInterceptingClientEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (!_owners.MayReceive(e.ReceiverClientId, e.ApplicationMessage.Topic))
        {
            e.AcceptEnqueue = false;
        }

        return Task.CompletedTask;
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
    public Task DisconnectDeviceAsync(string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        return DisconnectWhereAsync(
            p => p.Kind == MqttPrincipalKind.Device && string.Equals(p.DeviceId, deviceId, StringComparison.Ordinal),
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

    private MqttPrincipal? PrincipalOf(string clientId) => _owners.PrincipalOf(clientId);

    /// <summary>The topic ACL for subscriptions: MQTT 5 SUBACK 0x87, MQTT 3.1.1 SUBACK 0x80 (MQTTnet maps it).</summary>
    private Task OnInterceptingSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        var principal = PrincipalOf(e.ClientId);
        string filter = SharedSubscriptions.AclFilter(e.TopicFilter.Topic);
        if (!MqttTopicAcl.MaySubscribe(principal, filter))
        {
            MqttAclLog.SubscribeRefused(_logger, principal?.ToString() ?? "unknown client", e.ClientId, filter);
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            return Task.CompletedTask;
        }

        SubscribeShared(e);
        if (e.ProcessSubscription)
        {
            // Before MQTTnet stores it, so the device fast path never misses a subscriber that has its SUBACK.
            _subscriptions.Add(e.ClientId, e.TopicFilter.Topic);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// An empty client id with a clean session must be accepted and given an id by the server (MQTT 3.1.1
    /// [MQTT-3.1.3-6], MQTT 5 §3.1.3.1); mosquitto_pub and paho send one. MQTTnet 5.2 assigns
    /// <see cref="ValidatingConnectionEventArgs.AssignedClientIdentifier"/> for MQTT 5 only and refuses 3.1.1 with
    /// "identifier rejected", so for 3.1.1 the id is written into the CONNECT packet MQTTnet keeps privately.
    /// If a later MQTTnet renames that field, the accessor throws and the client is refused as before.
    /// </summary>
    private static void AssignClientIdentifierIfEmpty(ValidatingConnectionEventArgs e)
    {
        if (!string.IsNullOrEmpty(e.ClientId) || e.CleanSession == false)
        {
            return;
        }

        string assigned = "plexus-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        if (e.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500)
        {
            e.AssignedClientIdentifier = assigned;
            return;
        }

        try
        {
            ConnectPacket(e).ClientId = assigned;
        }
        catch (MissingFieldException)
        {
        }
    }

    [System.Runtime.CompilerServices.UnsafeAccessor(System.Runtime.CompilerServices.UnsafeAccessorKind.Field, Name = "_connectPacket")]
    private static extern ref MQTTnet.Packets.MqttConnectPacket ConnectPacket(ValidatingConnectionEventArgs e);

    private async Task OnInterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;

        // The topic ACL first: a device publishes only under devices/<its id>/, so the id a message is stored
        // under is the authenticated one. Refused: MQTT 5 PUBACK 0x87; 3.1.1 acknowledges and drops it.
        // A delayed will (WillKeeper) may come after its session ended: then the principal it was published under.
        var principal = _owners.HasOwner(e.ClientId) ? PrincipalOf(e.ClientId) : e.SessionItems?[PrincipalKey] as MqttPrincipal;
        if (!MqttTopicAcl.MayPublish(principal, message.Topic))
        {
            MqttAclLog.PublishRefused(_logger, principal?.ToString() ?? "unknown client", e.ClientId, message.Topic);
            e.ProcessPublish = false;
            e.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            return;
        }

        if (message.Retain && !Retain(e, principal))
        {
            return;
        }

        if (!DeviceTopic.TryParse(message.Topic, out var topic))
        {
            return;
        }

        _connectivity?.Activity(e.ClientId);

        if (!TryEnter())
        {
            BrokerLog.RefusedWhileStopping(_logger, e.ClientId, message.Topic);
            e.ProcessPublish = false;
            e.CloseConnection = true;
            return;
        }

        try
        {
            // QoS 0 has no acknowledgement to hold back until the commit: queue it and read the device's next message.
            // Location and state update the live state after their commit, so they always take the awaited path.
            DeviceIngestOutcome outcome = message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce && topic.Kind is DeviceTopicKind.Telemetry or DeviceTopicKind.SenMl or DeviceTopicKind.LineProtocol
                ? await _ingest.QueueAsync(topic, message.Payload, message.ContentType, message.Topic)
                : await _ingest.IngestAsync(topic, message.Payload, message.ContentType);
            switch (outcome.Status)
            {
                case DeviceIngestStatus.Rejected:
                    // Still forwarded (ProcessPublish stays true): the broker does not judge payloads for subscribers.
                    BrokerLog.MessageRejected(_logger, topic.DeviceId, message.Topic, e.ClientId, outcome.Reason ?? "rejected");
                    e.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
                    e.Response.ReasonString = Truncate(outcome.Reason);
                    await _ingest.RecordDeadLetterAsync(topic, message.Topic, message.Payload, message.ContentType, outcome.Reason);
                    break;
                case DeviceIngestStatus.PartlyStored:
                    BrokerLog.MessagePartlyStored(_logger, outcome.Written, outcome.Refused, topic.DeviceId, message.Topic, outcome.Reason);
                    e.Response.ReasonString = Truncate(outcome.Reason);
                    break;
            }
        }
        catch (Exception error)
        {
            // The store failed the commit: nothing of the message is stored. Closing the connection instead of
            // acknowledging makes a QoS 1/2 client resend it (MQTT 3.1.1 has no failure reason in PUBACK).
            BrokerLog.StoreFailed(_logger, error, topic.DeviceId, message.Topic);
            e.ProcessPublish = false;
            e.CloseConnection = true;
        }
        finally
        {
            Exit();
        }
    }

    private Task OnLoadingRetainedMessagesAsync(LoadingRetainedMessagesEventArgs e)
    {
        var messages = _loadedRetained ?? [];
        _loadedRetained = null;
        e.LoadedRetainedMessages = messages;
        BrokerLog.RetainedLoaded(_logger, messages.Count, _retained.Path);
        return Task.CompletedTask;
    }

    private Task OnRetainedMessagesClearedAsync(EventArgs e)
    {
        try
        {
            _retained.Clear();
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            BrokerLog.RetainedSaveFailed(_logger, error, _retained.Path);
        }

        return Task.CompletedTask;
    }

    private Task OnEnqueuedOrDroppedAsync(ApplicationMessageEnqueuedEventArgs e)
    {
        if (e.IsDropped)
        {
            long total = Interlocked.Increment(ref _dropped);
            if (total == 1 || total % DropLogInterval == 0)
            {
                BrokerLog.MessageDropped(_logger, e.ReceiverClientId, _options.MaxPendingMessagesPerClient, e.ApplicationMessage.Topic, total);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Checks and saves a retained publish before MQTTnet retains and forwards it (its own retained store is memory
    /// only here). A refused or unsaved one is neither retained nor forwarded, and the publisher is told: MQTT 5 QoS 1/2
    /// by the PUBACK/PUBREC reason (0x97 Quota exceeded, 0x80 Unspecified error); MQTT 3.1.1, which has no failure
    /// acknowledgement, and QoS 0 by closing the connection (MQTT 5: DISCONNECT with that reason).
    /// </summary>
    private bool Retain(InterceptingPublishEventArgs e, MqttPrincipal? principal)
    {
        var message = e.ApplicationMessage;
        RetainedChange change = _retained.Apply(message, principal is null ? "" : MqttSessionOwnership.IdentityOf(principal));
        if (change.Status == RetainedChangeStatus.Saved)
        {
            return true;
        }

        bool overLimit = change.Status == RetainedChangeStatus.OverLimit;
        if (overLimit)
        {
            RetainedLog.Refused(_logger, e.ClientId, message.Topic, change.Reason!);
        }
        else
        {
            RetainedLog.SaveFailed(_logger, change.Error!, _retained.Path, e.ClientId, message.Topic);
        }

        e.ProcessPublish = false;
        bool v5 = _clients.TryGetValue(e.ClientId, out var state) && state.V5;
        if (v5 && message.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce)
        {
            e.Response.ReasonCode = overLimit ? MqttPubAckReasonCode.QuotaExceeded : MqttPubAckReasonCode.UnspecifiedError;
            e.Response.ReasonString = Truncate(change.Reason);
        }
        else if (v5)
        {
            _ = DisconnectLaterAsync(e.ClientId, overLimit ? MqttDisconnectReasonCode.QuotaExceeded : MqttDisconnectReasonCode.UnspecifiedError);
        }
        else
        {
            e.CloseConnection = true;
        }

        return false;
    }

    private bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (Volatile.Read(ref _stopping) == 0)
        {
            return true;
        }

        Exit();
        return false;
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && Volatile.Read(ref _stopping) != 0)
        {
            _drained.TrySetResult();
        }
    }

    private static string? Truncate(string? reason) => reason is { Length: > 200 } ? reason[..200] + "…" : reason;
}
