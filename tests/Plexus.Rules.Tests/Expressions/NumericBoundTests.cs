using Plexus.Rules.Expressions;

namespace Plexus.Rules.Tests.Expressions;

/// <summary>Which comparison of a condition the engine indexes it by: one the condition cannot be true without, or none.</summary>
public sealed class NumericBoundTests
{
    [Theory]
    [InlineData("velocity > 95", "velocity", true, 95, false)]
    [InlineData("95 < velocity", "velocity", true, 95, false)]
    [InlineData("95 <= velocity", "velocity", true, 95, true)]
    [InlineData("20 >= speed AND fleet = 'East'", "speed", false, 20, true)]
    [InlineData("fleet = 'East' AND (fuel_state < -0.5 AND load > 3)", "fuel_state", false, -0.5, false)]
    [InlineData("load BETWEEN 10 AND 20", "load", true, 10, true)]
    [InlineData("code = 5", "code", true, 5, true)]
    [InlineData("5 = code", "code", true, 5, true)]
    [InlineData("rate(speed) > 1 AND speed <= 3", "speed", false, 3, true)]
    public void A_comparison_of_a_column_with_a_number_in_the_top_level_AND_is_the_bound(string condition, string column, bool above, double threshold, bool inclusive)
    {
        var symbols = new RuleSymbols();
        var bound = NumericBound.Of(RuleParser.Parse(condition), symbols);
        Assert.Equal(new NumericBound(symbols.IdOf(column), above, threshold, inclusive), bound);
    }

    [Theory]
    [InlineData("speed > 80 OR load > 3")]
    [InlineData("NOT speed > 80")]
    [InlineData("speed <> 80")]
    [InlineData("time > 5")]
    [InlineData("position.lat > 5")]
    [InlineData("supply - return > 5")]
    [InlineData("speed NOT BETWEEN 1 AND 2")]
    [InlineData("speed > load")]
    [InlineData("fleet = 'East'")]
    public void A_condition_without_such_a_comparison_has_no_bound(string condition) =>
        Assert.Null(NumericBound.Of(RuleParser.Parse(condition), new RuleSymbols()));

    [Fact]
    public void A_bound_is_met_in_the_order_the_comparison_uses_with_NaN_below_every_number()
    {
        var above = new NumericBound(0, Above: true, 5, Inclusive: false);
        var atMost = new NumericBound(0, Above: false, 5, Inclusive: true);
        Assert.True(above.IsMetBy(5.5));
        Assert.False(above.IsMetBy(5));
        Assert.False(above.IsMetBy(double.NaN));
        Assert.True(atMost.IsMetBy(5));
        Assert.True(atMost.IsMetBy(double.NaN));
        Assert.False(atMost.IsMetBy(double.PositiveInfinity));
    }
}
