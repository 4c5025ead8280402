using System.Globalization;

namespace Plexus.Cli.Commands;

/// <summary>Parsing of sizes (25MB, 32MiB, 1000) and durations (30s, 500ms, 2m, or plain seconds) in options.</summary>
internal static class Units
{
    public static long ParseBytes(string text, string name)
    {
        string trimmed = text.Trim();
        (string suffix, long factor)[] units = [("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)];
        foreach (var (suffix, factor) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double scaled) && scaled > 0)
            {
                return (long)(scaled * factor);
            }
        }

        if (long.TryParse(trimmed, NumberStyles.None, CultureInfo.InvariantCulture, out long bytes) && bytes > 0)
        {
            return bytes;
        }

        throw new FormatException($"{name}: \"{text}\" is not a size such as 25MB, 32MiB or 1000000");
    }

    public static TimeSpan ParseDuration(string text, string name)
    {
        string trimmed = text.Trim();
        (string suffix, double seconds)[] units = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)];
        foreach (var (suffix, seconds) in units)
        {
            if (trimmed.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) &&
                double.TryParse(trimmed[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value > 0)
            {
                return TimeSpan.FromSeconds(value * seconds);
            }
        }

        if (double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out double plain) && plain > 0)
        {
            return TimeSpan.FromSeconds(plain);
        }

        throw new FormatException($"{name}: \"{text}\" is not a duration such as 30s, 500ms, 2m or 1d");
    }

    public static double ParseRate(string text, string name) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value) && value >= 0 && double.IsFinite(value)
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a rate in messages per second such as 100 or 0.5 (0 is unlimited)");

    public static bool ParseBoolean(string text, string name) => text.Trim().ToLowerInvariant() switch
    {
        "true" or "on" or "yes" or "1" => true,
        "false" or "off" or "no" or "0" => false,
        _ => throw new FormatException($"{name}: \"{text}\" is not true or false"),
    };

    /// <summary>A count an MQTT 5 two-byte property carries: <paramref name="minimum"/> to 65535.</summary>
    public static ushort ParseMqttCount(string text, string name, int minimum) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= minimum && value <= ushort.MaxValue
            ? (ushort)value
            : throw new FormatException($"{name}: \"{text}\" is not a whole number from {minimum} to 65535 (MQTT carries it in two bytes)");

    /// <summary>A keep-alive in whole seconds from 1 s to 65535 s, the most MQTT can say.</summary>
    public static TimeSpan ParseKeepAlive(string text, string name)
    {
        TimeSpan value = ParseDuration(text, name);
        return value.TotalSeconds >= 1 && value.TotalSeconds <= ushort.MaxValue && value.TotalSeconds == Math.Floor(value.TotalSeconds)
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a whole number of seconds from 1s to 65535s (MQTT carries the keep-alive in seconds, in two bytes)");
    }

    /// <summary>A session expiry in whole seconds, below the 4294967295 s that MQTT 5 reads as "never".</summary>
    public static TimeSpan ParseSessionExpiry(string text, string name)
    {
        TimeSpan value = ParseDuration(text, name);
        return value.TotalSeconds >= 1 && value.TotalSeconds < uint.MaxValue && value.TotalSeconds == Math.Floor(value.TotalSeconds)
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a whole number of seconds from 1s to 4294967294s (MQTT carries it in seconds, in four bytes, and the largest value means never)");
    }

    public static int ParsePositiveInt(string text, string name) =>
        int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0
            ? value
            : throw new FormatException($"{name}: \"{text}\" is not a positive whole number");
}
