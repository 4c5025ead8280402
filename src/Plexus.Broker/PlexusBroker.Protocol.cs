using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Transport;

namespace Plexus.Broker;

/// <summary>
/// The protocol features MQTTnet.Server 5.2 lacks or leaves open, kept apart from the storage path: the TLS and
/// WebSocket listeners, shared subscriptions, the per-client flood limits (rate and packet size) and the CONNACK
/// properties that advertise them. Behaviour and evidence: docs/mqtt.md.
/// </summary>
public sealed partial class PlexusBroker
{
    private readonly SharedSubscriptions _shared = new();
    private readonly WebSocketServerAdapter _webSockets;
    private readonly ConnectionAdmission _admission;
    private readonly RateLimitedWarning _beforeConnect;
    private readonly ConcurrentDictionary<string, ClientState> _clients = new(StringComparer.Ordinal);
    private ClientRateLimiter _rateLimiter = null!;
    private OutboundRules _outbound = null!;
    private WillKeeper _wills = null!;
    private TimeProvider _time = TimeProvider.System;
    private long _activityUpdateInterval;
    private long _tooLarge;

    /// <summary>Where the MQTT-over-TLS listener listens (the bound port when 0 was asked for); null when there is none.</summary>
    public IPEndPoint? TlsEndpoint { get; private set; }

    /// <summary>QoS 0 messages dropped because their client published over <see cref="PlexusBrokerOptions.MaxMessagesPerSecond"/>.</summary>
    public long ThrottledDropped => _rateLimiter.Dropped;

    /// <summary>QoS 1/2 messages held back because their client published over the rate.</summary>
    public long ThrottledDelayed => _rateLimiter.Delayed;

    /// <summary>Wills of disconnected MQTT 5 clients waiting for their Will Delay Interval on the broker's clock.</summary>
    internal int WillsWaiting => _wills.Waiting;

    /// <summary>Packets refused as larger than <see cref="PlexusBrokerOptions.MaxMessageSize"/>.</summary>
    public long TooLargeRefused => Interlocked.Read(ref _tooLarge);

    /// <summary>
    /// Runs one MQTT connection over a WebSocket the HTTP server accepted (subprotocol <c>mqtt</c>) until it ends;
    /// <paramref name="stopping"/> aborts it (the HTTP server stopping).
    /// </summary>
    public Task RunWebSocketAsync(WebSocket webSocket, EndPoint? remoteEndPoint, bool isSecure, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(webSocket);
        return _webSockets.RunAsync(webSocket, remoteEndPoint, isSecure, stopping);
    }

    /// <summary>Connections open now over TCP, TLS and WebSocket.</summary>
    public int OpenConnections => _admission.Open;

    /// <summary>Connections refused at accept over <see cref="PlexusBrokerOptions.MaxConnections"/> or <see cref="PlexusBrokerOptions.MaxConnectionsPerIp"/>.</summary>
    public long RefusedConnections => _admission.Refused;

    private static (IPEndPoint, System.Security.Cryptography.X509Certificates.X509Certificate2)? LoadTls(PlexusBrokerOptions options) =>
        options.TlsEndpoint is { } endpoint ? (endpoint, Core.TlsCertificate.LoadCertificate(options.TlsCertificatePath, options.TlsKeyPath)) : null;

    private void AttachProtocolHandlers(TimeProvider time)
    {
        _time = time;
        _activityUpdateInterval = time.TimestampFrequency / 20;
        _rateLimiter = new ClientRateLimiter(_options.MaxMessagesPerSecond, _options.MaxBurst, time);
        _outbound = new OutboundRules(time);
        _wills = new WillKeeper(time, PublishWillAsync);
        _server.StoppedAsync += _ =>
        {
            _wills.Dispose();
            return Task.CompletedTask;
        };
        _server.InterceptingInboundPacketAsync += OnInboundPacketAsync;
        _server.InterceptingOutboundPacketAsync += OnOutboundPacketAsync;
        _server.InterceptingUnsubscriptionAsync += OnInterceptingUnsubscriptionAsync;
        _server.ValidatingConnectionAsync += OnProtocolValidatingConnectionAsync;
        _server.ClientConnectedAsync += OnProtocolClientConnectedAsync;
        _server.ClientDisconnectedAsync += OnProtocolClientDisconnectedAsync;
        _server.SessionDeletedAsync += OnSessionDeletedAsync;

        // After the storing interceptor: a message it refused is not delivered to shared groups either.
        _server.InterceptingPublishAsync += OnProtocolPublishAsync;
    }

    private void SetTlsEndpoint()
    {
        if (_tcp.TlsEndpoint is { } endpoint)
        {
            TlsEndpoint = endpoint;
            ProtocolLog.TlsListening(_logger, TlsEndpoint.ToString());
        }
    }

    private async Task OnInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        switch (e.Packet)
        {
            case MqttPublishPacket publish:
                await OnInboundPublishAsync(e, publish);
                break;
            case MqttSubscribePacket subscribe:
                SharedSubscriptions.MarkSharedFilters(subscribe);
                break;
            case MqttPubAckPacket or MqttPubCompPacket:
                if (_clients.TryGetValue(e.ClientId, out var state))
                {
                    state.Window?.Acknowledged();
                }

                break;
        }
    }

    private async Task OnInboundPublishAsync(InterceptingPacketEventArgs e, MqttPublishPacket publish)
    {
        // The size limit is the framing's (DevicePublishChannel): a packet over it never reaches MQTTnet.
        if (!_rateLimiter.Enabled)
        {
            return;
        }

        bool mayWait = publish.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce;
        TimeSpan? wait = _rateLimiter.Take(e.ClientId, mayWait, out bool shouldLog);
        if (shouldLog)
        {
            ProtocolLog.Throttled(_logger, e.ClientId, _options.MaxMessagesPerSecond, _rateLimiter.Dropped, _rateLimiter.Delayed);
        }

        if (wait is null)
        {
            e.ProcessPacket = false;
        }
        else if (wait.Value > TimeSpan.Zero)
        {
            // Holds this client's receive loop only: its ack (and its next packets) wait, nobody else's.
            await Task.Delay(wait.Value, _time, e.CancellationToken);
        }
    }

    /// <summary>
    /// The framing closed a connection for an input limit. Before a CONNECT is accepted nobody is authenticated, so a
    /// flood writes one warning line per interval; an accepted client over the packet size is named each time.
    /// </summary>
    void IDevicePublishHandler.InputRefused(DevicePublishChannel channel, MqttInputRefusal refusal, long packetSize)
    {
        if (refusal == MqttInputRefusal.PacketTooLarge)
        {
            Interlocked.Increment(ref _tooLarge);
        }

        if (refusal == MqttInputRefusal.PacketTooLarge && channel.ClientId is not null)
        {
            ProtocolLog.PacketTooLarge(_logger, channel.ClientId ?? "?", channel.RemoteEndPoint.ToString() ?? "?", packetSize, _options.MaxMessageSize);
            return;
        }

        if (_beforeConnect.ShouldLog(out long suppressed))
        {
            string reason = refusal switch
            {
                MqttInputRefusal.ConnectTooLarge => $"its CONNECT announces {packetSize} bytes, the limit is {_options.MaxConnectSize} (--mqtt-max-connect-size)",
                MqttInputRefusal.ConnectTimeout => $"no complete CONNECT within {_options.ConnectTimeout.TotalSeconds:0.###} s (--mqtt-connect-timeout)",
                MqttInputRefusal.PacketTooLarge => $"a packet after its CONNECT announces {packetSize} bytes, the limit is {_options.MaxMessageSize} (--mqtt-max-message-size)",
                _ => "its first packet is not a CONNECT",
            };
            TransportLog.ClosedBeforeConnect(_logger, channel.RemoteEndPoint.ToString() ?? "?", reason, suppressed);
        }
    }

    /// <summary>Not awaited from a packet handler: the disconnect waits for the client's receive loop, which waits for the handler.</summary>
    private async Task DisconnectLaterAsync(string clientId, MqttDisconnectReasonCode reason)
    {
        try
        {
            await _server.DisconnectClientAsync(clientId, reason);
        }
        catch (Exception error)
        {
            ProtocolLog.DisconnectFailed(_logger, clientId, error.Message);
        }
    }

    private async Task OnOutboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttConnAckPacket connAck)
        {
            // MQTTnet advertises "no shared subscriptions" and no size limit; this broker has both.
            connAck.SharedSubscriptionAvailable = true;
            connAck.MaximumPacketSize = (uint)_options.MaxMessageSize;
            return;
        }

        if (e.Packet is not MqttPublishPacket publish)
        {
            return;
        }

        if (!_outbound.ApplyExpiry(publish))
        {
            e.ProcessPacket = false;
            ProtocolLog.ExpiredNotSent(_logger, e.ClientId, publish.Topic);
            return;
        }

        if (!_clients.TryGetValue(e.ClientId, out var state))
        {
            return;
        }

        if (state.MaximumPacketSize > 0 && OutboundRules.MaximumPacketSize(publish) > state.MaximumPacketSize)
        {
            // MQTT 5 §3.1.2.11.4: a message the client cannot take is discarded as if sent.
            e.ProcessPacket = false;
            ProtocolLog.TooLargeForClient(_logger, e.ClientId, publish.Topic, state.MaximumPacketSize);
            return;
        }

        if (state.Window is { } window && publish.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce)
        {
            // Holds this client's send loop only, until it acknowledges an earlier message.
            await window.WaitAsync(e.CancellationToken);
        }
    }

    /// <summary>Called from the subscription interceptor once the ACL allowed the (inner) filter.</summary>
    private void SubscribeShared(InterceptingSubscriptionEventArgs e)
    {
        string filter = e.TopicFilter.Topic;
        if (!SharedSubscriptions.IsShared(filter))
        {
            return;
        }

        // MQTTnet must not store it (its own matching would deliver every message to every member).
        e.ProcessSubscription = false;
        if (!SharedSubscriptions.TryParse(filter, out string group, out string inner))
        {
            e.Response.ReasonCode = MqttSubscribeReasonCode.TopicFilterInvalid;
            return;
        }

        _shared.Subscribe(e.ClientId, e.Session, group, inner, e.TopicFilter.QualityOfServiceLevel);
        ProtocolLog.SharedSubscribed(_logger, e.ClientId, group, inner);
    }

    private Task OnInterceptingUnsubscriptionAsync(InterceptingUnsubscriptionEventArgs e)
    {
        if (SharedSubscriptions.TryParse(e.Topic, out string group, out string inner))
        {
            e.ProcessUnsubscription = false;
            e.Response.ReasonCode = _shared.Unsubscribe(e.ClientId, group, inner) ? MqttUnsubscribeReasonCode.Success : MqttUnsubscribeReasonCode.NoSubscriptionExisted;
        }

        return Task.CompletedTask;
    }

    private Task OnProtocolPublishAsync(InterceptingPublishEventArgs e)
    {
        _outbound.Arrived(e.ApplicationMessage);
        if (e.ProcessPublish && !e.CloseConnection && _shared.GroupCount > 0)
        {
            _shared.Deliver(e.ApplicationMessage, _owners.MayReceive);
        }

        return Task.CompletedTask;
    }

    private Task OnProtocolValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (e.ReasonCode != MqttConnectReasonCode.Success)
        {
            return Task.CompletedTask;
        }

        string clientId = string.IsNullOrEmpty(e.ClientId) && !string.IsNullOrEmpty(e.AssignedClientIdentifier) ? e.AssignedClientIdentifier : e.ClientId;
        bool persistent = e.ProtocolVersion == MqttProtocolVersion.V500 ? e.SessionExpiryInterval > 0 : e.CleanSession == false;
        if (e.CleanSession != false)
        {
            // A clean start drops the old session's subscriptions, shared ones included.
            _shared.RemoveClient(clientId);
            _subscriptions.RemoveClient(clientId);
        }

        if (e.RemoteEndPoint is ChannelEndPoint { Channel: var channel })
        {
            // Accepted: from here on the framing names the client in what it logs.
            channel.ClientId = clientId;
        }

        bool v5 = e.ProtocolVersion == MqttProtocolVersion.V500;
        var window = v5 && e.ReceiveMaximum is > 0 and < ushort.MaxValue ? new InFlightWindow(e.ReceiveMaximum) : null;
        _clients[clientId] = new ClientState(persistent, v5, v5 ? e.MaximumPacketSize : 0, window);
        if (v5)
        {
            _wills.TakeOver(clientId, ConnectionOf(e.RemoteEndPoint), ConnectPacket(e), e.SessionItems);
        }

        return Task.CompletedTask;
    }

    private static string ConnectionOf(EndPoint? remote) => remote?.ToString() ?? "";

    private Task PublishWillAsync(string clientId, MQTTnet.MqttApplicationMessage message, System.Collections.IDictionary items) =>
        _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = clientId, CustomSessionItems = items });

    private Task OnProtocolClientConnectedAsync(ClientConnectedEventArgs e)
    {
        _shared.SetConnected(e.ClientId, connected: true);
        _wills.Connected(e.ClientId);
        return Task.CompletedTask;
    }

    private Task OnProtocolClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType == MqttClientDisconnectType.Takeover)
        {
            return Task.CompletedTask;
        }

        _rateLimiter.Forget(e.ClientId);
        _wills.Disconnected(e.ClientId, ConnectionOf(e.RemoteEndPoint), e.DisconnectType, e.ReasonCode);
        if (_clients.TryRemove(e.ClientId, out var state) && state.Persistent)
        {
            _shared.SetConnected(e.ClientId, connected: false);
        }
        else
        {
            _shared.RemoveClient(e.ClientId);
            _subscriptions.RemoveClient(e.ClientId);
        }

        return Task.CompletedTask;
    }

    private Task OnSessionDeletedAsync(SessionDeletedEventArgs e)
    {
        _shared.RemoveClient(e.Id);
        return Task.CompletedTask;
    }

    private sealed record ClientState(bool Persistent, bool V5, uint MaximumPacketSize, InFlightWindow? Window);
}
