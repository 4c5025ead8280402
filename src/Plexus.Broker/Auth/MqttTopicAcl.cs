namespace Plexus.Broker.Auth;

/// <summary>
/// The topic ACL: an application may subscribe anywhere and, with scope write or admin, publish
/// anywhere; a device only under <c>devices/&lt;its id&gt;/</c>. Device ids never hold <c>/</c>, <c>+</c> or <c>#</c> (the
/// registry refuses them), so a filter that starts with the device's own prefix cannot reach another device's topics.
/// </summary>
public static class MqttTopicAcl
{
    public static bool MayPublish(MqttPrincipal? principal, string? topic) => principal is not null && (principal.Kind == MqttPrincipalKind.Application
        ? principal.Scope >= MqttApplicationScope.Write
        : IsUnderOwnPrefix(principal, topic));

    /// <summary>
    /// A device may subscribe to filters under its own prefix only: <c>devices/d1/#</c> yes, <c>devices/+/telemetry</c>,
    /// <c>#</c> and <c>$share/...</c> no.
    /// </summary>
    public static bool MaySubscribe(MqttPrincipal? principal, string? filter) => principal is not null && (principal.Kind == MqttPrincipalKind.Application || IsUnderOwnPrefix(principal, filter));

    private static bool IsUnderOwnPrefix(MqttPrincipal principal, string? topic)
    {
        string id = principal.DeviceId!;
        const string Prefix = "devices/";
        return topic is not null
            && topic.Length > Prefix.Length + id.Length + 1
            && topic.StartsWith(Prefix, StringComparison.Ordinal)
            && topic.AsSpan(Prefix.Length).StartsWith(id, StringComparison.Ordinal)
            && topic[Prefix.Length + id.Length] == '/';
    }
}
