using System.Text;
using System.Text.Unicode;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Broker.Devices;
using Plexus.Broker.Transport;
using Plexus.Pipeline.Devices;

namespace Plexus.Broker;

/// <summary>
/// The device fast path: which PUBLISH packets may be stored without MQTTnet seeing them. Only what MQTTnet would
/// have nothing to do with qualifies, so the two paths store and answer alike:
/// <list type="bullet">
/// <item>a connection over TCP (plain or TLS) of a device publishing to its own <c>telemetry</c>, <c>telemetry/&lt;m&gt;</c>,
/// <c>senml</c> or <c>lp</c> topic, or of an application whose token may write to any device's (the ACL holds by
/// construction);</item>
/// <item>QoS 0 or 1, not retained, no MQTT 5 properties (no topic alias, content type or expiry to honour);</item>
/// <item>no subscription, shared or not, matches the topic, so there is nobody to forward it to;</item>
/// <item>no rate limit configured, the broker not stopping, and the payload decodes.</item>
/// </list>
/// Anything else, including every payload that does not decode, goes to MQTTnet and the ordinary interceptor, which
/// refuses, dead-letters or forwards as before.
/// </summary>
public sealed partial class PlexusBroker : IDevicePublishHandler
{
    private readonly SubscriptionIndex _subscriptions = new();
    private long _fastPathMessages;

    /// <summary>Device messages stored through the fast path (the rest went through MQTTnet).</summary>
    public long FastPathMessages => Interlocked.Read(ref _fastPathMessages);

    private void AttachFastPath()
    {
        _ingest.PrepareSharedBatches();
        _server.ClientConnectedAsync += OnFastPathClientConnectedAsync;
        _server.ClientUnsubscribedTopicAsync += e =>
        {
            _subscriptions.Remove(e.ClientId, e.TopicFilter);
            return Task.CompletedTask;
        };
        _server.SessionDeletedAsync += e =>
        {
            _subscriptions.RemoveClient(e.Id);
            return Task.CompletedTask;
        };
    }

    private Task OnFastPathClientConnectedAsync(ClientConnectedEventArgs e)
    {
        if (e.RemoteEndPoint is not ChannelEndPoint { Channel: var channel })
        {
            return Task.CompletedTask;
        }

        channel.ClientId = e.ClientId;
        uint maximumPacketSize = _clients.TryGetValue(e.ClientId, out var state) ? state.MaximumPacketSize : 0;
        switch (PrincipalOf(e.ClientId))
        {
            case { Kind: MqttPrincipalKind.Device, DeviceId: { } deviceId }:
                channel.Enable(FastPathIdentity.ForDevice(e.ClientId, deviceId, maximumPacketSize));
                break;
            case { Kind: MqttPrincipalKind.Application } application when MqttTopicAcl.MayPublish(application, DeviceTopic.Prefix):
                channel.Enable(FastPathIdentity.ForApplication(e.ClientId, maximumPacketSize));
                break;
        }

        return Task.CompletedTask;
    }

    Task IDevicePublishHandler.WhenStoredAsync(long sequence) => _ingest.WhenStoredAsync(sequence);

    Task? IDevicePublishHandler.Commit(DevicePublishChannel channel, out long sequence) => _ingest.Commit(channel.Staging, out sequence);

    DeviceIngest.IngestStaging IDevicePublishHandler.CreateStaging() => new();

    bool IDevicePublishHandler.TryTake(DevicePublishChannel channel, FastPathIdentity identity, in PublishView publish)
    {
        if (publish.Retain || publish.HasProperties || publish.Qos > 1
            || _rateLimiter.Enabled || Volatile.Read(ref _stopping) != 0 || _shared.GroupCount > 0
            || !TryParseDataTopic(identity, publish.Topic, out DeviceTopic topic)
            || _subscriptions.AnyMatch(publish.Topic))
        {
            return false;
        }

        AppendStatus status = _ingest.Stage(channel.Staging, topic, publish.Payload, publish.Qos == 1 ? channel : null, publish.PacketId);
        if (status != AppendStatus.Appended)
        {
            return false;
        }

        // A device's last seen and its connection's activity at most every 50 ms: two dictionary updates per message
        // were a few per cent of the CPU of a QoS 1 message, for a precision nobody reads. An application speaks for
        // many devices, so each of its messages marks its device.
        long now = _time.GetTimestamp();
        bool due = now >= identity.NextActivityUpdate;
        if (due)
        {
            identity.NextActivityUpdate = now + _activityUpdateInterval;
            _connectivity?.Activity(identity.ClientId);
        }

        if (due || identity.DeviceId is null)
        {
            _ingest.Touch(topic.DeviceId);
        }

        Interlocked.Increment(ref _fastPathMessages);
        return true;
    }

    /// <summary>
    /// A device's own data topics, or any device's for an application, read from UTF-8 (a measurement name and an
    /// application's device id are cached per connection, so a repeated one allocates nothing).
    /// </summary>
    private static bool TryParseDataTopic(FastPathIdentity identity, ReadOnlySpan<byte> topic, out DeviceTopic result)
    {
        result = default;
        if (!topic.StartsWith(identity.TopicPrefix))
        {
            return false;
        }

        ReadOnlySpan<byte> kind = topic[identity.TopicPrefix.Length..];
        string deviceId;
        if (identity.DeviceId is { } own)
        {
            deviceId = own;
        }
        else
        {
            int slash = kind.IndexOf((byte)'/');
            if (slash < 0 || !IsPlainLevel(kind[..slash]))
            {
                return false;
            }

            deviceId = CachedString(ref identity.LastDevice, kind[..slash]);

            kind = kind[(slash + 1)..];
        }

        if (kind.SequenceEqual("telemetry"u8))
        {
            result = new DeviceTopic(DeviceTopicKind.Telemetry, deviceId, DeviceTopic.DefaultTelemetryMeasurement);
            return true;
        }

        if (kind.SequenceEqual("senml"u8))
        {
            result = new DeviceTopic(DeviceTopicKind.SenMl, deviceId, DeviceTopic.SenMlMeasurement);
            return true;
        }

        if (kind.SequenceEqual("lp"u8))
        {
            result = new DeviceTopic(DeviceTopicKind.LineProtocol, deviceId, string.Empty);
            return true;
        }

        if (!kind.StartsWith("telemetry/"u8))
        {
            return false;
        }

        ReadOnlySpan<byte> name = kind["telemetry/".Length..];
        if (!IsPlainLevel(name))
        {
            return false;
        }

        result = new DeviceTopic(DeviceTopicKind.Telemetry, deviceId, CachedString(ref identity.LastMeasurement, name));
        return true;
    }

    /// <summary>One non-empty topic level the ordinary path would take as it is: no wildcard, no control character, valid UTF-8.</summary>
    private static bool IsPlainLevel(ReadOnlySpan<byte> level) =>
        !level.IsEmpty && level.IndexOfAny("/+#"u8) < 0 && level.IndexOfAnyInRange((byte)0, (byte)0x1F) < 0 && !level.Contains((byte)0x7F) && Utf8.IsValid(level);

    /// <summary>The text of <paramref name="utf8"/>, from <paramref name="last"/> when it repeats: a connection usually does.</summary>
    private static string CachedString(ref (byte[] Bytes, string Text)? last, ReadOnlySpan<byte> utf8)
    {
        if (last is not { } cached || !cached.Bytes.AsSpan().SequenceEqual(utf8))
        {
            cached = (utf8.ToArray(), Encoding.UTF8.GetString(utf8));
            last = cached;
        }

        return cached.Text;
    }
}
