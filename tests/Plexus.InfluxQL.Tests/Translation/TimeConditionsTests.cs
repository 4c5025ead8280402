using Plexus.InfluxQL.Syntax;
using Plexus.InfluxQL.Translation;

namespace Plexus.InfluxQL.Tests.Translation;

public sealed class TimeConditionsTests
{
    private const long Now = 1_700_000_000_000_000_000;

    private static TimeBounds Bounds(string condition, TimeZoneInfo? zone = null) =>
        TimeConditions.Split(InfluxQLParser.ParseExpression(condition), Now, zone).Bounds;

    [Theory]
    [InlineData("time >= 1700000000000ms", 1_700_000_000_000_000_000L, null)]
    [InlineData("time > 1700000000000ms", 1_700_000_000_000_000_001L, null)]
    [InlineData("time < 1700000000s", null, 1_699_999_999_999_999_999L)]
    [InlineData("time <= 1700000000000000000", null, 1_700_000_000_000_000_000L)]
    [InlineData("time = '2023-11-14T22:13:20Z'", 1_700_000_000_000_000_000L, 1_700_000_000_000_000_000L)]
    [InlineData("1700000000000ms <= time", 1_700_000_000_000_000_000L, null)]
    [InlineData("time >= now() - 1h", 1_699_996_400_000_000_000L, null)]
    [InlineData("time >= now() - 1h + 30m AND time < now()", 1_699_998_200_000_000_000L, 1_699_999_999_999_999_999L)]
    [InlineData("time >= '2023-11-14 22:13:20.5' AND time <= '2023-11-14'", 1_700_000_000_500_000_000L, 1_699_920_000_000_000_000L)]
    [InlineData("time > '2023-11-14T23:13:20.000000001+01:00'", 1_700_000_000_000_000_002L, null)]
    [InlineData("(host = 'a' AND time >= 10) AND time <= 20", 10L, 20L)]
    public void Time_comparisons_become_inclusive_bounds_in_nanoseconds(string condition, long? lower, long? upper)
    {
        Assert.Equal(new TimeBounds(lower, upper), Bounds(condition));
    }

    [Fact]
    public void Time_without_an_offset_is_read_in_the_zone_of_tz()
    {
        var paris = TimeZoneInfo.FindSystemTimeZoneById("Europe/Paris");
        Assert.Equal(1_699_999_200_000_000_000L, Bounds("time >= '2023-11-14 23:00:00'", paris).Lower);
        Assert.Equal(1_700_002_800_000_000_000L, Bounds("time >= '2023-11-14 23:00:00'").Lower);
    }

    [Fact]
    public void Other_conditions_are_kept_apart_from_the_time_range()
    {
        var (bounds, remaining) = TimeConditions.Split(InfluxQLParser.ParseExpression("host = 'a' AND time > 5 AND (x = 1 OR y = 2)"), Now, null);
        Assert.Equal(new TimeBounds(6, null), bounds);
        var and = Assert.IsType<BinaryExpr>(remaining);
        Assert.Equal(BinaryOperator.And, and.Operator);
        Assert.Equal(BinaryOperator.Or, Assert.IsType<BinaryExpr>(and.Right).Operator);
    }

    [Fact]
    public void Time_outside_64_bit_nanoseconds_is_refused()
    {
        var error = Assert.Throws<StatementException>(() => Bounds("time > '2300-01-01T00:00:00Z'"));
        Assert.Contains("years 1677 to 2262", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(10_000_000_000L, "10s")]
    [InlineData(60_000_000_000L, "1m")]
    [InlineData(90_000_000_000L, "90s")]
    [InlineData(604_800_000_000_000L, "1w")]
    [InlineData(1_500L, "1500ns")]
    public void Durations_are_spelled_in_their_largest_whole_unit(long nanoseconds, string text)
    {
        Assert.Equal(text, Durations.Format(nanoseconds));
    }
}
