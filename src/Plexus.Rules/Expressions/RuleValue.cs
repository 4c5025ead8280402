using System.Runtime.InteropServices;
using Plexus.Core;

namespace Plexus.Rules.Expressions;

public enum RuleValueKind : byte
{
    Null,
    Number,
    Boolean,
    Text,
}

/// <summary>
/// A value while a rule is evaluated: SQL NULL, a number (every numeric field, as a double), a boolean, or UTF-8 text.
/// Text is a slice, not a string: of the row's batch (<see cref="Bytes"/> is null), of a constant, or of the row's
/// scratch space (what a string function made), so that evaluating a rule allocates nothing per point.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly struct RuleValue
{
    private RuleValue(RuleValueKind kind, double number, byte[]? bytes, int start, int length)
    {
        Kind = kind;
        Number = number;
        Bytes = bytes;
        Start = start;
        Length = length;
    }

    public static RuleValue Null => default;

    public static RuleValue True => new(RuleValueKind.Boolean, 1, null, 0, 0);

    public static RuleValue False => new(RuleValueKind.Boolean, 0, null, 0, 0);

    public RuleValueKind Kind { get; }

    /// <summary>The number; for a boolean 1 or 0.</summary>
    public double Number { get; }

    /// <summary>The array a text value lies in; null for text in the row's batch.</summary>
    internal byte[]? Bytes { get; }

    internal int Start { get; }

    internal int Length { get; }

    public bool IsNull => Kind == RuleValueKind.Null;

    /// <summary>True only for the boolean true: NULL and false both fail a condition, as in SQL's WHERE.</summary>
    public bool IsTrue => Kind == RuleValueKind.Boolean && Number != 0;

    public static RuleValue Of(double number) => new(RuleValueKind.Number, number, null, 0, 0);

    public static RuleValue Of(bool value) => value ? True : False;

    public static RuleValue OfText(byte[] bytes) => new(RuleValueKind.Text, 0, bytes, 0, bytes.Length);

    internal static RuleValue OfText(byte[] bytes, int start, int length) => new(RuleValueKind.Text, 0, bytes, start, length);

    internal static RuleValue OfBatchText(TextSlice slice) => new(RuleValueKind.Text, 0, null, slice.Start, slice.Length);
}
