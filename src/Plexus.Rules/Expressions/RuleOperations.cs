using System.Text;

namespace Plexus.Rules.Expressions;

/// <summary>SQL's comparison and pattern semantics over <see cref="RuleValue"/>s, without allocating.</summary>
internal static class RuleOperations
{
    /// <summary>
    /// The order of two values: numbers by value, text by its bytes (UTF-8 order is code point order), booleans false
    /// before true. Null when either is NULL or their kinds differ (a text field compared with a number is NULL, not an error).
    /// </summary>
    public static int? Compare(RuleRow row, in RuleValue left, in RuleValue right)
    {
        if (left.Kind != right.Kind || left.IsNull)
        {
            return null;
        }

        return left.Kind == RuleValueKind.Text
            ? row.TextOf(left).SequenceCompareTo(row.TextOf(right))
            : left.Number.CompareTo(right.Number);
    }

    public static RuleValue Logic(bool? value) => value is { } known ? RuleValue.Of(known) : RuleValue.Null;

    public static bool? AsLogic(in RuleValue value) => value.Kind == RuleValueKind.Boolean ? value.Number != 0 : null;

    /// <summary>
    /// SQL LIKE: <c>%</c> any run of characters, <c>_</c> one character (a whole UTF-8 sequence), <c>\</c> escapes the
    /// next pattern character. Iterative with one backtrack point, so a hostile pattern costs linear time per '%'.
    /// </summary>
    public static bool Like(ReadOnlySpan<byte> text, ReadOnlySpan<byte> pattern, bool ignoreCase)
    {
        int t = 0, p = 0, starP = -1, starT = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == (byte)'%')
            {
                starP = ++p;
                starT = t;
                continue;
            }

            if (p < pattern.Length && pattern[p] == (byte)'_')
            {
                p++;
                t += CharLength(text[t]);
                continue;
            }

            if (p < pattern.Length)
            {
                int literal = pattern[p] == (byte)'\\' && p + 1 < pattern.Length ? p + 1 : p;
                if (Same(text[t], pattern[literal], ignoreCase))
                {
                    p = literal + 1;
                    t++;
                    continue;
                }
            }

            if (starP < 0)
            {
                return false;
            }

            p = starP;
            starT += CharLength(text[starT]);
            t = starT;
        }

        while (p < pattern.Length && pattern[p] == (byte)'%')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Characters (code points) in UTF-8 text.</summary>
    public static int CharCount(ReadOnlySpan<byte> text)
    {
        int count = 0;
        foreach (byte b in text)
        {
            if ((b & 0xC0) != 0x80)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>Lower or upper case of UTF-8 text into the row's scratch; ASCII in place, anything else through a string.</summary>
    public static RuleValue ChangeCase(RuleRow row, ReadOnlySpan<byte> text, bool upper)
    {
        if (Ascii.IsValid(text))
        {
            if (!row.Reserve(text.Length))
            {
                return RuleValue.Null;
            }

            var target = row.ScratchSpace(text.Length);
            if (upper)
            {
                Ascii.ToUpper(text, target, out _);
            }
            else
            {
                Ascii.ToLower(text, target, out _);
            }

            return row.CommitScratch(text.Length);
        }

        string value = Encoding.UTF8.GetString(text);
        return row.Store(Encoding.UTF8.GetBytes(upper ? value.ToUpperInvariant() : value.ToLowerInvariant()));
    }

    private static bool Same(byte a, byte b, bool ignoreCase) =>
        a == b || (ignoreCase && a < 0x80 && b < 0x80 && char.ToLowerInvariant((char)a) == char.ToLowerInvariant((char)b));

    private static int CharLength(byte lead) => lead switch
    {
        < 0xC0 => 1,
        < 0xE0 => 2,
        < 0xF0 => 3,
        _ => 4,
    };
}
