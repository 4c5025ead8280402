using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Plexus.Simulator;

/// <summary>
/// The number and time formatting every writer shares, straight into UTF-8 spans. Callers guarantee room
/// (<see cref="IFleetRowFormatter.MaxRowBytes"/>), so the methods index without checks beyond the span's own.
/// </summary>
internal static class Utf8Text
{
    private static readonly long[] s_pow10 = [1, 10, 100, 1_000, 10_000, 100_000];

    /// <summary>
    /// Writes <c>scaled / 10^decimals</c> in plain decimal notation with no trailing zeros (<c>52.31854</c>, <c>0.5</c>,
    /// <c>-3</c>, <c>25</c>), which is exactly what Go's <c>strconv.AppendFloat(v, 'f', -1, 64)</c> prints for the
    /// double TSBS builds from the same integer: a decimal of at most 15 significant digits is the shortest
    /// representation of its nearest double. Never an exponent, never "-0".
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteScaled(Span<byte> destination, long scaled, int decimals)
    {
        if (decimals == 0)
        {
            return WriteInt64(destination, scaled);
        }

        int position = 0;
        ulong magnitude;
        if (scaled < 0)
        {
            destination[position++] = (byte)'-';
            magnitude = (ulong)-scaled;
        }
        else
        {
            magnitude = (ulong)scaled;
        }

        ulong divisor = (ulong)s_pow10[decimals];
        ulong whole = magnitude / divisor;
        ulong fraction = magnitude - (whole * divisor);
        position += WriteUInt64(destination[position..], whole);
        if (fraction != 0)
        {
            // Drop trailing zeros of the fraction, then print it left-padded with zeros to the remaining width.
            int width = decimals;
            while (fraction % 10 == 0)
            {
                fraction /= 10;
                width--;
            }

            destination[position++] = (byte)'.';
            for (int i = width - 1; i >= 0; i--)
            {
                destination[position + i] = (byte)('0' + (int)(fraction % 10));
                fraction /= 10;
            }

            position += width;
        }

        return position;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteInt64(Span<byte> destination, long value)
    {
        if (value >= 0)
        {
            return WriteUInt64(destination, (ulong)value);
        }

        destination[0] = (byte)'-';
        return 1 + WriteUInt64(destination[1..], (ulong)-value);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int WriteUInt64(Span<byte> destination, ulong value)
    {
        if (value < 10)
        {
            destination[0] = (byte)('0' + (int)value);
            return 1;
        }

        bool ok = value.TryFormat(destination, out int written, default, null);
        Debug.Assert(ok, "the caller reserved room for a number");
        return written;
    }

    /// <summary>RFC 3339 in UTC: <c>2016-01-01T22:00:10Z</c>, with a fraction (trailing zeros dropped) only when the time has one.</summary>
    public static int WriteRfc3339(Span<byte> destination, long unixNanoseconds)
    {
        long ticks = Math.DivRem(unixNanoseconds, 100, out long belowTick);
        var time = DateTime.UnixEpoch.AddTicks(ticks);
        int position = 0;
        position += WritePadded(destination[position..], time.Year, 4);
        destination[position++] = (byte)'-';
        position += WritePadded(destination[position..], time.Month, 2);
        destination[position++] = (byte)'-';
        position += WritePadded(destination[position..], time.Day, 2);
        destination[position++] = (byte)'T';
        position += WritePadded(destination[position..], time.Hour, 2);
        destination[position++] = (byte)':';
        position += WritePadded(destination[position..], time.Minute, 2);
        destination[position++] = (byte)':';
        position += WritePadded(destination[position..], time.Second, 2);
        long fraction = (ticks % TimeSpan.TicksPerSecond * 100) + belowTick; // nanoseconds within the second
        if (fraction != 0)
        {
            int width = 9;
            while (fraction % 10 == 0)
            {
                fraction /= 10;
                width--;
            }

            destination[position++] = (byte)'.';
            position += WritePadded(destination[position..], fraction, width);
        }

        destination[position++] = (byte)'Z';
        return position;
    }

    private static int WritePadded(Span<byte> destination, long value, int width)
    {
        for (int i = width - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (int)(value % 10));
            value /= 10;
        }

        return width;
    }

    /// <summary>A float32 tag value as Go's <c>AppendFloat(v, 'f', -1, 32)</c> prints it; the TSBS values are whole numbers.</summary>
    public static string FormatFloat32(float value)
    {
        string text = value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
        Debug.Assert(!text.Contains('E', StringComparison.Ordinal), "TSBS capacities are small whole numbers, never in exponent form");
        return text;
    }
}
