using Plexus.Rules.Anomalies;
using Plexus.Rules.Engine;

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

    /// <summary>
    /// The window object of a slot, made by <paramref name="create"/> the first time (once per device and call, not per
    /// point). A window of another kind, restored from a state file an earlier version of the compiler wrote, is
    /// replaced rather than cast.
    /// </summary>
    internal T Window<T>(int slot, Func<T> create)
        where T : class => Windows[slot] as T ?? (T)(Windows[slot] = create());

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

    /// <summary>Every slot: its previous value and time, its text, and its window (docs/rules.md#restarts).</summary>
    internal void Save(RuleStateWriter writer)
    {
        for (int slot = 0; slot < Seen.Length; slot++)
        {
            writer.Byte(Seen[slot] ? (byte)1 : (byte)0);
            writer.Byte((byte)Kinds[slot]);
            writer.Double(Numbers[slot]);
            writer.Int64(Times[slot]);
            writer.Bytes(Texts[slot].AsSpan(0, TextLengths[slot]), isNull: Texts[slot] is null);
            switch (Windows[slot])
            {
                case EventWindow count:
                    writer.Byte(WindowCount);
                    count.Save(writer);
                    break;
                case AnomalyWindow anomaly:
                    writer.Byte(WindowAnomaly);
                    anomaly.Save(writer);
                    break;
                case SeasonalAnomalyWindow seasonal:
                    writer.Byte(WindowSeasonal);
                    seasonal.Save(writer);
                    break;
                default:
                    writer.Byte(WindowNone);
                    break;
            }
        }
    }

    /// <summary>Fills the slots from what <see cref="Save"/> wrote for a rule compiled from the same text.</summary>
    internal void Load(RuleStateReader reader, Func<int, double[]> ewmaWeights)
    {
        for (int slot = 0; slot < Seen.Length; slot++)
        {
            Seen[slot] = reader.Byte() != 0;
            int at = reader.Position;
            byte kind = reader.Byte();
            Kinds[slot] = Enum.IsDefined((RuleValueKind)kind) ? (RuleValueKind)kind : throw reader.Damaged(at, $"{kind} is not a kind of value");
            Numbers[slot] = reader.Double();
            Times[slot] = reader.Int64();
            var text = reader.Bytes(MaxRememberedText, "a remembered text's length", out bool isNull);
            Texts[slot] = isNull ? null : text.ToArray();
            TextLengths[slot] = text.Length;
            at = reader.Position;
            Windows[slot] = reader.Byte() switch
            {
                WindowNone => null,
                WindowCount => EventWindow.Load(reader),
                WindowAnomaly => AnomalyWindow.Load(reader, ewmaWeights),
                WindowSeasonal => SeasonalAnomalyWindow.Load(reader),
                var other => throw reader.Damaged(at, $"{other} is not a kind of window"),
            };
        }
    }

    /// <summary>The longest text a slot is restored with: a field's value is at most this long when written.</summary>
    private const int MaxRememberedText = 16 * 1024 * 1024;

    private const byte WindowNone = 0;
    private const byte WindowCount = 1;
    private const byte WindowAnomaly = 2;
    private const byte WindowSeasonal = 3;

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
