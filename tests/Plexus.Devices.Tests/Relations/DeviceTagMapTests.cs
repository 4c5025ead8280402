namespace Plexus.Devices.Tests.Relations;

/// <summary>The <c>--device-tag</c> value: a default tag and per-namespace entries.</summary>
public sealed class DeviceTagMapTests
{
    [Fact]
    public void Default_and_per_namespace_tags_are_parsed()
    {
        Assert.Equal("device", DeviceTagMap.Parse(null).TagFor("main"));

        var map = DeviceTagMap.Parse(" gw , Fleet=name,plant=machine ");
        Assert.Equal("gw", map.TagFor("main"));
        Assert.Equal("name", map.TagFor("fleet"));
        Assert.Equal("name", map.TagFor("FLEET"));
        Assert.Equal("machine", map.TagFor("plant"));
        Assert.Equal("gw,fleet=name,plant=machine", map.ToString());

        Assert.Equal("device", DeviceTagMap.Parse("fleet=name").TagFor("other"));
    }

    [Theory]
    [InlineData("=name")]
    [InlineData("fleet=")]
    [InlineData("bad ns=x")]
    [InlineData("_plexus=x")]
    public void A_bad_entry_is_refused_naming_it(string spec)
    {
        var error = Assert.Throws<ArgumentException>(() => DeviceTagMap.Parse(spec));
        Assert.StartsWith("device-tag: \"", error.Message, StringComparison.Ordinal);
    }
}
