using System.Runtime.CompilerServices;

namespace Plexus.Ingest.Json;

internal enum TimeParseStatus : byte
{
    Ok,

    /// <summary>Not the syntax expected (neither a JSON number nor an ISO 8601 date and time).</summary>
    Invalid,

    /// <summary>An ISO 8601 date and time without <c>Z</c> or an offset: a local time we cannot place.</summary>
    NoOffset,

    /// <summary>Well formed, but a month, day, hour, minute, second or offset is out of its range.</summary>
    InvalidDate,

    /// <summary>More than nine fractional digits: finer than the nanoseconds we store.</summary>
    TooManyFractionDigits,

    /// <summary>Outside the 64-bit nanosecond range (1677-09-21 to 2262-04-11).</summary>
    OutOfRange,
}

/// <summary>
/// Times as devices write them, turned into nanoseconds since the Unix epoch without allocating and without
/// going through <see cref="double"/>: epoch milliseconds or seconds as a JSON number (read from the decimal
/// text, so <c>1.276020076001e+09</c> s is exactly ...076001000000 ns), and RFC 3339 / ISO 8601 strings.
/// </summary>
internal static class JsonTimestamps
{
    public const long NanosecondsPerMillisecond = 1_000_000;
    public const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>The range of 64-bit nanoseconds since the epoch, as users read it in errors.</summary>
    public const string SupportedRange = "1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z";

    private const int MaxMantissaDigits = 19;

    private static readonly ulong[] PowersOfTen =
    [
        1UL, 10UL, 100UL, 1_000UL, 10_000UL, 100_000UL, 1_000_000UL, 10_000_000UL, 100_000_000UL,
        1_000_000_000UL, 10_000_000_000UL, 100_000_000_000UL, 1_000_000_000_000UL, 10_000_000_000_000UL,
        100_000_000_000_000UL, 1_000_000_000_000_000UL, 10_000_000_000_000_000UL, 100_000_000_000_000_000UL,
        1_000_000_000_000_000_000UL, 10_000_000_000_000_000_000UL,
    ];

    /// <summary>
    /// Reads a JSON number token as <c>value × 10^scale</c>, rounded to the nearest integer (halves away from
    /// zero): scale 6 turns epoch milliseconds into nanoseconds, scale 9 seconds. Works on the decimal digits,
    /// so no binary rounding creeps in; digits beyond the 19th significant one only take part in rounding.
    /// </summary>
    public static TimeParseStatus TryParseScaled(ReadOnlySpan<byte> token, int scale, out long value)
    {
        value = 0;
        int i = 0;
        bool negative = false;
        if (i < token.Length && token[i] == (byte)'-')
        {
            negative = true;
            i++;
        }

        ulong mantissa = 0;
        int kept = 0;
        int exponent = 0;
        bool sawDigit = false;
        bool dropped = false;
        bool roundUp = false;

        while (i < token.Length && IsDigit(token[i]))
        {
            sawDigit = true;
            int digit = token[i] - '0';
            if (mantissa == 0 && digit == 0)
            {
                // Leading zero: no value, no place.
            }
            else if (kept < MaxMantissaDigits)
            {
                mantissa = (mantissa * 10) + (ulong)digit;
                kept++;
            }
            else
            {
                exponent++;
                roundUp |= !dropped && digit >= 5;
                dropped = true;
            }

            i++;
        }

        if (i < token.Length && token[i] == (byte)'.')
        {
            i++;
            int fractionStart = i;
            while (i < token.Length && IsDigit(token[i]))
            {
                int digit = token[i] - '0';
                if (mantissa == 0 && digit == 0)
                {
                    exponent--;
                }
                else if (kept < MaxMantissaDigits)
                {
                    mantissa = (mantissa * 10) + (ulong)digit;
                    kept++;
                    exponent--;
                }
                else
                {
                    roundUp |= !dropped && digit >= 5;
                    dropped = true;
                }

                i++;
            }

            if (i == fractionStart)
            {
                return TimeParseStatus.Invalid;
            }
        }

        if (!sawDigit)
        {
            return TimeParseStatus.Invalid;
        }

        if (i < token.Length && (token[i] | 0x20) == (byte)'e')
        {
            i++;
            bool exponentNegative = false;
            if (i < token.Length && token[i] is (byte)'+' or (byte)'-')
            {
                exponentNegative = token[i] == (byte)'-';
                i++;
            }

            int exponentStart = i;
            int written = 0;
            while (i < token.Length && IsDigit(token[i]))
            {
                // Clamped: anything this large is out of range (or zero) anyway.
                if (written < 100_000)
                {
                    written = (written * 10) + (token[i] - '0');
                }

                i++;
            }

            if (i == exponentStart)
            {
                return TimeParseStatus.Invalid;
            }

            exponent += exponentNegative ? -written : written;
        }

        if (i != token.Length)
        {
            return TimeParseStatus.Invalid;
        }

        if (roundUp)
        {
            mantissa++;
        }

        if (mantissa == 0)
        {
            return TimeParseStatus.Ok;
        }

        ulong magnitude;
        int shift = exponent + scale;
        if (shift >= 0)
        {
            if (shift >= PowersOfTen.Length || mantissa > ulong.MaxValue / PowersOfTen[shift])
            {
                return TimeParseStatus.OutOfRange;
            }

            magnitude = mantissa * PowersOfTen[shift];
        }
        else if (-shift >= PowersOfTen.Length)
        {
            // mantissa < 10^19 + 1, so the value is below 0.5 and rounds to zero.
            magnitude = 0;
        }
        else
        {
            ulong divisor = PowersOfTen[-shift];
            magnitude = mantissa / divisor;
            ulong remainder = mantissa % divisor;
            if (remainder >= divisor - remainder)
            {
                magnitude++;
            }
        }

        if (negative)
        {
            if (magnitude > 1UL << 63)
            {
                return TimeParseStatus.OutOfRange;
            }

            value = unchecked((long)(0UL - magnitude));
        }
        else
        {
            if (magnitude > long.MaxValue)
            {
                return TimeParseStatus.OutOfRange;
            }

            value = (long)magnitude;
        }

        return TimeParseStatus.Ok;
    }

    /// <summary>
    /// Reads an RFC 3339 date and time (the profile of ISO 8601 the web uses):
    /// <c>YYYY-MM-DD('T'|'t'|' ')hh:mm:ss[.fraction](Z|z|±hh:mm|±hhmm|±hh)</c>, with 1 to 9 fractional digits
    /// after '.' or ','. A second of 60 (a leap second) counts as the first second of the next minute, which is
    /// what POSIX time does. A time without an offset is refused rather than guessed.
    /// </summary>
    public static TimeParseStatus TryParseIso8601(ReadOnlySpan<byte> text, out long nanoseconds)
    {
        nanoseconds = 0;
        if (text.Length < 19
            || !TryDigits(text, 0, 4, out int year) || text[4] != (byte)'-'
            || !TryDigits(text, 5, 2, out int month) || text[7] != (byte)'-'
            || !TryDigits(text, 8, 2, out int day)
            || text[10] is not ((byte)'T' or (byte)'t' or (byte)' ')
            || !TryDigits(text, 11, 2, out int hour) || text[13] != (byte)':'
            || !TryDigits(text, 14, 2, out int minute) || text[16] != (byte)':'
            || !TryDigits(text, 17, 2, out int second))
        {
            return TimeParseStatus.Invalid;
        }

        int p = 19;
        long fraction = 0;
        int fractionDigits = 0;
        if (p < text.Length && text[p] is (byte)'.' or (byte)',')
        {
            p++;
            while (p < text.Length && IsDigit(text[p]))
            {
                if (fractionDigits < 9)
                {
                    fraction = (fraction * 10) + (text[p] - '0');
                }

                fractionDigits++;
                p++;
            }

            if (fractionDigits == 0)
            {
                return TimeParseStatus.Invalid;
            }
        }

        if (p == text.Length)
        {
            return TimeParseStatus.NoOffset;
        }

        int offsetSeconds = 0;
        byte designator = text[p];
        if (designator is (byte)'Z' or (byte)'z')
        {
            p++;
        }
        else if (designator is (byte)'+' or (byte)'-')
        {
            p++;
            if (!TryDigits(text, p, 2, out int offsetHours))
            {
                return TimeParseStatus.Invalid;
            }

            p += 2;
            int offsetMinutes = 0;
            if (p < text.Length)
            {
                if (text[p] == (byte)':')
                {
                    p++;
                }

                if (!TryDigits(text, p, 2, out offsetMinutes))
                {
                    return TimeParseStatus.Invalid;
                }

                p += 2;
            }

            if (offsetHours > 23 || offsetMinutes > 59)
            {
                return TimeParseStatus.InvalidDate;
            }

            offsetSeconds = ((offsetHours * 60) + offsetMinutes) * 60;
            if (designator == (byte)'-')
            {
                offsetSeconds = -offsetSeconds;
            }
        }
        else
        {
            return TimeParseStatus.Invalid;
        }

        if (p != text.Length)
        {
            return TimeParseStatus.Invalid;
        }

        if (month is < 1 or > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60)
        {
            return TimeParseStatus.InvalidDate;
        }

        if (fractionDigits > 9)
        {
            return TimeParseStatus.TooManyFractionDigits;
        }

        fraction *= (long)PowersOfTen[9 - fractionDigits];
        long seconds = (DaysFromCivil(year, month, day) * 86_400) + (hour * 3_600) + (minute * 60) + second - offsetSeconds;
        Int128 total = ((Int128)seconds * NanosecondsPerSecond) + fraction;
        if (total > long.MaxValue || total < long.MinValue)
        {
            return TimeParseStatus.OutOfRange;
        }

        nanoseconds = (long)total;
        return TimeParseStatus.Ok;
    }

    /// <summary>Adds two nanosecond values; false when the sum leaves the 64-bit range.</summary>
    public static bool TryAdd(long left, long right, out long sum)
    {
        sum = unchecked(left + right);
        return ((left ^ sum) & (right ^ sum)) >= 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    private static bool TryDigits(ReadOnlySpan<byte> text, int start, int count, out int value)
    {
        value = 0;
        if (start + count > text.Length)
        {
            return false;
        }

        for (int i = start; i < start + count; i++)
        {
            if (!IsDigit(text[i]))
            {
                return false;
            }

            value = (value * 10) + (text[i] - '0');
        }

        return true;
    }

    private static int DaysInMonth(int year, int month) => month switch
    {
        2 => (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28,
        4 or 6 or 9 or 11 => 30,
        _ => 31,
    };

    /// <summary>Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).</summary>
    private static long DaysFromCivil(int year, int month, int day)
    {
        long y = month <= 2 ? year - 1 : year;
        long era = (y >= 0 ? y : y - 399) / 400;
        long yearOfEra = y - (era * 400);
        long dayOfYear = ((153 * (month + (month > 2 ? -3 : 9))) + 2) / 5 + day - 1;
        long dayOfEra = (yearOfEra * 365) + (yearOfEra / 4) - (yearOfEra / 100) + dayOfYear;
        return (era * 146_097) + dayOfEra - 719_468;
    }
}
