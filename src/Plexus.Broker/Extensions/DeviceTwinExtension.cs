using System.Buffers;
using System.Text;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Devices.Twin;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Desired properties and commands on the broker's side (docs/mqtt.md#desired-properties-and-commands): a command
/// queued for a session of its device is delivered; a device's message on <c>devices/&lt;its id&gt;/responses/&lt;command
/// id&gt;</c> is the command's answer. Who may publish on these topics is the topic ACL's (<see cref="MqttTopicAcl.MayPublishTwinTopic"/>).
/// </summary>
internal sealed class DeviceTwinExtension(DeviceCommands commands, MqttSessionOwnership owners) : IInterceptingPublishHook, IInterceptingEnqueueHook
{
    /// <summary>The session item that marks the server's own desired and command messages (<see cref="PlexusBroker.PublishDesiredAsync"/>).</summary>
    public const string TwinKey = "plexus.twin";

    /// <summary>
    /// An answer is taken only from the device the command went to: the ACL already keeps a device to its own
    /// <c>devices/&lt;id&gt;/</c>, and <see cref="DeviceCommands.Answer"/> ignores a command id of another device. The
    /// message is forwarded as usual, so an application may watch the answers too.
    /// </summary>
    public Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.ProcessPublish
            && TwinTopics.TryParseResponse(e.ApplicationMessage.Topic, out string device, out string commandId)
            && TopicAclExtension.PublisherOf(owners, e) is { Kind: MqttPrincipalKind.Device } principal
            && string.Equals(principal.DeviceId, device, StringComparison.Ordinal))
        {
            var payload = e.ApplicationMessage.Payload;
            commands.Answer(device, commandId, payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray());
        }

        return Task.CompletedTask;
    }

    /// <summary>A command of the server's, accepted into a session of the device it is for: delivered.</summary>
    public Task InterceptingClientEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        if (e.AcceptEnqueue
            && string.Equals(e.SenderClientId, PlexusBroker.ServerClientId, StringComparison.Ordinal)
            && e.ApplicationMessage.CorrelationData is { Length: > 0 } correlation
            && TwinTopics.IsServerOnly(e.ApplicationMessage.Topic)
            && owners.PrincipalOf(e.ReceiverClientId) is { Kind: MqttPrincipalKind.Device, DeviceId: { } receiver }
            && e.ApplicationMessage.Topic.AsSpan(DevicesPrefix.Length).StartsWith(receiver + "/", StringComparison.Ordinal))
        {
            commands.MarkDelivered(receiver, Encoding.UTF8.GetString(correlation));
        }

        return Task.CompletedTask;
    }

    private const string DevicesPrefix = "devices/";
}
