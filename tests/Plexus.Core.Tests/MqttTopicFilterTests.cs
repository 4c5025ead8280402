using Plexus.Core;

namespace Plexus.Core.Tests;

/// <summary>MQTT topic filter matching and covering (section 4.7), which the token topic filters rest on.</summary>
public sealed class MqttTopicFilterTests
{
    [Theory]
    [InlineData("devices/+/telemetry", "devices/d1/telemetry", true)]
    [InlineData("devices/+/telemetry", "devices/d1/status", false)]
    [InlineData("devices/+/telemetry", "devices/d1/telemetry/x", false)]
    [InlineData("devices/#", "devices", true)]
    [InlineData("devices/#", "devices/d1/telemetry", true)]
    [InlineData("devices/#", "device", false)]
    [InlineData("#", "a/b", true)]
    [InlineData("#", "$SYS/broker", false)]
    [InlineData("+/broker", "$SYS/broker", false)]
    [InlineData("$SYS/#", "$SYS/broker", true)]
    [InlineData("a/+", "a/", true)]
    [InlineData("a/b", "a/b/c", false)]
    [InlineData("a/b/c", "a/b", false)]
    [InlineData("test/nosubscribe", "test/nosubscribe", true)]
    public void A_filter_matches_the_topics_mqtt_says(string filter, string topic, bool expected) =>
        Assert.Equal(expected, MqttTopicFilter.Matches(filter, topic));

    [Theory]
    [InlineData("devices/+/telemetry", "devices/+/telemetry", true)]
    [InlineData("devices/+/telemetry", "devices/d1/telemetry", true)]
    [InlineData("devices/+/telemetry", "devices/#", false)]
    [InlineData("devices/+/telemetry", "#", false)]
    [InlineData("devices/+/telemetry", "+/d1/telemetry", false)]
    [InlineData("devices/#", "devices/+/telemetry", true)]
    [InlineData("devices/#", "devices", true)]
    [InlineData("devices/#", "devices/#", true)]
    [InlineData("#", "#", true)]
    [InlineData("#", "$SYS/#", false)]
    [InlineData("secret/#", "#", false)]
    public void A_filter_covers_only_filters_whose_every_topic_it_matches(string outer, string inner, bool expected) =>
        Assert.Equal(expected, MqttTopicFilter.Covers(outer, inner));

    [Theory]
    [InlineData("a/#/b")]
    [InlineData("a#")]
    [InlineData("a+/b")]
    [InlineData("")]
    [InlineData("a/\0")]
    public void Invalid_filters_are_named_with_the_problem(string filter)
    {
        Assert.False(MqttTopicFilter.IsValid(filter, 512, out string? problem));
        Assert.NotNull(problem);
    }

    [Fact]
    public void A_deny_filter_wins_and_empty_lists_change_nothing()
    {
        var rules = MqttTopicRules.Create(["plant/#"], ["plant/+/cmd"], ["plant/secret/#"], ["plant/secret/cmd"])!;

        Assert.True(rules.AllowsSubscription("plant/a/state"));
        Assert.False(rules.AllowsSubscription("plant/secret/key"));
        Assert.True(rules.AllowsSubscription("plant/#")); // overlaps the denied filter: held back at delivery instead
        Assert.False(rules.AllowsSubscription("other/x"));
        Assert.True(rules.AllowsPublish("plant/a/cmd"));
        Assert.False(rules.AllowsPublish("plant/secret/cmd"));
        Assert.False(rules.AllowsPublish("plant/a/state"));
        Assert.Null(MqttTopicRules.Create([], null, [], null));
    }

    [Fact]
    public void Too_many_or_too_long_filters_are_refused_with_the_list_named()
    {
        var many = Enumerable.Range(0, MqttTopicRules.MaxFiltersPerList + 1).Select(i => $"t/{i}").ToArray();

        Assert.Contains("deny_publish has 65 topic filters", Assert.Throws<ArgumentException>(() => MqttTopicRules.Create(null, null, null, many)).Message, StringComparison.Ordinal);
        Assert.Contains("subscribe: the topic filter is 513 characters", Assert.Throws<ArgumentException>(() => MqttTopicRules.Create([new string('a', 513)], null, null, null)).Message, StringComparison.Ordinal);
    }
}
