using System.Collections;
using System.Net;
using System.Text;
using MQTTnet.Packets;
using MQTTnet.Server;

namespace Plexus.Broker.Tests.Extensions;

/// <summary>Wills are held per connection object, never per address: two connections from one address and port stay apart.</summary>
public sealed class WillKeeperTests
{
    [Fact]
    public void A_dropped_connection_publishes_its_own_will_not_that_of_a_newer_connection_from_the_same_address_and_port()
    {
        var published = new List<string>();
        using var wills = Recording(published);

        // Equal endpoints, as a NAT or a reused source port gives two connections of one client id.
        var first = new IPEndPoint(IPAddress.Loopback, 50000);
        var second = new IPEndPoint(IPAddress.Loopback, 50000);
        Assert.Equal(first, second);
        wills.TakeOver("sensor-1", first, WithWill("first"), new Hashtable());
        wills.TakeOver("sensor-1", second, WithWill("second"), new Hashtable());

        wills.Disconnected("sensor-1", first, MqttClientDisconnectType.NotClean, null);
        Assert.Equal(["first"], published);

        wills.Disconnected("sensor-1", second, MqttClientDisconnectType.NotClean, null);
        Assert.Equal(["first", "second"], published);
    }

    [Fact]
    public void A_normal_disconnect_publishes_no_will()
    {
        var published = new List<string>();
        using var wills = Recording(published);
        var connection = new object();
        wills.TakeOver("sensor-1", connection, WithWill("gone"), new Hashtable());

        wills.Disconnected("sensor-1", connection, MqttClientDisconnectType.Clean, MQTTnet.Protocol.MqttDisconnectReasonCode.NormalDisconnection);

        Assert.Empty(published);
    }

    /// <summary>A keeper that publishes at once, into <paramref name="published"/>.</summary>
    private static WillKeeper Recording(List<string> published) => new(TimeProvider.System, (_, message, _) =>
    {
        published.Add(Encoding.UTF8.GetString(message.Payload));
        return Task.CompletedTask;
    });

    private static MqttConnectPacket WithWill(string payload) => new()
    {
        ClientId = "sensor-1",
        WillFlag = true,
        WillTopic = "wills/sensor-1",
        WillMessage = Encoding.UTF8.GetBytes(payload),
        SessionExpiryInterval = 60,
    };
}
