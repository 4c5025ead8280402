using Plexus.Api.Endpoints;
using Plexus.Broker;

namespace Plexus.Server;

/// <summary>The <c>GET /metrics</c> samples of parts the API does not hold: the MQTT broker's counters.</summary>
internal static class ServerMetrics
{
    public static IReadOnlyList<MetricSample> Of(PlexusBroker? broker)
    {
        if (broker is null)
        {
            return [];
        }

        return
        [
            new("plexus_mqtt_connections", "MQTT connections open now (TCP, TLS and WebSocket).", "gauge", broker.OpenConnections),
            new("plexus_mqtt_connections_refused_total", "MQTT connections refused at accept over the connection limits.", "counter", broker.RefusedConnections),
            new("plexus_mqtt_fast_path_messages_total", "Device messages stored through the MQTT fast path.", "counter", broker.FastPathMessages),
            new("plexus_mqtt_messages_too_large_total", "MQTT packets refused as larger than --mqtt-max-message-size.", "counter", broker.TooLargeRefused),
            new("plexus_mqtt_messages_dropped_total", "MQTT messages dropped: a subscriber fell behind (reason=subscriber_queue) or a client published over --mqtt-max-rate (reason=rate).", "counter", broker.DroppedMessages, "reason=\"subscriber_queue\""),
            new("plexus_mqtt_messages_dropped_total", "MQTT messages dropped.", "counter", broker.ThrottledDropped, "reason=\"rate\""),
        ];
    }
}
