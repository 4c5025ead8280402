using Plexus.Devices.Twin;

namespace Plexus.Broker.Auth;

/// <summary>
/// The topic ACL: an application may subscribe anywhere and, with scope write or admin, publish
/// anywhere; a device only under <c>devices/&lt;its id&gt;/</c>. Device ids never hold <c>/</c>, <c>+</c> or <c>#</c> (the
/// registry refuses them), so a filter that starts with the device's own prefix cannot reach another device's topics.
/// An application whose token is limited to namespaces without <see cref="DeviceNamespace"/> may neither publish to
/// device topics (they store into that namespace) nor subscribe to a filter that can match one (<c>devices/#</c>,
/// <c>+/…</c>, <c>#</c>). An application's token may also carry topic filters (<see cref="MqttPrincipal.TopicRules"/>):
/// allow lists narrow what its scope permits, deny lists win over everything. Devices never have them, so their checks
/// (the fast path's too) cost what they did.
/// </summary>
public static class MqttTopicAcl
{
    /// <summary>The namespace device topics store into (<see cref="PlexusBrokerOptions.Namespace"/>'s default).</summary>
    public const string DeviceNamespace = "main";

    private const string DeviceLevel = "devices";

    public static bool MayPublish(MqttPrincipal? principal, string? topic) => principal is not null && (principal.Kind == MqttPrincipalKind.Application
        ? principal.Scope >= MqttApplicationScope.Write && (principal.MayUse(DeviceNamespace) || !FirstLevelMayBeDevices(topic))
            && (principal.TopicRules is null || (topic is not null && principal.TopicRules.AllowsPublish(topic)))
        : IsUnderOwnPrefix(principal, topic));

    /// <summary>
    /// A device may subscribe to filters under its own prefix only: <c>devices/d1/#</c> yes, <c>devices/+/telemetry</c>,
    /// <c>#</c> and <c>$share/...</c> no.
    /// </summary>
    public static bool MaySubscribe(MqttPrincipal? principal, string? filter) => principal is not null && (principal.Kind == MqttPrincipalKind.Application
        ? (principal.MayUse(DeviceNamespace) || !FirstLevelMayBeDevices(filter))
            && (principal.TopicRules is null || (filter is not null && principal.TopicRules.AllowsSubscription(filter)))
        : IsUnderOwnPrefix(principal, filter));

    /// <summary>
    /// The topics of desired properties and commands (docs/mqtt.md#desired-properties-and-commands), beyond
    /// <see cref="MayPublish"/>: <c>devices/&lt;id&gt;/desired</c> and <c>devices/&lt;id&gt;/commands/…</c> only Plexus
    /// publishes (<paramref name="fromServerTwin"/>: its own desired and command messages; not a rule's action, nor any
    /// client, the device itself included, so nobody overwrites the retained desired state or sends an unrecorded
    /// command); <c>devices/&lt;id&gt;/responses/…</c> only a device (its own, by <see cref="MayPublish"/>), so no
    /// application answers for it. Every other topic: true.
    /// </summary>
    public static bool MayPublishTwinTopic(MqttPrincipal? principal, string? topic, bool fromServerTwin) =>
        TwinTopics.IsServerOnly(topic) ? fromServerTwin
        : !TwinTopics.IsResponse(topic) || principal is { Kind: MqttPrincipalKind.Device };

    /// <summary>True when the topic or filter is under <c>devices/</c> or its first level is a wildcard that matches it.</summary>
    private static bool FirstLevelMayBeDevices(string? topicOrFilter)
    {
        if (topicOrFilter is null)
        {
            return true;
        }

        int slash = topicOrFilter.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? topicOrFilter.AsSpan() : topicOrFilter.AsSpan(0, slash);
        return first is DeviceLevel or "+" or "#";
    }

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
