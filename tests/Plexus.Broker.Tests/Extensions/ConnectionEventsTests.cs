using System.Net;
using System.Net.WebSockets;
using Plexus.Broker.Extensions;
using Plexus.Broker.Transport;

namespace Plexus.Broker.Tests.Extensions;

/// <summary>The extensions find a connection's own channel from the endpoint MQTTnet reports, by object and not by address.</summary>
public sealed class ConnectionEventsTests
{
    [Fact]
    public void Two_connections_from_the_same_address_and_port_find_each_its_own_channel()
    {
        var limits = new MqttInputLimits(MaxConnectSize: 1024, MaxPacketSize: 4096, ConnectTimeout: TimeSpan.FromMinutes(1));
        var handler = new NoFastPath();
        using var first = new DevicePublishChannel(Transport(), handler, limits, TimeSpan.FromMinutes(1), TimeProvider.System, fastPathAllowed: false);
        using var second = new DevicePublishChannel(Transport(), handler, limits, TimeSpan.FromMinutes(1), TimeProvider.System, fastPathAllowed: false);

        // What an address-keyed lookup would confuse: the endpoints are equal.
        Assert.Equal(first.RemoteEndPoint, second.RemoteEndPoint);

        Assert.Same(first, ConnectionEvents.ChannelOf(first.RemoteEndPoint));
        Assert.Same(second, ConnectionEvents.ChannelOf(second.RemoteEndPoint));
        Assert.NotSame(ConnectionEvents.ConnectionOf(first.RemoteEndPoint), ConnectionEvents.ConnectionOf(second.RemoteEndPoint));
        Assert.Null(ConnectionEvents.ChannelOf(new IPEndPoint(IPAddress.Loopback, 50000)));
    }

    private static WebSocketTransport Transport() =>
        new(WebSocket.CreateFromStream(new MemoryStream(), new WebSocketCreationOptions { IsServer = true }), new IPEndPoint(IPAddress.Loopback, 50000), isSecure: false);

    private sealed class NoFastPath : IDevicePublishHandler
    {
        public bool TryTake(DevicePublishChannel channel, FastPathIdentity identity, in PublishView publish) => false;

        public Task? Commit(DevicePublishChannel channel, out long sequence)
        {
            sequence = 0;
            return null;
        }

        public Task WhenStoredAsync(long sequence) => Task.CompletedTask;

        public Pipeline.Devices.DeviceIngest.IngestStaging CreateStaging() => new();

        public void InputRefused(DevicePublishChannel channel, MqttInputRefusal refusal, long packetSize)
        {
        }
    }
}
