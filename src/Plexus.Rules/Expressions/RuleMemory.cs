namespace Plexus.Rules.Expressions;

/// <summary>
/// What the stateful functions of one rule remember for one device or series between its points: for each call of
/// <c>rate(x)</c>, <c>changed(x)</c> or a geofence transition in the rule (a slot), the previous value and its time;
/// for <c>count_within</c> and <c>anomaly</c>, a window object of the slot's own (<see cref="Windows"/>), made at the
/// device's first point. Text is copied into a buffer of the slot's own, reused while it is large enough.
/// </summary>
public sealed class RuleMemory(int slots)
{
    internal readonly bool[] Seen = new bool[slots];
    internal readonly RuleValueKind[] Kinds = new RuleValueKind[slots];
    internal readonly double[] Numbers = new double[slots];
    internal readonly long[] Times = new long[slots];
    internal readonly byte[]?[] Texts = new byte[slots][];
    internal readonly int[] TextLengths = new int[slots];
    internal readonly object?[] Windows = new object?[slots];

    /// <summary>
    /// Remembers whether the device is inside a geofence at this point and returns the seconds it has been inside since
    /// the first point of this stay (0 when outside); <paramref name="wasInside"/> is the previous point's answer, null
    /// for the first. <see cref="Times"/> holds when the stay began.
    /// </summary>
    internal double Stay(int slot, bool inside, long timeNs, out bool? wasInside)
    {
        wasInside = Seen[slot] ? Numbers[slot] != 0 : null;
        if (inside && wasInside != true)
        {
            Times[slot] = timeNs;
        }

        Seen[slot] = true;
        Kinds[slot] = RuleValueKind.Boolean;
        Numbers[slot] = inside ? 1 : 0;
        return inside ? (timeNs - Times[slot]) / 1e9 : 0;
    }

    /// <summary>The window object of a slot, made by <paramref name="create"/> the first time (once per device and call, not per point).</summary>
    internal T Window<T>(int slot, Func<T> create)
        where T : class => (T)(Windows[slot] ??= create());

    /// <summary>Whether <paramref name="value"/> differs from what the slot holds (false the first time), then remembers it.</summary>
    internal bool Changed(RuleRow row, int slot, in RuleValue value)
    {
        bool changed = Seen[slot] && !Same(row, slot, value);
        Remember(row, slot, value);
        return changed;
    }

    /// <summary>Change per second since the slot's previous number (NULL the first time or for the same instant), then remembers it.</summary>
    internal RuleValue Rate(RuleRow row, int slot, in RuleValue value)
    {
        if (value.Kind != RuleValueKind.Number)
        {
            return RuleValue.Null;
        }

        var rate = RuleValue.Null;
        long time = row.TimeNs;
        if (Seen[slot] && Kinds[slot] == RuleValueKind.Number && time > Times[slot])
        {
            rate = RuleValue.Of((value.Number - Numbers[slot]) / ((time - Times[slot]) / 1e9));
        }

        Remember(row, slot, value);
        return rate;
    }

    private bool Same(RuleRow row, int slot, in RuleValue value)
    {
        if (Kinds[slot] != value.Kind)
        {
            return false;
        }

        return value.Kind switch
        {
            RuleValueKind.Null => true,
            RuleValueKind.Text => row.TextOf(value).SequenceEqual(Texts[slot].AsSpan(0, TextLengths[slot])),
            _ => Numbers[slot].Equals(value.Number),
        };
    }

    private void Remember(RuleRow row, int slot, in RuleValue value)
    {
        Seen[slot] = true;
        Kinds[slot] = value.Kind;
        Numbers[slot] = value.Number;
        Times[slot] = row.TimeNs;
        if (value.Kind == RuleValueKind.Text)
        {
            var text = row.TextOf(value);
            if (Texts[slot] is not { } buffer || buffer.Length < text.Length)
            {
                buffer = new byte[Math.Max(16, text.Length)];
                Texts[slot] = buffer;
            }

            text.CopyTo(buffer);
            TextLengths[slot] = text.Length;
        }
    }
}
