using System.Text.Json;
using Plexus.Rules.Actions;
using Plexus.Rules.Alarms;

namespace Plexus.Rules.Tests.Actions;

/// <summary>The templates of actions: the alarm's values filled into text, topics and JSON, whatever those values hold.</summary>
public sealed class ActionTemplateTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_value_with_quotes_and_braces_stays_one_JSON_string_in_a_desired_patch_or_command_payload()
    {
        var alarm = Alarm("""{"label": "x\"}, \"mode\": \"off", "temperature": 81.5, "time_ns": 1}""");

        string filled = RuleActions.FillJson("""{"cause": "{value.label}", "at": "{value.temperature} on {device}", "mode": "safe"}""", alarm);

        var patch = JsonDocument.Parse(filled).RootElement;
        Assert.Equal("x\"}, \"mode\": \"off", patch.GetProperty("cause").GetString());
        Assert.Equal("81.5 on f1", patch.GetProperty("at").GetString());
        Assert.Equal("safe", patch.GetProperty("mode").GetString());
        Assert.Equal(3, patch.EnumerateObject().Count());
    }

    [Theory]
    [InlineData("{value}", "81.5")]
    [InlineData("{value.temperature}", "81.5")]
    [InlineData("{value.TEMPERATURE}", "81.5")]
    [InlineData("{value.missing}", "")]
    [InlineData("{value.label}/{device}", "a_b_c/f1")]
    [InlineData("{valuables}", "{valuables}")]
    public void A_topic_takes_the_alarms_values_with_wildcards_and_levels_replaced(string template, string topic) =>
        Assert.Equal(topic, RuleActions.Fill(template, Alarm("""{"temperature": 81.5, "label": "a/b+c", "time_ns": 1}"""), topic: true));

    private static AlarmRecord Alarm(string values) =>
        new(7, "hot", "f1", RuleSeverity.Major, AlarmStatus.Active, values, values, 1, At, At, null, null, null, null, At);
}
