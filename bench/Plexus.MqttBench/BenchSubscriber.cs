using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Plexus.MqttBench;

/// <summary>
/// An application subscribed to the devices' topics (an MQTTnet client, MQTT 5, the load's QoS): it counts what it
/// receives and when the last message arrived, and does nothing else with it.
/// </summary>
internal sealed class BenchSubscriber : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private long _received;
    private long _lastReceivedTimestamp;

    private BenchSubscriber(IMqttClient client)
    {
        _client = client;
        _client.ApplicationMessageReceivedAsync += _ =>
        {
            Interlocked.Increment(ref _received);
            Volatile.Write(ref _lastReceivedTimestamp, Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        };
    }

    public long Received => Interlocked.Read(ref _received);

    public long LastReceivedTimestamp => Volatile.Read(ref _lastReceivedTimestamp);

    /// <param name="credentials">User name and password (Plexus: an API token), or null for an anonymous broker.</param>
    public static async Task<BenchSubscriber> ConnectAsync(BenchTransport transport, int port, string topicFilter, int qos, (string User, string Password)? credentials, CancellationToken cancellation)
    {
        var factory = new MqttClientFactory();
        var client = factory.CreateMqttClient();
        var subscriber = new BenchSubscriber(client);
        try
        {
            var builder = transport.Configure(new MqttClientOptionsBuilder(), port).WithProtocolVersion(MqttProtocolVersion.V500)
                .WithClientId("bench-subscriber").WithKeepAlivePeriod(TimeSpan.FromSeconds(120)).WithTimeout(TimeSpan.FromSeconds(120));
            if (credentials is { } c)
            {
                builder.WithCredentials(c.User, c.Password);
            }

            var connected = await client.ConnectAsync(builder.Build(), cancellation);
            if (connected.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw new InvalidOperationException($"subscriber: CONNECT refused with {connected.ResultCode}");
            }

            var subscribed = await client.SubscribeAsync(factory.CreateSubscribeOptionsBuilder().WithTopicFilter(topicFilter, (MqttQualityOfServiceLevel)qos).Build(), cancellation);
            var granted = subscribed.Items.Single().ResultCode;
            if ((int)granted != qos)
            {
                throw new InvalidOperationException($"subscriber: SUBSCRIBE to {topicFilter} at QoS {qos} answered {granted}");
            }

            return subscriber;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>Forgets what arrived so far (the warm-up's messages).</summary>
    public void Reset() => Interlocked.Exchange(ref _received, 0);

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected)
            {
                await _client.DisconnectAsync();
            }
        }
        catch (Exception error) when (error is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException)
        {
        }

        _client.Dispose();
    }
}
