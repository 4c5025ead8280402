using System.Globalization;

namespace Plexus.Simulator;

/// <summary>
/// Durations as TSBS and Go spell them: a sequence of number-unit pairs, <c>10s</c>, <c>5h</c>, <c>1h30m</c>,
/// <c>1.5h</c>, <c>500ms</c>, <c>3d</c>. Units: <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>, <c>d</c> (24 h). Exact to the
/// 100 ns tick: the arithmetic is decimal, not floating point, so <c>0.1s</c> is exactly 100 ms.
/// </summary>
public static class SimulationDuration
{
    public static bool TryParse(string? text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        decimal ticks = 0;
        while (!span.IsEmpty)
        {
            int numberLength = 0;
            while (numberLength < span.Length && (char.IsAsciiDigit(span[numberLength]) || span[numberLength] == '.'))
            {
                numberLength++;
            }

            int unitLength = 0;
            while (numberLength + unitLength < span.Length && char.IsAsciiLetter(span[numberLength + unitLength]))
            {
                unitLength++;
            }

            if (numberLength == 0 || unitLength == 0
                || !decimal.TryParse(span[..numberLength], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal number))
            {
                return false;
            }

            long unit = span.Slice(numberLength, unitLength) switch
            {
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                "d" => TimeSpan.TicksPerDay,
                _ => 0,
            };
            if (unit == 0)
            {
                return false;
            }

            ticks += number * unit;
            if (ticks > TimeSpan.MaxValue.Ticks)
            {
                return false;
            }

            span = span[(numberLength + unitLength)..];
        }

        if (ticks != decimal.Truncate(ticks))
        {
            return false; // Finer than 100 ns.
        }

        duration = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    /// <summary>The shortest spelling <see cref="TryParse"/> reads back: <c>10s</c>, <c>5h</c>, <c>1h30m</c>, <c>250ms</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        if (duration == TimeSpan.Zero)
        {
            return "0s";
        }

        var parts = new List<string>();
        long ticks = duration.Ticks;
        foreach (var (unit, suffix) in new[] { (TimeSpan.TicksPerHour, "h"), (TimeSpan.TicksPerMinute, "m"), (TimeSpan.TicksPerSecond, "s") })
        {
            if (ticks >= unit)
            {
                parts.Add((ticks / unit).ToString(CultureInfo.InvariantCulture) + suffix);
                ticks %= unit;
            }
        }

        if (ticks > 0)
        {
            parts.Add((ticks / (decimal)TimeSpan.TicksPerMillisecond).ToString(CultureInfo.InvariantCulture) + "ms");
        }

        return string.Concat(parts);
    }
}
