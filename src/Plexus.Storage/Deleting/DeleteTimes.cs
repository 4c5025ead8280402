using System.Globalization;
using System.Text.RegularExpressions;

namespace Plexus.Storage.Deleting;

/// <summary>
/// The times a delete takes (<c>--from</c>, <c>--to</c>, <c>?from=&amp;to=</c>): an RFC 3339 time with up to nine
/// fractional digits, kept to the nanosecond (2026-01-02T03:04:05.123456789Z), a date alone (midnight UTC), or Unix
/// nanoseconds as a whole number.
/// </summary>
public static partial class DeleteTimes
{
    public const string Example = "2026-01-02T03:04:05Z, 2026-01-02 or Unix nanoseconds";

    public static bool TryParse(string? text, out long unixNs)
    {
        unixNs = 0;
        if (string.IsNullOrWhiteSpace(text) || text.Length > 64)
        {
            return false;
        }

        text = text.Trim();
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out unixNs))
        {
            return true;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
        {
            return TryNs(new DateTimeOffset(date, TimeOnly.MinValue, TimeSpan.Zero), 0, out unixNs);
        }

        var match = Rfc3339().Match(text);
        if (!match.Success
            || !DateTimeOffset.TryParseExact(match.Groups["base"].Value + match.Groups["zone"].Value.Replace("z", "Z", StringComparison.Ordinal),
                ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd' 'HH:mm:ssK"], CultureInfo.InvariantCulture, DateTimeStyles.None, out var whole))
        {
            return false;
        }

        string fraction = match.Groups["fraction"].Value;
        long nanos = fraction.Length == 0 ? 0 : long.Parse(fraction.PadRight(9, '0'), CultureInfo.InvariantCulture);
        return TryNs(whole, nanos, out unixNs);
    }

    private static bool TryNs(DateTimeOffset time, long nanos, out long unixNs)
    {
        long ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        // Unix nanoseconds in a long reach from 1677 to 2262.
        if (ticks is > long.MaxValue / 100 or < long.MinValue / 100)
        {
            unixNs = 0;
            return false;
        }

        unixNs = (ticks * 100) + nanos;
        return true;
    }

    [GeneratedRegex(@"^(?<base>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(?<fraction>\d{1,9}))?(?<zone>[Zz]|[+-]\d{2}:\d{2})$", RegexOptions.CultureInvariant)]
    private static partial Regex Rfc3339();
}
