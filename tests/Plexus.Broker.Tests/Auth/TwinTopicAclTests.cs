using Plexus.Broker.Auth;
using Plexus.Devices.Twin;

namespace Plexus.Broker.Tests.Auth;

/// <summary>
/// Who may publish on the desired-property and command topics (docs/mqtt.md#desired-properties-and-commands), on top
/// of the device's own prefix: the end-to-end tests with real clients are in Plexus.Devices.Tests/Twin.
/// </summary>
public sealed class TwinTopicAclTests
{
    [Theory]
    [InlineData("devices/d1/desired")]
    [InlineData("devices/d1/commands")]
    [InlineData("devices/d1/commands/reboot")]
    [InlineData("devices/d1/commands/reboot/extra")]
    public void Desired_and_command_topics_are_published_by_the_servers_twin_messages_only(string topic)
    {
        Assert.False(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.Device("d1"), topic, fromServerTwin: false));
        Assert.False(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.AdminApplication, topic, fromServerTwin: false));
        Assert.True(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.AdminApplication, topic, fromServerTwin: true));
    }

    [Theory]
    [InlineData("devices/d1/responses/abc")]
    [InlineData("devices/d1/responses")]
    public void Responses_are_published_by_a_device_never_by_an_application(string topic)
    {
        Assert.True(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.Device("d1"), topic, fromServerTwin: false));
        Assert.False(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.AdminApplication, topic, fromServerTwin: false));
        Assert.False(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.Application("ingest", MqttApplicationScope.Write), topic, fromServerTwin: false));
    }

    [Theory]
    [InlineData("devices/d1/telemetry")]
    [InlineData("devices/d1/state")]
    [InlineData("devices/d1/desiredx")]
    [InlineData("devices/d1/commandsx/y")]
    [InlineData("desired")]
    [InlineData("other/d1/desired")]
    public void Other_topics_are_left_to_the_rest_of_the_acl(string topic)
    {
        Assert.True(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.AdminApplication, topic, fromServerTwin: false));
        Assert.True(MqttTopicAcl.MayPublishTwinTopic(MqttPrincipal.Device("d1"), topic, fromServerTwin: false));
    }

    [Theory]
    [InlineData("devices/d1/responses/abc", true, "d1", "abc")]
    [InlineData("devices/d1/responses/", false, "", "")]
    [InlineData("devices/d1/responses/a/b", false, "", "")]
    [InlineData("devices/d1/commands/abc", false, "", "")]
    public void A_response_topic_names_the_device_and_the_command(string topic, bool parsed, string device, string command)
    {
        Assert.Equal(parsed, TwinTopics.TryParseResponse(topic, out string foundDevice, out string foundCommand));
        Assert.Equal((device, command), (foundDevice, foundCommand));
    }
}
