using Microsoft.Extensions.Logging;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Plexus.Broker.Extensions;

/// <summary>
/// The per-client publish rate (<see cref="ClientRateLimiter"/>, --mqtt-max-rate): over it, QoS 0 is dropped and
/// QoS 1/2 waits, holding only that client's receive loop. (The size limit is the framing's: a packet over it never
/// reaches MQTTnet.)
/// </summary>
internal sealed class RateLimitExtension(ClientRateLimiter limiter, double maxMessagesPerSecond, TimeProvider time, ILogger logger)
    : IInboundPacketHook, IClientDisconnectedHook
{
    public async Task InterceptingInboundPacketAsync(InterceptingPacketEventArgs e)
    {
        if (!limiter.Enabled || e.Packet is not MqttPublishPacket publish)
        {
            return;
        }

        bool mayWait = publish.QualityOfServiceLevel != MqttQualityOfServiceLevel.AtMostOnce;
        TimeSpan? wait = limiter.Take(e.ClientId, mayWait, out bool shouldLog);
        if (shouldLog)
        {
            ProtocolLog.Throttled(logger, e.ClientId, maxMessagesPerSecond, limiter.Dropped, limiter.Delayed);
        }

        if (wait is null)
        {
            e.ProcessPacket = false;
        }
        else if (wait.Value > TimeSpan.Zero)
        {
            // Holds this client's receive loop only: its ack (and its next packets) wait, nobody else's.
            await Task.Delay(wait.Value, time, e.CancellationToken);
        }
    }

    public Task ClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        if (e.DisconnectType != MqttClientDisconnectType.Takeover)
        {
            limiter.Forget(e.ClientId);
        }

        return Task.CompletedTask;
    }
}
