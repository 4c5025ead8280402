using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;
using Plexus.Broker.Devices;
using Plexus.Pipeline.Devices;

namespace Plexus.Broker.Extensions;

/// <summary>
/// Device data through MQTTnet: a publish to a device topic the ACL (and the retained check) let through is decoded
/// and stored by <see cref="DeviceIngest"/> before MQTTnet acknowledges and forwards it (the fast path takes the
/// simple ones before MQTTnet sees them). The ack follows durability: MQTTnet enqueues the PUBACK (QoS 1) or
/// PUBREC (QoS 2) only after this hook completed, with the reason code it set.
/// </summary>
internal sealed class DeviceIngestExtension(DeviceIngest ingest, DeviceConnectivity? connectivity, PublishGate gate, ILogger logger) : IInterceptingPublishHook
{
    public async Task InterceptingPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!e.ProcessPublish || !DeviceTopic.TryParse(message.Topic, out var topic))
        {
            return;
        }

        connectivity?.Activity(e.ClientId);

        if (!gate.TryEnter())
        {
            BrokerLog.RefusedWhileStopping(logger, e.ClientId, message.Topic);
            e.ProcessPublish = false;
            e.CloseConnection = true;
            return;
        }

        try
        {
            // QoS 0 has no acknowledgement to hold back until the commit: queue it and read the device's next message.
            // Location and state update the live state after their commit, so they always take the awaited path.
            DeviceIngestOutcome outcome = message.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce && topic.Kind is DeviceTopicKind.Telemetry or DeviceTopicKind.SenMl or DeviceTopicKind.LineProtocol
                ? await ingest.QueueAsync(topic, message.Payload, message.ContentType, message.Topic)
                : await ingest.IngestAsync(topic, message.Payload, message.ContentType);
            switch (outcome.Status)
            {
                case DeviceIngestStatus.Rejected:
                    // Still forwarded (ProcessPublish stays true): the broker does not judge payloads for subscribers.
                    BrokerLog.MessageRejected(logger, topic.DeviceId, message.Topic, e.ClientId, outcome.Reason ?? "rejected");
                    e.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
                    e.Response.ReasonString = ConnectionEvents.Truncate(outcome.Reason);
                    await ingest.RecordDeadLetterAsync(topic, message.Topic, message.Payload, message.ContentType, outcome.Reason);
                    break;
                case DeviceIngestStatus.PartlyStored:
                    BrokerLog.MessagePartlyStored(logger, outcome.Written, outcome.Refused, topic.DeviceId, message.Topic, outcome.Reason);
                    e.Response.ReasonString = ConnectionEvents.Truncate(outcome.Reason);
                    break;
            }
        }
        catch (Exception error)
        {
            // The store failed the commit: nothing of the message is stored. Closing the connection instead of
            // acknowledging makes a QoS 1/2 client resend it (MQTT 3.1.1 has no failure reason in PUBACK).
            BrokerLog.StoreFailed(logger, error, topic.DeviceId, message.Topic);
            e.ProcessPublish = false;
            e.CloseConnection = true;
        }
        finally
        {
            gate.Exit();
        }
    }
}
