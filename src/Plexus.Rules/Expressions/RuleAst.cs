namespace Plexus.Rules.Expressions;

/// <summary>A parsed rule expression; <see cref="Position"/> is where it starts in the text, for error messages.</summary>
internal abstract record RuleNode(int Position);

internal enum LiteralKind
{
    Null,
    Number,
    Boolean,
    Text,
}

internal sealed record LiteralNode(int Position, LiteralKind Kind, double Number = 0, string? Text = null) : RuleNode(Position);

/// <summary>A name as written, split at its dots: <c>temperature</c>, <c>device.type</c>, <c>state.firmware</c>.</summary>
internal sealed record NameNode(int Position, IReadOnlyList<string> Parts) : RuleNode(Position)
{
    public string Display => string.Join('.', Parts);
}

internal enum UnaryOperator
{
    Not,
    Negate,
}

internal sealed record UnaryNode(int Position, UnaryOperator Operator, RuleNode Operand) : RuleNode(Position);

internal enum BinaryOperator
{
    And,
    Or,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    Concat,
}

internal sealed record BinaryNode(int Position, BinaryOperator Operator, RuleNode Left, RuleNode Right) : RuleNode(Position);

internal sealed record InNode(int Position, RuleNode Subject, IReadOnlyList<RuleNode> Values, bool Negated) : RuleNode(Position);

internal sealed record BetweenNode(int Position, RuleNode Subject, RuleNode Low, RuleNode High, bool Negated) : RuleNode(Position);

internal sealed record IsNullNode(int Position, RuleNode Subject, bool Negated) : RuleNode(Position);

internal sealed record LikeNode(int Position, RuleNode Subject, RuleNode Pattern, bool Negated, bool IgnoreCase) : RuleNode(Position);

internal sealed record CaseNode(int Position, RuleNode? Subject, IReadOnlyList<(RuleNode When, RuleNode Then)> Branches, RuleNode? Else) : RuleNode(Position);

internal sealed record CallNode(int Position, string Name, IReadOnlyList<RuleNode> Arguments) : RuleNode(Position);
