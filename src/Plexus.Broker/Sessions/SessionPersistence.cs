using System.Collections;
using Microsoft.Extensions.Logging;
using MQTTnet.Internal;
using MQTTnet.Packets;
using MQTTnet.Server;
using MQTTnet.Server.Internal;
using Plexus.Broker.Auth;
using Plexus.Broker.Extensions;
using TopicFilter = MQTTnet.Packets.MqttTopicFilter;

namespace Plexus.Broker.Sessions;

/// <summary>
/// Persistent MQTT sessions survive a restart (<see cref="MqttSessionFile"/>): their owner, expiry, subscriptions and
/// queued QoS 1/2 messages are saved while the broker runs and restored into MQTTnet before the listeners accept a
/// client, so a client that comes back with clean start off finds its session (CONNACK session present) as if the
/// server had never stopped.
/// </summary>
/// <remarks>
/// Design note: what is saved when. MQTTnet keeps sessions in memory only; the hooks below mark the set changed
/// (a subscription, a session that began or ended, a message queued for or acknowledged by a persistent session) and
/// a background loop writes a whole snapshot at most every <see cref="SaveInterval"/>, and once more when the broker
/// stops, after every connection closed:
/// <code>
///   change ──▶ dirty ──(≤ SaveInterval)──▶ snapshot of MQTTnet's sessions ──▶ temp file, fsync, rename, fsync folder
///   graceful stop: connections closed ──▶ last snapshot (nothing lost)
///   SIGKILL / power cut: the last snapshot (the changes of at most SaveInterval are lost)
/// </code>
/// A snapshot, rather than a journal of every queued and acknowledged message, keeps the MQTT delivery path free of
/// disk writes: a message queued for a persistent session costs one dictionary lookup and a flag.
/// </remarks>
internal sealed class SessionPersistence :
    IClientConnectedHook, IClientDisconnectedHook, ISessionDeletedHook, IClientSubscribedHook, IClientUnsubscribedHook,
    IEnqueuedOrDroppedHook, IClientAcknowledgedPublishHook, IDisposable
{
    /// <summary>The longest a change waits to be saved: what a SIGKILL can lose.</summary>
    public static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(1);

    private readonly MqttServer _server;
    private readonly MqttSessionFile _file;
    private readonly MqttSessionOwnership _owners;
    private readonly ConnectedClients _clients;
    private readonly OutboundRules _outbound;
    private readonly long _maxBytes;
    private readonly int _maxMessagesPerSession;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _saving = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;
    private int _dirty;
    private bool _overLimit;

    public SessionPersistence(MqttServer server, MqttSessionFile file, MqttSessionOwnership owners, ConnectedClients clients, OutboundRules outbound, long maxBytes, int maxMessagesPerSession, TimeProvider time, ILogger logger)
    {
        _server = server;
        _file = file;
        _owners = owners;
        _clients = clients;
        _outbound = outbound;
        _maxBytes = maxBytes;
        _maxMessagesPerSession = maxMessagesPerSession;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Restores the saved sessions into MQTTnet before it starts: each a session as MQTTnet makes one at a CONNECT,
    /// marked disconnected since the saved time, its subscriptions made again through the subscription hooks (the
    /// topic ACL judges them again) and its messages queued. Expired sessions and messages are left out.
    /// </summary>
    public async Task RestoreAsync()
    {
        var manager = MqttNetSessions.SessionsManager(_server);
        var now = _time.GetUtcNow();
        int restored = 0, messages = 0, expired = 0;
        foreach (var saved in _file.Read())
        {
            if (saved.ExpiredAt(now))
            {
                expired++;
                continue;
            }

            if (!_owners.TryClaim(saved.ClientId, saved.Owner, out _))
            {
                SessionLog.NotRestored(_logger, saved.ClientId, "the file holds it twice");
                continue;
            }

            var session = new MqttSession(
                new MqttConnectPacket { ClientId = saved.ClientId, CleanSession = false, SessionExpiryInterval = saved.ExpiryInterval },
                new Hashtable { [ConnectionEvents.PrincipalKey] = saved.Owner },
                MqttNetSessions.Options(_server),
                MqttNetSessions.Events(_server),
                MqttNetSessions.RetainedMessages(_server),
                manager)
            { DisconnectedTimestamp = saved.LeftAt.UtcDateTime };
            MqttNetSessions.Storage(manager).UpdateSession(saved.ClientId, session);
            _owners.Connected(saved.ClientId);

            // One SUBSCRIBE per subscription identifier, as the client sent them; the retained messages are not sent again.
            foreach (var group in saved.Subscriptions.GroupBy(s => s.Identifier))
            {
                var subscribe = new MqttSubscribePacket { SubscriptionIdentifier = group.Key };
                subscribe.TopicFilters.AddRange(group.Select(s => new TopicFilter
                {
                    Topic = s.Filter,
                    QualityOfServiceLevel = s.QualityOfService,
                    NoLocal = s.NoLocal,
                    RetainAsPublished = s.RetainAsPublished,
                    RetainHandling = s.RetainHandling,
                }));
                await session.Subscribe(subscribe, CancellationToken.None);
            }

            foreach (var message in saved.Messages)
            {
                if (message.ExpiresAt is { } expiresAt)
                {
                    if (expiresAt <= now)
                    {
                        continue;
                    }

                    _outbound.Restored(message.Packet, expiresAt - now);
                }

                session.EnqueueDataPacket(new MqttPacketBusItem(message.Packet));
                messages++;
            }

            restored++;
        }

        if (restored + expired > 0)
        {
            SessionLog.Restored(_logger, restored, messages, _file.Path, expired);
        }

        // A file read is saved again soon: expired sessions leave it, and a damaged tail is cut off.
        if (File.Exists(_file.Path))
        {
            Interlocked.Exchange(ref _dirty, 1);
        }
    }

    /// <summary>Starts the loop that saves changed sessions at most every <see cref="SaveInterval"/>.</summary>
    public void Start() => _loop = SaveLoopAsync(_stopping.Token);

    /// <summary>Stops the loop and saves the sessions as they are now (call after every connection closed).</summary>
    public async Task StopAsync()
    {
        await _stopping.CancelAsync();
        await _loop;
        Save();
        Dispose();
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>Writes the snapshot now; a failure is logged and retried by the next change.</summary>
    public void Save()
    {
        lock (_saving)
        {
            Interlocked.Exchange(ref _dirty, 0);
            try
            {
                var (contents, sessionsLeftOut, messagesLeftOut) = MqttSessionFile.Encode(Capture(), _maxBytes);
                bool overLimit = sessionsLeftOut + messagesLeftOut > 0;
                if (overLimit && !_overLimit)
                {
                    SessionLog.OverLimit(_logger, _maxBytes, sessionsLeftOut, messagesLeftOut);
                }

                _overLimit = overLimit;
                _file.Write(contents);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                Interlocked.Exchange(ref _dirty, 1);
                SessionLog.SaveFailed(_logger, error, _file.Path);
            }
        }
    }

    public Task ClientConnectedAsync(ClientConnectedEventArgs e) => Changed(e.ClientId);

    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e) => Changed(e.ClientId);

    public Task SessionDeletedAsync(SessionDeletedEventArgs e) => Changed(e.Id);

    public Task ClientSubscribedTopicAsync(ClientSubscribedTopicEventArgs e) => Changed(e.ClientId);

    public Task ClientUnsubscribedTopicAsync(ClientUnsubscribedTopicEventArgs e) => Changed(e.ClientId);

    public Task ApplicationMessageEnqueuedOrDroppedAsync(ApplicationMessageEnqueuedEventArgs e) =>
        e.ApplicationMessage.QualityOfServiceLevel == MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce ? Task.CompletedTask : Changed(e.ReceiverClientId);

    public Task ClientAcknowledgedPublishPacketAsync(ClientAcknowledgedPublishPacketEventArgs e) =>
        e.IsCompleted ? Changed(e.ClientId) : Task.CompletedTask;

    /// <summary>
    /// Hot path (every message queued for a subscriber): a connected client without a persistent session changes
    /// nothing saved. A client not connected has a persistent session, or it would have none to queue into.
    /// </summary>
    private Task Changed(string clientId)
    {
        if ((!_clients.TryGet(clientId, out var client) || client.Persistent) && Volatile.Read(ref _dirty) == 0)
        {
            Interlocked.Exchange(ref _dirty, 1);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Saves when something changed, at most every <see cref="SaveInterval"/>, and never spends more than a tenth of
    /// the time saving: after a save that took 300 ms the next waits 3 s, so a large file of queued messages costs
    /// bounded disk and processor time, at the price of a longer window a SIGKILL can lose.
    /// </summary>
    private async Task SaveLoopAsync(CancellationToken stopping)
    {
        var wait = SaveInterval;
        try
        {
            while (true)
            {
                await Task.Delay(wait, _time, stopping);
                if (Volatile.Read(ref _dirty) == 0)
                {
                    wait = SaveInterval;
                    continue;
                }

                long started = _time.GetTimestamp();
                await Task.Run(Save, stopping);
                var took = _time.GetElapsedTime(started);
                wait = took * 10 > SaveInterval ? took * 10 : SaveInterval;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The persistent sessions MQTTnet holds now, with what a restart needs of each; expired and revoked ones are left out.</summary>
    private List<PersistedSession> Capture()
    {
        var now = _time.GetUtcNow();
        var manager = MqttNetSessions.SessionsManager(_server);
        var sessions = new List<PersistedSession>();
        foreach (var status in manager.GetSessionsStatus().GetAwaiter().GetResult())
        {
            var session = MqttNetSessions.Session(status);
            if (session.ExpiryInterval == 0 || _owners.PrincipalOf(session.Id) is not { } owner)
            {
                continue;
            }

            // A session whose client is connected (no disconnect time) counts as left now: if the server dies
            // before the next save, its client left at the latest then.
            var leftAt = session.DisconnectedTimestamp is { } left ? new DateTimeOffset(DateTime.SpecifyKind(left, DateTimeKind.Utc)) : now;
            var subscriptions = MqttNetSessions.SubscriptionsOf(session).Select(s =>
                new PersistedSubscription(s.Topic, s.GrantedQualityOfServiceLevel, s.NoLocal, s.RetainAsPublished, s.RetainHandling, s.Identifier)).ToList();

            // MQTTnet's overflow drops the oldest queued messages but keeps them in this list: the newest that fit the
            // queue limit are what it would still deliver.
            var unacknowledged = MqttNetSessions.UnacknowledgedOf(session);
            var messages = new List<PersistedMessage>(Math.Min(unacknowledged.Count, _maxMessagesPerSession));
            foreach (var packet in unacknowledged.Skip(Math.Max(0, unacknowledged.Count - _maxMessagesPerSession)))
            {
                TimeSpan? remaining = _outbound.Remaining(packet);
                if (remaining is not { } life || life > TimeSpan.Zero)
                {
                    messages.Add(new PersistedMessage(packet, now + remaining));
                }
            }

            var saved = new PersistedSession(session.Id, owner, session.ExpiryInterval, leftAt, subscriptions, messages);
            if (!saved.ExpiredAt(now))
            {
                sessions.Add(saved);
            }
        }

        return sessions;
    }
}
