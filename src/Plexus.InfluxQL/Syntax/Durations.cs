using System.Globalization;

namespace Plexus.InfluxQL.Syntax;

/// <summary>InfluxQL's spelling of a duration: the largest unit that divides it (<c>1m</c>, <c>90s</c>, <c>1w</c>).</summary>
public static class Durations
{
    private static readonly (long Nanoseconds, string Unit)[] Units =
    [
        (604_800_000_000_000, "w"), (86_400_000_000_000, "d"), (3_600_000_000_000, "h"), (60_000_000_000, "m"),
        (1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "u"),
    ];

    public static string Format(long nanoseconds)
    {
        if (nanoseconds == 0)
        {
            return "0s";
        }

        foreach (var (unit, name) in Units)
        {
            if (nanoseconds % unit == 0)
            {
                return (nanoseconds / unit).ToString(CultureInfo.InvariantCulture) + name;
            }
        }

        return nanoseconds.ToString(CultureInfo.InvariantCulture) + "ns";
    }
}
