using System.Text;
using System.Text.Unicode;
using Microsoft.Extensions.Logging;
using MQTTnet.Server;
using Plexus.Broker.Auth;
using Plexus.Broker.Devices;
using Plexus.Broker.Transport;
using Plexus.Pipeline.Devices;

namespace Plexus.Broker.Extensions;

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
internal sealed class DeviceFastPath : IDevicePublishHandler, IValidatingConnectionHook, IClientConnectedHook
{
    private readonly DeviceIngest _ingest;
    private readonly SubscriptionIndex _subscriptions;
    private readonly SharedSubscriptions _shared;
    private readonly ClientRateLimiter _rateLimiter;
    private readonly PublishGate _gate;
    private readonly DeviceConnectivity? _connectivity;
    private readonly MqttSessionOwnership _owners;
    private readonly ConnectedClients _clients;
    private readonly TimeProvider _time;
    private readonly long _activityUpdateInterval;
    private readonly PlexusBrokerOptions _options;
    private readonly ILogger _logger;
    private readonly RateLimitedWarning _beforeConnect;
    private long _fastPathMessages;
    private long _tooLarge;

    public DeviceFastPath(
        DeviceIngest ingest,
        SubscriptionIndex subscriptions,
        SharedSubscriptions shared,
        ClientRateLimiter rateLimiter,
        PublishGate gate,
        DeviceConnectivity? connectivity,
        MqttSessionOwnership owners,
        ConnectedClients clients,
        PlexusBrokerOptions options,
        TimeProvider time,
        ILogger logger)
    {
        _ingest = ingest;
        _subscriptions = subscriptions;
        _shared = shared;
        _rateLimiter = rateLimiter;
        _gate = gate;
        _connectivity = connectivity;
        _owners = owners;
        _clients = clients;
        _options = options;
        _time = time;
        _activityUpdateInterval = time.TimestampFrequency / 20;
        _logger = logger;
        _beforeConnect = new RateLimitedWarning(time, ConnectionAdmission.LogInterval);
        _ingest.PrepareSharedBatches();
    }

    /// <summary>Device messages stored through the fast path (the rest went through MQTTnet).</summary>
    public long FastPathMessages => Interlocked.Read(ref _fastPathMessages);

    /// <summary>Packets refused as larger than <see cref="PlexusBrokerOptions.MaxMessageSize"/>.</summary>
    public long TooLargeRefused => Interlocked.Read(ref _tooLarge);

    /// <summary>Accepted: from here on the framing names the client in what it logs.</summary>
    public Task ValidatingConnectionAsync(ValidatingConnectionEventArgs e)
    {
        if (ConnectionEvents.IsAccepted(e) && ConnectionEvents.ChannelOf(e.RemoteEndPoint) is { } channel)
        {
            channel.ClientId = ConnectionEvents.ClientIdOf(e);
            if (e.ProtocolVersion == MQTTnet.Formatter.MqttProtocolVersion.V500)
            {
                channel.LimitOutbound(e.ReceiveMaximum, e.TopicAliasMaximum);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Switches the connection's own channel to the fast path for a device, or an application that may write device data.</summary>
    public Task ClientConnectedAsync(ClientConnectedEventArgs e)
    {
        if (ConnectionEvents.ChannelOf(e.RemoteEndPoint) is not { } channel)
        {
            return Task.CompletedTask;
        }

        channel.ClientId = e.ClientId;
        uint maximumPacketSize = _clients.TryGet(e.ClientId, out var client) ? client.MaximumPacketSize : 0;
        switch (_owners.PrincipalOf(e.ClientId))
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

    public Task WhenStoredAsync(long sequence) => _ingest.WhenStoredAsync(sequence);

    public Task? Commit(DevicePublishChannel channel, out long sequence) => _ingest.Commit(channel.Staging, out sequence);

    public DeviceIngest.IngestStaging CreateStaging() => new();

    public bool TryTake(DevicePublishChannel channel, FastPathIdentity identity, in PublishView publish)
    {
        if (publish.Retain || publish.HasProperties || publish.Qos > 1
            || _rateLimiter.Enabled || _gate.IsStopping || _shared.GroupCount > 0
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

    /// <summary>
    /// The framing closed a connection for an input limit. Before a CONNECT is accepted nobody is authenticated, so a
    /// flood writes one warning line per interval; an accepted client over the packet size is named each time.
    /// </summary>
    public void InputRefused(DevicePublishChannel channel, MqttInputRefusal refusal, long packetSize)
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

        string? violation = refusal switch
        {
            MqttInputRefusal.ReceiveMaximumExceeded => $"0x93 Receive Maximum exceeded: more than {_options.ReceiveMaximum} QoS 1/2 messages unacknowledged, the Receive Maximum the CONNACK advertised (--mqtt-receive-maximum)",
            MqttInputRefusal.TopicAliasInvalid => $"0x94 Topic Alias invalid: alias {packetSize}, the CONNACK allowed 1 to {_options.TopicAliasMaximum} (--mqtt-max-topic-aliases)",
            MqttInputRefusal.TopicAliasUnknown => "0x82 Protocol error: a PUBLISH without a topic name and with no topic alias set earlier on the connection",
            MqttInputRefusal.PublishHeaderTooLarge => $"0x83 Implementation specific error: a PUBLISH whose topic and properties take more than {packetSize} bytes (the broker checks them before the payload; send large data in the payload)",
            _ => null,
        };
        if (violation is not null)
        {
            ProtocolLog.ProtocolViolation(_logger, channel.ClientId ?? "?", channel.RemoteEndPoint.ToString() ?? "?", violation);
            return;
        }

        if (_beforeConnect.ShouldLog(out long suppressed))
        {
            string reason = refusal switch
            {
                MqttInputRefusal.ConnectTooLarge => $"its CONNECT announces {packetSize} bytes, the limit is {_options.MaxConnectSize} (--mqtt-max-connect-size)",
                MqttInputRefusal.ConnectTimeout => $"no complete CONNECT within {_options.ConnectTimeout.TotalSeconds:0.###} s (--mqtt-connect-timeout)",
                MqttInputRefusal.PacketTooLarge => $"a packet after its CONNECT announces {packetSize} bytes, the limit is {_options.MaxMessageSize} (--mqtt-max-message-size)",
                _ => "its first packet is not a CONNECT (not an MQTT client? HTTP, TLS or SSH sent to the MQTT port ends here)",
            };
            TransportLog.ClosedBeforeConnect(_logger, channel.RemoteEndPoint.ToString() ?? "?", reason, suppressed);
        }
    }
}
