using System.Globalization;
using System.Text;

namespace Plexus.Rules.Expressions;

internal enum RuleTokenKind
{
    End,
    Identifier,
    String,
    Number,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Concat,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    LeftParen,
    RightParen,
    Comma,
    Dot,
}

/// <summary>
/// One token: kind, start in the text, and its value (an identifier's or a string's unescaped text, a number's value).
/// A double-quoted identifier is never a keyword.
/// </summary>
internal readonly record struct RuleToken(RuleTokenKind Kind, int Position, string Text, double Number = 0, bool Quoted = false)
{
    public bool IsKeyword(string keyword) =>
        Kind == RuleTokenKind.Identifier && !Quoted && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);

    public string Describe() => Kind switch
    {
        RuleTokenKind.End => "the end of the expression",
        RuleTokenKind.String => "'" + Text + "'",
        RuleTokenKind.Identifier when Quoted => "\"" + Text + "\"",
        _ => "'" + Text + "'",
    };
}

/// <summary>
/// The lexer of rule expressions: SQL's tokens (single-quoted strings with '' for a quote, double-quoted identifiers,
/// numbers with an optional exponent, <c>--</c> comments to the end of the line).
/// </summary>
internal sealed class RuleLexer(string text)
{
    private int _position;

    public RuleToken Next()
    {
        SkipSpaceAndComments();
        int start = _position;
        if (_position >= text.Length)
        {
            return new RuleToken(RuleTokenKind.End, start, string.Empty);
        }

        char c = text[_position];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            while (_position < text.Length && (char.IsAsciiLetterOrDigit(text[_position]) || text[_position] == '_'))
            {
                _position++;
            }

            return new RuleToken(RuleTokenKind.Identifier, start, text[start.._position]);
        }

        if (char.IsAsciiDigit(c) || (c == '.' && _position + 1 < text.Length && char.IsAsciiDigit(text[_position + 1])))
        {
            return ScanNumber(start);
        }

        _position++;
        switch (c)
        {
            case '\'':
                return new RuleToken(RuleTokenKind.String, start, ScanQuoted('\'', start, "string"));
            case '"':
                return new RuleToken(RuleTokenKind.Identifier, start, ScanQuoted('"', start, "quoted name"), Quoted: true);
            case '+': return Token(RuleTokenKind.Plus, start);
            case '-': return Token(RuleTokenKind.Minus, start);
            case '*': return Token(RuleTokenKind.Star, start);
            case '/': return Token(RuleTokenKind.Slash, start);
            case '%': return Token(RuleTokenKind.Percent, start);
            case '(': return Token(RuleTokenKind.LeftParen, start);
            case ')': return Token(RuleTokenKind.RightParen, start);
            case ',': return Token(RuleTokenKind.Comma, start);
            case '.': return Token(RuleTokenKind.Dot, start);
            case '=':
                Accept('=');
                return Token(RuleTokenKind.Equal, start);
            case '|' when Accept('|'):
                return Token(RuleTokenKind.Concat, start);
            case '!' when Accept('='):
                return Token(RuleTokenKind.NotEqual, start);
            case '<':
                return Accept('=') ? Token(RuleTokenKind.LessOrEqual, start)
                    : Accept('>') ? Token(RuleTokenKind.NotEqual, start)
                    : Token(RuleTokenKind.Less, start);
            case '>':
                return Accept('=') ? Token(RuleTokenKind.GreaterOrEqual, start) : Token(RuleTokenKind.Greater, start);
            default:
                throw new RuleSyntaxException(start, $"unexpected character '{c}'");
        }
    }

    private RuleToken Token(RuleTokenKind kind, int start) => new(kind, start, text[start.._position]);

    private bool Accept(char c)
    {
        if (_position < text.Length && text[_position] == c)
        {
            _position++;
            return true;
        }

        return false;
    }

    private RuleToken ScanNumber(int start)
    {
        while (_position < text.Length && (char.IsAsciiDigit(text[_position]) || text[_position] == '.'))
        {
            _position++;
        }

        if (_position < text.Length && text[_position] is 'e' or 'E')
        {
            int mark = _position++;
            if (_position < text.Length && text[_position] is '+' or '-')
            {
                _position++;
            }

            if (_position >= text.Length || !char.IsAsciiDigit(text[_position]))
            {
                _position = mark;
            }

            while (_position < text.Length && char.IsAsciiDigit(text[_position]))
            {
                _position++;
            }
        }

        string number = text[start.._position];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double value))
        {
            throw new RuleSyntaxException(start, $"'{number}' is not a number");
        }

        if (_position < text.Length && (char.IsAsciiLetter(text[_position]) || text[_position] == '_'))
        {
            throw new RuleSyntaxException(_position, $"'{number}' is followed by '{text[_position]}'; put a space or an operator between a number and a name");
        }

        return new RuleToken(RuleTokenKind.Number, start, number, value);
    }

    private string ScanQuoted(char quote, int start, string what)
    {
        var value = new StringBuilder();
        while (_position < text.Length)
        {
            char c = text[_position++];
            if (c != quote)
            {
                value.Append(c);
                continue;
            }

            if (_position < text.Length && text[_position] == quote)
            {
                value.Append(quote);
                _position++;
                continue;
            }

            return value.ToString();
        }

        throw new RuleSyntaxException(start, $"this {what} is not closed: add the closing {quote}");
    }

    private void SkipSpaceAndComments()
    {
        while (_position < text.Length)
        {
            if (char.IsWhiteSpace(text[_position]))
            {
                _position++;
            }
            else if (text[_position] == '-' && _position + 1 < text.Length && text[_position + 1] == '-')
            {
                while (_position < text.Length && text[_position] != '\n')
                {
                    _position++;
                }
            }
            else
            {
                return;
            }
        }
    }
}
