namespace Plexus.Simulator.Tests;

public sealed class SimulationDurationTests
{
    [Theory]
    [InlineData("10s", 10_000)]
    [InlineData("5h", 5 * 3_600_000)]
    [InlineData("30m", 30 * 60_000)]
    [InlineData("1h30m", 90 * 60_000)]
    [InlineData("1.5h", 90 * 60_000)]
    [InlineData("500ms", 500)]
    [InlineData("0.1s", 100)]
    [InlineData("3d", 3 * 86_400_000)]
    [InlineData(" 2m ", 120_000)]
    public void Durations_parse_exactly(string text, long milliseconds)
    {
        Assert.True(SimulationDuration.TryParse(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("s")]
    [InlineData("10x")]
    [InlineData("-5m")]
    [InlineData("1h 30m")]
    [InlineData("0.00000001s")]
    [InlineData(null)]
    public void Malformed_durations_do_not_parse(string? text) => Assert.False(SimulationDuration.TryParse(text, out _));

    [Theory]
    [InlineData(10_000, "10s")]
    [InlineData(5400_000, "1h30m")]
    [InlineData(250, "250ms")]
    public void Durations_format_back(long milliseconds, string expected)
    {
        var duration = TimeSpan.FromMilliseconds(milliseconds);
        Assert.Equal(expected, SimulationDuration.Format(duration));
        Assert.True(SimulationDuration.TryParse(SimulationDuration.Format(duration), out var back));
        Assert.Equal(duration, back);
    }
}
