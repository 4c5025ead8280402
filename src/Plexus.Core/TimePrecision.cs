namespace Plexus.Core;

/// <summary>The unit of timestamps written in line protocol; storage always keeps nanoseconds.</summary>
public enum TimePrecision
{
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
}

public static class TimePrecisions
{
    /// <summary>Accepts the spellings InfluxDB 1.x and 2.x clients send (`ns`, `us`, `u`, `µs`, `ms`, `s`); empty means nanoseconds.</summary>
    public static bool TryParse(string? text, out TimePrecision precision)
    {
        switch (text)
        {
            case null or "" or "ns" or "n":
                precision = TimePrecision.Nanoseconds;
                return true;
            case "us" or "u" or "µs" or "µ":
                precision = TimePrecision.Microseconds;
                return true;
            case "ms":
                precision = TimePrecision.Milliseconds;
                return true;
            case "s":
                precision = TimePrecision.Seconds;
                return true;
            default:
                precision = default;
                return false;
        }
    }

    public static long NanosecondsPerUnit(this TimePrecision precision) => precision switch
    {
        TimePrecision.Microseconds => 1_000,
        TimePrecision.Milliseconds => 1_000_000,
        TimePrecision.Seconds => 1_000_000_000,
        _ => 1,
    };

    /// <summary>Converts a timestamp written at <paramref name="precision"/> to nanoseconds; false when it does not fit in 64 bits.</summary>
    public static bool TryToNanoseconds(long value, TimePrecision precision, out long nanoseconds)
    {
        long factor = precision.NanosecondsPerUnit();
        if (factor == 1)
        {
            nanoseconds = value;
            return true;
        }

        long result = value * factor;
        if (result / factor != value)
        {
            nanoseconds = 0;
            return false;
        }

        nanoseconds = result;
        return true;
    }
}
