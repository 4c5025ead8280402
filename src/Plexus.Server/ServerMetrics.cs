using Plexus.Api.Endpoints;
using Plexus.Broker;
using Plexus.Core;
using Plexus.Pipeline;

namespace Plexus.Server;

/// <summary>The <c>GET /metrics</c> samples of parts the API does not hold: the MQTT broker's counters.</summary>
internal static class ServerMetrics
{
    public static IReadOnlyList<MetricSample> Of(IngestPipeline pipeline, PlexusBroker? broker)
    {
        var samples = new List<MetricSample>();
        foreach (var source in pipeline.Statistics.Sources)
        {
            string labels = $"source=\"{SourceName(source.Source)}\"";
            samples.Add(new("plexus_ingest_writes_total", "Writes through the ingest pipeline, by source.", "counter", source.Writes, labels));
            samples.Add(new("plexus_ingest_points_total", "Points stored through the ingest pipeline, by source.", "counter", source.PointsStored, labels));
            samples.Add(new("plexus_ingest_points_refused_total", "Points the pipeline's guards or the store refused, by source.", "counter", source.PointsRefused, labels));
            MetricSamples.AddHistogram(samples, "plexus_ingest_write_duration_seconds", "Time from a write entering the pipeline to durable and observed (queueing and the commit), by source.", source.Duration, labels);
        }

        if (broker is null)
        {
            return samples;
        }

        samples.AddRange(
        [
            new("plexus_mqtt_connections", "MQTT connections open now (TCP, TLS and WebSocket).", "gauge", broker.OpenConnections),
            new("plexus_mqtt_connections_refused_total", "MQTT connections refused at accept over the connection limits.", "counter", broker.RefusedConnections),
            new("plexus_mqtt_acl_refusals_total", "MQTT publishes (action=publish) and subscriptions (action=subscribe) the topic ACL refused; only the first of each per connection is logged.", "counter", broker.AclRefusedPublishes, "action=\"publish\""),
            new("plexus_mqtt_acl_refusals_total", "MQTT publishes and subscriptions the topic ACL refused.", "counter", broker.AclRefusedSubscriptions, "action=\"subscribe\""),
            new("plexus_mqtt_fast_path_messages_total", "Device messages stored through the MQTT fast path.", "counter", broker.FastPathMessages),
            new("plexus_mqtt_messages_too_large_total", "MQTT packets refused as larger than --mqtt-max-message-size.", "counter", broker.TooLargeRefused),
            new("plexus_mqtt_messages_dropped_total", "MQTT messages dropped: a subscriber fell behind (reason=subscriber_queue) or a client published over --mqtt-max-rate (reason=rate).", "counter", broker.DroppedMessages, "reason=\"subscriber_queue\""),
            new("plexus_mqtt_messages_dropped_total", "MQTT messages dropped.", "counter", broker.ThrottledDropped, "reason=\"rate\""),
        ]);
        return samples;
    }

    private static string SourceName(IngestSource source) => source switch
    {
        IngestSource.HttpWrite => "http_write",
        IngestSource.HttpDevice => "http_device",
        IngestSource.Mqtt => "mqtt",
        IngestSource.Internal => "internal",
        IngestSource.Rules => "rules",
        _ => "unspecified",
    };
}
