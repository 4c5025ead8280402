using System.Globalization;
using System.Runtime.CompilerServices;

namespace Plexus.Ingest.LineProtocol;

internal enum NumberStatus : byte
{
    Ok,
    Invalid,
    OutOfRange,
}

/// <summary>
/// Number syntax as the line-protocol spec writes it, checked by hand: the BCL parsers accept more
/// (white space, '+', "NaN", "Infinity", thousands separators under some styles) and line protocol must not.
/// </summary>
internal static class LineProtocolNumbers
{
    // 10^22 is the largest power of ten a double holds exactly, which bounds the fast float path below.
    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    private const ulong MaxExactMantissa = 1UL << 53;
    private const int MaxMantissaDigits = 19;

    /// <summary>An optional '-' and one or more ASCII digits (leading zeros allowed), within 64-bit signed range.</summary>
    public static NumberStatus ParseInt64(ReadOnlySpan<byte> text, out long value)
    {
        value = 0;
        bool negative = !text.IsEmpty && text[0] == (byte)'-';
        NumberStatus status = ParseDigits(negative ? text[1..] : text, out ulong magnitude);
        if (status != NumberStatus.Ok)
        {
            return status;
        }

        if (negative)
        {
            if (magnitude > 1UL << 63)
            {
                return NumberStatus.OutOfRange;
            }

            value = unchecked((long)(0UL - magnitude));
        }
        else
        {
            if (magnitude > long.MaxValue)
            {
                return NumberStatus.OutOfRange;
            }

            value = (long)magnitude;
        }

        return NumberStatus.Ok;
    }

    /// <summary>One or more ASCII digits, within 64-bit unsigned range; a sign of either kind is invalid.</summary>
    public static NumberStatus ParseUInt64(ReadOnlySpan<byte> text, out ulong value) => ParseDigits(text, out value);

    private static NumberStatus ParseDigits(ReadOnlySpan<byte> digits, out ulong value)
    {
        value = 0;
        if (digits.IsEmpty)
        {
            return NumberStatus.Invalid;
        }

        ulong result = 0;

        // Fast path: up to 19 digits stay below 10^19 < 2^64, so no overflow check per digit (a nanosecond
        // timestamp has 19).
        if (digits.Length <= 19)
        {
            foreach (byte b in digits)
            {
                uint digit = (uint)(b - '0');
                if (digit > 9)
                {
                    return NumberStatus.Invalid;
                }

                result = (result * 10) + digit;
            }

            value = result;
            return NumberStatus.Ok;
        }

        const ulong Limit = ulong.MaxValue / 10;
        bool overflow = false;

        // Every byte is checked even after an overflow, so that "99999999999999999999x" is reported as bad
        // syntax rather than as out of range.
        foreach (byte b in digits)
        {
            uint digit = (uint)(b - '0');
            if (digit > 9)
            {
                return NumberStatus.Invalid;
            }

            if (result > Limit || (result == Limit && digit > ulong.MaxValue % 10))
            {
                overflow = true;
            }

            result = unchecked((result * 10) + digit);
        }

        if (overflow)
        {
            return NumberStatus.OutOfRange;
        }

        value = result;
        return NumberStatus.Ok;
    }

    /// <summary>
    /// <c>-?(digits[.digits*] | .digits)([eE][+-]?digits)?</c>; NaN and infinities are invalid, and a value
    /// beyond the double range is out of range (underflow rounds to zero, as in every other parser).
    /// </summary>
    public static NumberStatus ParseFloat(ReadOnlySpan<byte> text, out double value)
    {
        value = 0;
        int i = 0;
        int length = text.Length;
        bool negative = false;
        if (i < length && text[i] == (byte)'-')
        {
            negative = true;
            i++;
        }

        ulong mantissa = 0;
        int significantDigits = 0;
        int digitCount = 0;
        int decimalExponent = 0;
        bool mantissaTruncated = false;

        while (i < length && IsDigit(text[i]))
        {
            AddDigit(text[i], ref mantissa, ref significantDigits, ref mantissaTruncated, ref decimalExponent, fraction: false);
            digitCount++;
            i++;
        }

        if (i < length && text[i] == (byte)'.')
        {
            i++;
            while (i < length && IsDigit(text[i]))
            {
                AddDigit(text[i], ref mantissa, ref significantDigits, ref mantissaTruncated, ref decimalExponent, fraction: true);
                digitCount++;
                i++;
            }
        }

        if (digitCount == 0)
        {
            return NumberStatus.Invalid;
        }

        int exponent = 0;
        if (i < length && (text[i] | 0x20) == (byte)'e')
        {
            i++;
            bool exponentNegative = false;
            if (i < length && (text[i] == (byte)'+' || text[i] == (byte)'-'))
            {
                exponentNegative = text[i] == (byte)'-';
                i++;
            }

            int exponentStart = i;
            while (i < length && IsDigit(text[i]))
            {
                // Saturate: anything this large is out of range (or zero) whatever the mantissa is.
                if (exponent < 100_000)
                {
                    exponent = (exponent * 10) + (text[i] - '0');
                }

                i++;
            }

            if (i == exponentStart)
            {
                return NumberStatus.Invalid;
            }

            if (exponentNegative)
            {
                exponent = -exponent;
            }
        }

        if (i != length)
        {
            return NumberStatus.Invalid;
        }

        // Fast path (Clinger): a mantissa and a power of ten that are both exact doubles give a correctly
        // rounded result with one multiplication or division. Covers nearly all sensor readings.
        if (!mantissaTruncated)
        {
            if (mantissa == 0)
            {
                value = negative ? -0.0 : 0.0;
                return NumberStatus.Ok;
            }

            int power = exponent + decimalExponent;
            if (mantissa <= MaxExactMantissa && power >= -22 && power <= 22)
            {
                double result = power >= 0 ? mantissa * PowersOfTen[power] : mantissa / PowersOfTen[-power];
                value = negative ? -result : result;
                return NumberStatus.Ok;
            }
        }

        // Slow path: the syntax is already known to be good, so the BCL parser only does the rounding.
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            return NumberStatus.Invalid;
        }

        return double.IsFinite(value) ? NumberStatus.Ok : NumberStatus.OutOfRange;
    }

    public static bool TryParseBoolean(ReadOnlySpan<byte> text, out bool value)
    {
        switch (text.Length)
        {
            case 1:
                switch (text[0])
                {
                    case (byte)'t' or (byte)'T':
                        value = true;
                        return true;
                    case (byte)'f' or (byte)'F':
                        value = false;
                        return true;
                }

                break;
            case 4 when text.SequenceEqual("true"u8) || text.SequenceEqual("True"u8) || text.SequenceEqual("TRUE"u8):
                value = true;
                return true;
            case 5 when text.SequenceEqual("false"u8) || text.SequenceEqual("False"u8) || text.SequenceEqual("FALSE"u8):
                value = false;
                return true;
        }

        value = false;
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddDigit(byte b, ref ulong mantissa, ref int significantDigits, ref bool truncated, ref int decimalExponent, bool fraction)
    {
        uint digit = (uint)(b - '0');
        if (significantDigits == 0 && digit == 0)
        {
            // A leading zero adds no precision; in the fraction it still moves the decimal point.
            if (fraction)
            {
                decimalExponent--;
            }

            return;
        }

        if (significantDigits < MaxMantissaDigits)
        {
            mantissa = (mantissa * 10) + digit;
            significantDigits++;
            if (fraction)
            {
                decimalExponent--;
            }
        }
        else
        {
            // More digits than a ulong holds: leave the value to the slow path.
            truncated = true;
        }
    }
}
