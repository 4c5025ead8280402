using System.Collections.Concurrent;

namespace Plexus.Broker.Auth;

/// <summary>
/// Which principal a client id belongs to: the one whose CONNECT created its session, for as long as that session
/// exists (a persistent session also while its client is away, until it expires or a clean start replaces it). A
/// different principal connecting with the id is refused, so it neither resumes the session nor kicks the owner off;
/// the owner itself may take over, as MQTT allows. Delivery asks here too: a revoked principal receives nothing more,
/// even into a persistent session, until it connects again with valid credentials.
/// </summary>
/// <remarks>
/// Design note: MQTTnet validates a CONNECT before it creates or resumes the session, and a session it drops on
/// expiry raises no event, so an owner entry outlives nothing by itself. An entry of another principal is held to:
/// <code>
///   claimed (CONNECT accepted) ──▶ pending until ClientConnected, at most PendingClaimTimeout
///                                 ──▶ live while MQTTnet holds a session for the id
///   session deleted (clean disconnect, clean start of a non-persistent session) ──▶ entry removed
///   no session and not pending (MQTTnet expired it) ──▶ the next principal's claim replaces the entry
/// </code>
/// Two CONNECTs of different principals racing for a new id: the first claim wins and is pending, so the second is
/// refused even though the session does not exist yet.
/// </remarks>
internal sealed class MqttSessionOwnership
{
    /// <summary>How long an accepted CONNECT protects its claim before its session exists (MQTTnet creates it right after).</summary>
    public static readonly TimeSpan PendingClaimTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Owner> _owners = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly Func<string, bool> _sessionExists;

    /// <param name="sessionExists">Whether the broker holds a session (connected or not, not expired) for a client id.</param>
    public MqttSessionOwnership(TimeProvider time, Func<string, bool> sessionExists)
    {
        _time = time;
        _sessionExists = sessionExists;
    }

    /// <summary>
    /// Claims <paramref name="clientId"/> for <paramref name="principal"/> at an accepted CONNECT. False when it belongs
    /// to another principal; <paramref name="owner"/> then names it.
    /// </summary>
    public bool TryClaim(string clientId, MqttPrincipal principal, out MqttPrincipal? owner)
    {
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        ArgumentNullException.ThrowIfNull(principal);
        string identity = IdentityOf(principal);
        long pendingUntil = _time.GetTimestamp() + (long)(PendingClaimTimeout.TotalSeconds * _time.TimestampFrequency);
        lock (_lock)
        {
            if (_owners.TryGetValue(clientId, out var current) && current.Identity != identity && IsHeld(clientId, current))
            {
                owner = current.Principal;
                return false;
            }

            // The same principal again (a reconnect or takeover) gets a fresh, unrevoked entry with its new credentials.
            _owners[clientId] = new Owner(principal, identity, pendingUntil);
            owner = principal;
            return true;
        }
    }

    /// <summary>The client's session exists now: its claim no longer needs the pending protection.</summary>
    public void Connected(string clientId)
    {
        if (_owners.TryGetValue(clientId, out var owner))
        {
            owner.PendingUntil = 0;
        }
    }

    /// <summary>The session of <paramref name="clientId"/> was deleted: the id is free again, unless a new CONNECT already claimed it.</summary>
    public void SessionEnded(string clientId)
    {
        lock (_lock)
        {
            if (_owners.TryGetValue(clientId, out var owner) && !IsPending(owner))
            {
                _owners.TryRemove(clientId, out _);
            }
        }
    }

    /// <summary>The principal the client id's session belongs to; null when there is none or it was revoked.</summary>
    public MqttPrincipal? PrincipalOf(string clientId) =>
        _owners.TryGetValue(clientId, out var owner) && !owner.Revoked ? owner.Principal : null;

    /// <summary>Whether the client id has an owner entry (a session or a pending claim), revoked or not.</summary>
    public bool HasOwner(string clientId) => _owners.ContainsKey(clientId);

    /// <summary>Whether a message on <paramref name="topic"/> may be queued for <paramref name="clientId"/>: its owner is not revoked and may read the topic.</summary>
    public bool MayReceive(string clientId, string? topic)
    {
        var principal = PrincipalOf(clientId);
        return MqttTopicAcl.MaySubscribe(principal, topic) && AclFileAllows(principal, clientId, topic, read: true);
    }

    /// <summary>The MQTT ACL file in force, for applications; null when there is none.</summary>
    public MqttAclFileSource? AclFile { get; set; }

    /// <summary>
    /// Whether the ACL file lets an application read (subscribe to, receive) or write (publish) a topic or filter.
    /// Devices and the admin token are not judged by it (a device's ACL is fixed, and its checks stay as cheap as they were).
    /// </summary>
    public bool AclFileAllows(MqttPrincipal? principal, string clientId, string? topicOrFilter, bool read)
    {
        if (AclFile is not { } file || principal is not { Kind: MqttPrincipalKind.Application } application || application.TokenName == MqttPrincipal.AdminTokenName)
        {
            return true;
        }

        return topicOrFilter is not null && (read
            ? file.Current.MayRead(application.TokenName!, clientId, topicOrFilter)
            : file.Current.MayWrite(application.TokenName!, clientId, topicOrFilter));
    }

    /// <summary>Marks every session of a matching principal revoked (it receives nothing more) and returns their client ids.</summary>
    public List<string> Revoke(Func<MqttPrincipal, bool> matches)
    {
        var revoked = new List<string>();
        foreach (var (clientId, owner) in _owners)
        {
            if (matches(owner.Principal))
            {
                owner.Revoked = true;
                revoked.Add(clientId);
            }
        }

        return revoked;
    }

    /// <summary>Client ids with an owner entry (sessions, connected or not, and pending claims).</summary>
    public int Count => _owners.Count;

    /// <summary>Who a principal is, across connections and credentials: a device by its id, an application by its token's name.</summary>
    public static string IdentityOf(MqttPrincipal principal) => principal.Kind == MqttPrincipalKind.Device
        ? "device:" + principal.DeviceId
        : "application:" + principal.TokenName!.ToLowerInvariant();

    private bool IsHeld(string clientId, Owner owner) => IsPending(owner) || _sessionExists(clientId);

    private bool IsPending(Owner owner) => owner.PendingUntil != 0 && _time.GetTimestamp() < owner.PendingUntil;

    private sealed class Owner(MqttPrincipal principal, string identity, long pendingUntil)
    {
        public MqttPrincipal Principal { get; } = principal;

        public string Identity { get; } = identity;

        public long PendingUntil { get; set; } = pendingUntil;

        public volatile bool Revoked;
    }
}
