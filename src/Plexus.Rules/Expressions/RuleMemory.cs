namespace Plexus.Rules.Expressions;

/// <summary>
/// What the stateful functions of one rule remember for one device or series between its points: for each call of
/// <c>rate(x)</c> or <c>changed(x)</c> in the rule (a slot), the previous value and its time. Text is copied into a
/// buffer of the slot's own, reused while it is large enough.
/// </summary>
public sealed class RuleMemory(int slots)
{
    internal readonly bool[] Seen = new bool[slots];
    internal readonly RuleValueKind[] Kinds = new RuleValueKind[slots];
    internal readonly double[] Numbers = new double[slots];
    internal readonly long[] Times = new long[slots];
    internal readonly byte[]?[] Texts = new byte[slots][];
    internal readonly int[] TextLengths = new int[slots];

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
