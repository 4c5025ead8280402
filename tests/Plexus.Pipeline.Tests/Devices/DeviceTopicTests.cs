using Plexus.Pipeline.Devices;

namespace Plexus.Pipeline.Tests.Devices;

public sealed class DeviceTopicTests
{
    [Theory]
    [InlineData("devices/truck-1/telemetry", DeviceTopicKind.Telemetry, "truck-1", "telemetry")]
    [InlineData("devices/truck-1/telemetry/engine", DeviceTopicKind.Telemetry, "truck-1", "engine")]
    [InlineData("devices/urn:dev:mac:0024befffe804ff1/senml", DeviceTopicKind.SenMl, "urn:dev:mac:0024befffe804ff1", "senml")]
    [InlineData("devices/t/lp", DeviceTopicKind.LineProtocol, "t", "")]
    [InlineData("devices/t/location", DeviceTopicKind.Location, "t", "positions")]
    [InlineData("devices/t/state", DeviceTopicKind.State, "t", "state_history")]
    public void Device_data_topics_are_recognised(string topic, DeviceTopicKind kind, string device, string measurement)
    {
        Assert.True(DeviceTopic.TryParse(topic, out var parsed));
        Assert.Equal(new DeviceTopic(kind, device, measurement), parsed);
    }

    [Theory]
    [InlineData("devices//telemetry")]
    [InlineData("devices/t")]
    [InlineData("devices/t/")]
    [InlineData("devices/t/telemetry/")]
    [InlineData("devices/t/telemetry/a/b")]
    [InlineData("devices/t/senml/x")]
    [InlineData("devices/t/location/x")]
    [InlineData("devices/t/status")]
    [InlineData("Devices/t/telemetry")]
    [InlineData("home/kitchen/temp")]
    [InlineData("")]
    public void Other_topics_are_plain_publish_subscribe(string topic)
    {
        Assert.False(DeviceTopic.TryParse(topic, out _));
    }
}
