using Plexus.Core;

namespace Plexus.Broker.Auth;

public enum MqttPrincipalKind
{
    /// <summary>An integration or dashboard with an API token: any topic, as its scope allows.</summary>
    Application,

    /// <summary>A registered device (user name = device id, password = its token): only <c>devices/&lt;id&gt;/...</c>.</summary>
    Device,
}

/// <summary>An application's rights over MQTT, from its API token's scope.</summary>
public enum MqttApplicationScope
{
    /// <summary>Subscribe to any topic; no publishing.</summary>
    Read = 1,

    /// <summary>Publish and subscribe to any topic.</summary>
    Write = 2,

    /// <summary>Everything.</summary>
    Admin = 3,
}

/// <summary>Who a connected client is. A class, so the broker can tell one connection's principal from another's by reference.</summary>
public sealed class MqttPrincipal
{
    public const string AdminTokenName = "admin";

    private MqttPrincipal(MqttPrincipalKind kind, string? deviceId, string? tokenName, MqttApplicationScope scope, IReadOnlyList<string>? namespaces = null, MqttTopicRules? topicRules = null)
    {
        TopicRules = topicRules;
        Kind = kind;
        DeviceId = deviceId;
        TokenName = tokenName;
        Scope = scope;
        Namespaces = namespaces;
    }

    /// <summary>An application with the admin token.</summary>
    public static MqttPrincipal AdminApplication => new(MqttPrincipalKind.Application, null, AdminTokenName, MqttApplicationScope.Admin);

    public MqttPrincipalKind Kind { get; }

    /// <summary>The device id for <see cref="MqttPrincipalKind.Device"/>; null for an application.</summary>
    public string? DeviceId { get; }

    /// <summary>The API token's name for an application (<c>admin</c> for the admin token); null for a device.</summary>
    public string? TokenName { get; }

    /// <summary>An application's scope; 0 for a device.</summary>
    public MqttApplicationScope Scope { get; }

    /// <summary>
    /// The namespaces an application's token is limited to (lower case); null for every namespace. A device's data
    /// always goes to its own namespace, so a device has none.
    /// </summary>
    public IReadOnlyList<string>? Namespaces { get; }

    /// <summary>The topic filters an application's token is limited to; null for a device and for a token without them.</summary>
    public MqttTopicRules? TopicRules { get; }

    /// <summary>Whether this principal may see and store data of namespace <paramref name="ns"/>.</summary>
    public bool MayUse(string ns) => Namespaces is null || Namespaces.Contains(ns, StringComparer.Ordinal);

    public static MqttPrincipal Device(string deviceId)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        return new MqttPrincipal(MqttPrincipalKind.Device, deviceId, null, 0);
    }

    /// <summary>A device that authenticated with a client certificate (TLS), whose SHA-256 thumbprint decides whether the connection outlives a change of the device's certificates.</summary>
    public static MqttPrincipal DeviceWithCertificate(string deviceId, string certificateThumbprint)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentException.ThrowIfNullOrEmpty(certificateThumbprint);
        return new MqttPrincipal(MqttPrincipalKind.Device, deviceId, null, 0) { CertificateThumbprint = certificateThumbprint };
    }

    /// <summary>The SHA-256 thumbprint (lower-case hex) of the client certificate a device authenticated with; null for a token.</summary>
    public string? CertificateThumbprint { get; private init; }

    public static MqttPrincipal Application(string tokenName, MqttApplicationScope scope, IReadOnlyList<string>? namespaces = null, MqttTopicRules? topicRules = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenName);
        return new MqttPrincipal(MqttPrincipalKind.Application, null, tokenName, scope, namespaces, topicRules);
    }

    public override string ToString() => Kind == MqttPrincipalKind.Device
        ? "device " + DeviceId
        : Namespaces is null
            ? $"application {TokenName} (scope {Scope.ToString().ToLowerInvariant()})"
            : $"application {TokenName} (scope {Scope.ToString().ToLowerInvariant()}, namespaces {string.Join(", ", Namespaces)})";
}
