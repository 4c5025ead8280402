namespace Plexus.Rules.Expressions;

/// <summary>
/// A recursive-descent parser for the SQL expression subset of rules, one method per precedence level, loosest first
/// (DuckDB's order): <c>OR</c>, <c>AND</c>, <c>NOT</c>, comparisons with <c>IS</c>, <c>IN</c>, <c>BETWEEN</c> and
/// <c>LIKE</c>, <c>||</c>, <c>+ -</c>, <c>* / %</c>, unary minus, then literals, names, calls, <c>CASE</c> and
/// parentheses.
/// </summary>
internal sealed class RuleParser
{
    /// <summary>Deeper nesting than this is refused rather than risking the stack on hostile input.</summary>
    public const int MaxDepth = 64;

    private readonly RuleLexer _lexer;
    private RuleToken _current;
    private int _depth;

    private RuleParser(string text)
    {
        _lexer = new RuleLexer(text);
        _current = _lexer.Next();
    }

    public static RuleNode Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new RuleParser(text);
        if (parser._current.Kind == RuleTokenKind.End)
        {
            throw new RuleSyntaxException(0, "the expression is empty");
        }

        var node = parser.ParseOr();
        if (parser._current.Kind != RuleTokenKind.End)
        {
            throw new RuleSyntaxException(parser._current.Position, $"unexpected {parser._current.Describe()}; an operator (AND, OR, =, +...) or the end was expected");
        }

        return node;
    }

    private RuleToken Advance()
    {
        var token = _current;
        _current = _lexer.Next();
        return token;
    }

    private bool AcceptKeyword(string keyword)
    {
        if (_current.IsKeyword(keyword))
        {
            Advance();
            return true;
        }

        return false;
    }

    private void ExpectKeyword(string keyword, string context)
    {
        if (!AcceptKeyword(keyword))
        {
            throw new RuleSyntaxException(_current.Position, $"expected {keyword} {context}, found {_current.Describe()}");
        }
    }

    private void Expect(RuleTokenKind kind, string what)
    {
        if (_current.Kind != kind)
        {
            throw new RuleSyntaxException(_current.Position, $"expected {what}, found {_current.Describe()}");
        }

        Advance();
    }

    private RuleNode ParseOr()
    {
        EnterNesting();
        var left = ParseAnd();
        while (_current.IsKeyword("OR"))
        {
            int position = Advance().Position;
            left = new BinaryNode(position, BinaryOperator.Or, left, ParseAnd());
        }

        _depth--;
        return left;
    }

    private RuleNode ParseAnd()
    {
        var left = ParseNot();
        while (_current.IsKeyword("AND"))
        {
            int position = Advance().Position;
            left = new BinaryNode(position, BinaryOperator.And, left, ParseNot());
        }

        return left;
    }

    private RuleNode ParseNot()
    {
        if (_current.IsKeyword("NOT"))
        {
            int position = Advance().Position;
            EnterNesting();
            var operand = ParseNot();
            _depth--;
            return new UnaryNode(position, UnaryOperator.Not, operand);
        }

        return ParseComparison();
    }

    private RuleNode ParseComparison()
    {
        var left = ParseConcat();
        while (true)
        {
            int position = _current.Position;
            BinaryOperator? comparison = _current.Kind switch
            {
                RuleTokenKind.Equal => BinaryOperator.Equal,
                RuleTokenKind.NotEqual => BinaryOperator.NotEqual,
                RuleTokenKind.Less => BinaryOperator.Less,
                RuleTokenKind.LessOrEqual => BinaryOperator.LessOrEqual,
                RuleTokenKind.Greater => BinaryOperator.Greater,
                RuleTokenKind.GreaterOrEqual => BinaryOperator.GreaterOrEqual,
                _ => null,
            };
            if (comparison is { } op)
            {
                Advance();
                left = new BinaryNode(position, op, left, ParseConcat());
                continue;
            }

            if (AcceptKeyword("IS"))
            {
                bool negated = AcceptKeyword("NOT");
                ExpectKeyword("NULL", "after IS (IS NULL, IS NOT NULL)");
                left = new IsNullNode(position, left, negated);
                continue;
            }

            bool not = false;
            if (_current.IsKeyword("NOT"))
            {
                // NOT here belongs to IN, BETWEEN or LIKE; a NOT before anything else is a syntax error below.
                not = true;
                Advance();
            }

            if (AcceptKeyword("IN"))
            {
                left = new InNode(position, left, ParseList(), not);
            }
            else if (AcceptKeyword("BETWEEN"))
            {
                var low = ParseConcat();
                ExpectKeyword("AND", "between the bounds of BETWEEN");
                left = new BetweenNode(position, left, low, ParseConcat(), not);
            }
            else if (_current.IsKeyword("LIKE") || _current.IsKeyword("ILIKE"))
            {
                bool ignoreCase = Advance().IsKeyword("ILIKE");
                left = new LikeNode(position, left, ParseConcat(), not, ignoreCase);
            }
            else if (not)
            {
                throw new RuleSyntaxException(_current.Position, $"expected IN, BETWEEN or LIKE after NOT, found {_current.Describe()}");
            }
            else
            {
                return left;
            }
        }
    }

    private List<RuleNode> ParseList()
    {
        Expect(RuleTokenKind.LeftParen, "'(' to open the list of IN");
        var values = new List<RuleNode> { ParseOr() };
        while (_current.Kind == RuleTokenKind.Comma)
        {
            Advance();
            values.Add(ParseOr());
        }

        Expect(RuleTokenKind.RightParen, "',' or ')' in the list of IN");
        return values;
    }

    private RuleNode ParseConcat()
    {
        var left = ParseAdditive();
        while (_current.Kind == RuleTokenKind.Concat)
        {
            int position = Advance().Position;
            left = new BinaryNode(position, BinaryOperator.Concat, left, ParseAdditive());
        }

        return left;
    }

    private RuleNode ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (_current.Kind is RuleTokenKind.Plus or RuleTokenKind.Minus)
        {
            var token = Advance();
            var op = token.Kind == RuleTokenKind.Plus ? BinaryOperator.Add : BinaryOperator.Subtract;
            left = new BinaryNode(token.Position, op, left, ParseMultiplicative());
        }

        return left;
    }

    private RuleNode ParseMultiplicative()
    {
        var left = ParseUnary();
        while (_current.Kind is RuleTokenKind.Star or RuleTokenKind.Slash or RuleTokenKind.Percent)
        {
            var token = Advance();
            var op = token.Kind switch
            {
                RuleTokenKind.Star => BinaryOperator.Multiply,
                RuleTokenKind.Slash => BinaryOperator.Divide,
                _ => BinaryOperator.Modulo,
            };
            left = new BinaryNode(token.Position, op, left, ParseUnary());
        }

        return left;
    }

    private RuleNode ParseUnary()
    {
        if (_current.Kind is RuleTokenKind.Minus or RuleTokenKind.Plus)
        {
            var token = Advance();
            EnterNesting();
            var operand = ParseUnary();
            _depth--;
            return token.Kind == RuleTokenKind.Plus ? operand : new UnaryNode(token.Position, UnaryOperator.Negate, operand);
        }

        return ParsePrimary();
    }

    private RuleNode ParsePrimary()
    {
        var token = _current;
        switch (token.Kind)
        {
            case RuleTokenKind.Number:
                Advance();
                return new LiteralNode(token.Position, LiteralKind.Number, token.Number);
            case RuleTokenKind.String:
                Advance();
                return new LiteralNode(token.Position, LiteralKind.Text, Text: token.Text);
            case RuleTokenKind.LeftParen:
                {
                    Advance();
                    var inner = ParseOr();
                    Expect(RuleTokenKind.RightParen, "')' to close the '(' at char " + (token.Position + 1));
                    return inner;
                }

            case RuleTokenKind.Identifier:
                return ParseNameOrCall();
            default:
                throw new RuleSyntaxException(token.Position, $"expected a value (a number, 'text', a name or a function), found {token.Describe()}");
        }
    }

    private RuleNode ParseNameOrCall()
    {
        var token = Advance();
        if (!token.Quoted)
        {
            if (token.IsKeyword("NULL"))
            {
                return new LiteralNode(token.Position, LiteralKind.Null);
            }

            if (token.IsKeyword("TRUE") || token.IsKeyword("FALSE"))
            {
                return new LiteralNode(token.Position, LiteralKind.Boolean, token.IsKeyword("TRUE") ? 1 : 0);
            }

            if (token.IsKeyword("CASE"))
            {
                return ParseCase(token.Position);
            }

            if (IsReserved(token.Text))
            {
                throw new RuleSyntaxException(token.Position, $"expected a value, found the keyword {token.Text.ToUpperInvariant()}; quote a name that is a keyword: \"{token.Text}\"");
            }

            if (_current.Kind == RuleTokenKind.LeftParen)
            {
                return ParseCall(token);
            }
        }

        var parts = new List<string> { token.Text };
        while (_current.Kind == RuleTokenKind.Dot)
        {
            Advance();
            if (_current.Kind != RuleTokenKind.Identifier)
            {
                throw new RuleSyntaxException(_current.Position, $"expected a name after '.', found {_current.Describe()}");
            }

            parts.Add(Advance().Text);
        }

        return new NameNode(token.Position, parts);
    }

    private CallNode ParseCall(RuleToken name)
    {
        Advance();
        var arguments = new List<RuleNode>();
        if (_current.Kind == RuleTokenKind.Star)
        {
            // count(*): the same as count().
            Advance();
        }
        else if (_current.Kind != RuleTokenKind.RightParen)
        {
            arguments.Add(ParseOr());
            while (_current.Kind == RuleTokenKind.Comma)
            {
                Advance();
                arguments.Add(ParseOr());
            }
        }

        Expect(RuleTokenKind.RightParen, $"',' or ')' in the arguments of {name.Text}");
        return new CallNode(name.Position, name.Text.ToLowerInvariant(), arguments);
    }

    private CaseNode ParseCase(int position)
    {
        RuleNode? subject = _current.IsKeyword("WHEN") ? null : ParseOr();
        var branches = new List<(RuleNode, RuleNode)>();
        while (AcceptKeyword("WHEN"))
        {
            var when = ParseOr();
            ExpectKeyword("THEN", "after the condition of WHEN");
            branches.Add((when, ParseOr()));
        }

        if (branches.Count == 0)
        {
            throw new RuleSyntaxException(_current.Position, $"expected WHEN in CASE, found {_current.Describe()}");
        }

        RuleNode? otherwise = AcceptKeyword("ELSE") ? ParseOr() : null;
        ExpectKeyword("END", "to close the CASE at char " + (position + 1));
        return new CaseNode(position, subject, branches, otherwise);
    }

    private void EnterNesting()
    {
        if (++_depth > MaxDepth)
        {
            throw new RuleSyntaxException(_current.Position, $"the expression nests deeper than {MaxDepth} levels; split it or simplify it");
        }
    }

    private static bool IsReserved(string word) => word.ToUpperInvariant() is "AND" or "OR" or "NOT" or "IN" or "IS" or "BETWEEN" or "LIKE" or "ILIKE" or "WHEN" or "THEN" or "ELSE" or "END";
}
