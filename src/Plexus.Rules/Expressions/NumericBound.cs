namespace Plexus.Rules.Expressions;

/// <summary>
/// A numeric comparison a condition cannot be true without: the first operand of its top-level <c>AND</c> chain that
/// compares a point column with a number literal (<c>velocity &gt; 95</c>, <c>80 &lt;= grade</c>,
/// <c>fuel_state &lt; 0.3</c>, <c>load BETWEEN 10 AND 20</c>, <c>code = 5</c>). The engine indexes the rules of a
/// measurement by these, sorted by threshold, so that a point finds the rules it can make true by reading each indexed
/// column once instead of evaluating every rule (docs/rules.md#how-rules-run).
/// </summary>
/// <remarks>
/// It holds, as the comparison does, only when the column is a number, with <see cref="double.CompareTo(double)"/>'s
/// order (NaN below every number): <c>BETWEEN</c> needs its lower bound, <c>=</c> needs <c>&gt;=</c>, so both are
/// looser than the condition, which is all a necessary condition must be.
/// </remarks>
internal sealed record NumericBound(int Symbol, bool Above, double Threshold, bool Inclusive)
{
    /// <summary>Whether <paramref name="value"/> meets it, in the order the comparison uses.</summary>
    public bool IsMetBy(double value)
    {
        int order = value.CompareTo(Threshold);
        return Above ? order > 0 || (order == 0 && Inclusive) : order < 0 || (order == 0 && Inclusive);
    }

    /// <summary>The first bound of the top-level <c>AND</c> chain of <paramref name="node"/>; null when there is none (an <c>OR</c>, a <c>NOT</c>...).</summary>
    public static NumericBound? Of(RuleNode node, RuleSymbols symbols) => node switch
    {
        BinaryNode { Operator: BinaryOperator.And } and => Of(and.Left, symbols) ?? Of(and.Right, symbols),
        BinaryNode { Left: NameNode name, Right: var right } binary when Number(right) is { } literal => Make(name, binary.Operator, literal, literalFirst: false, symbols),
        BinaryNode { Left: var left, Right: NameNode name } binary when Number(left) is { } literal => Make(name, binary.Operator, literal, literalFirst: true, symbols),
        BetweenNode { Negated: false, Subject: NameNode name, Low: var low } when Number(low) is { } literal => Make(name, BinaryOperator.GreaterOrEqual, literal, literalFirst: false, symbols),
        _ => null,
    };

    private static NumericBound? Make(NameNode name, BinaryOperator op, double literal, bool literalFirst, RuleSymbols symbols)
    {
        // Only a point column: time, device.*, state.* and position.* are not read from the point's fields.
        if (name.Parts is not [var column] || string.Equals(column, "time", StringComparison.OrdinalIgnoreCase) || double.IsNaN(literal))
        {
            return null;
        }

        // 95 < velocity is velocity > 95: with the literal first, the column is above where the operator says below.
        // = needs >= whichever side the literal is on.
        bool? above = op switch
        {
            BinaryOperator.Equal => true,
            BinaryOperator.Greater or BinaryOperator.GreaterOrEqual => !literalFirst,
            BinaryOperator.Less or BinaryOperator.LessOrEqual => literalFirst,
            _ => null,
        };
        if (above is not { } isAbove)
        {
            return null;
        }

        bool inclusive = op is BinaryOperator.GreaterOrEqual or BinaryOperator.LessOrEqual or BinaryOperator.Equal;
        return new NumericBound(symbols.IdOf(column), isAbove, literal, inclusive);
    }

    private static double? Number(RuleNode node) => node switch
    {
        LiteralNode { Kind: LiteralKind.Number } literal => literal.Number,
        UnaryNode { Operator: UnaryOperator.Negate, Operand: LiteralNode { Kind: LiteralKind.Number } literal } => -literal.Number,
        _ => null,
    };
}
