using Plexus.Devices;
using Plexus.Ingest.State;
using Plexus.Pipeline.Devices;

namespace Plexus.Pipeline.Tests.Devices;

public sealed class ReportedPropertiesTests
{
    [Fact]
    public void Every_decoded_kind_maps_to_the_live_states_kind_of_the_same_name()
    {
        foreach (StateValueKind kind in Enum.GetValues<StateValueKind>())
        {
            Assert.Equal(kind.ToString(), ReportedProperties.KindOf(kind).ToString());
        }
    }

    [Fact]
    public void The_property_a_device_cannot_report_is_the_one_the_broker_writes_for_connectivity() =>
        Assert.Equal(DeviceDataNames.OnlineProperty, StatePayload.OnlineProperty);

    [Fact]
    public void Decoded_properties_keep_name_value_number_and_order()
    {
        Assert.True(StatePayload.TryDecode("""{"b": true, "a": "x"}"""u8, out var decoded, out _, out _));

        Assert.Equal(
            [new ReportedProperty("b", "true", 1, ReportedKind.Boolean), new ReportedProperty("a", "x", null, ReportedKind.String)],
            ReportedProperties.From(decoded));
    }
}
