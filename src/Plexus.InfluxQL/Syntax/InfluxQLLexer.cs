using System.Globalization;
using System.Text;

namespace Plexus.InfluxQL.Syntax;

public enum TokenKind
{
    End,
    Identifier,
    String,
    Integer,
    Number,
    Duration,
    Regex,
    BoundParameter,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Ampersand,
    Pipe,
    Caret,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    EqualRegex,
    NotEqualRegex,
    LeftParen,
    RightParen,
    Comma,
    Semicolon,
    Dot,
    DoubleColon,
}

/// <summary>
/// One token: its kind, where it starts in the query text, and its value (an identifier's or a string's unescaped text,
/// a number's text, a duration in nanoseconds). <see cref="Quoted"/> tells a double-quoted identifier, which is never a
/// keyword.
/// </summary>
public readonly record struct Token(TokenKind Kind, int Position, string Text, bool Quoted = false, long Nanoseconds = 0)
{
    public bool IsKeyword(string keyword) =>
        Kind == TokenKind.Identifier && !Quoted && string.Equals(Text, keyword, StringComparison.OrdinalIgnoreCase);

    /// <summary>How an error message shows the token ("found …").</summary>
    public string Describe() => Kind switch
    {
        TokenKind.End => "EOF",
        TokenKind.String => "'" + Text + "'",
        TokenKind.Identifier when Quoted => "\"" + Text + "\"",
        TokenKind.Regex => "/" + Text + "/",
        _ => Text,
    };
}

/// <summary>
/// InfluxQL's lexer, pulled by the parser one token at a time. A <c>/</c> is division or the start of a regex
/// depending on where it stands, which only the parser knows: it asks for <see cref="ScanRegex"/> where a regex may
/// come (after <c>=~</c>, in FROM, WITH KEY, GROUP BY). Durations are numbers followed by a unit
/// (<c>10s</c>, <c>1h30m</c>, <c>1700000000000ms</c>).
/// </summary>
public sealed class InfluxQLLexer(string text)
{
    private int _position;

    public string Text => text;

    public Token Next()
    {
        SkipSpaceAndComments();
        int start = _position;
        if (_position >= text.Length)
        {
            return new Token(TokenKind.End, start, "");
        }

        char c = text[_position];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            return Word(start);
        }

        if (char.IsAsciiDigit(c) || (c == '.' && _position + 1 < text.Length && char.IsAsciiDigit(text[_position + 1])))
        {
            return NumberOrDuration(start);
        }

        _position++;
        switch (c)
        {
            case '"':
                return new Token(TokenKind.Identifier, start, Quoted(start, '"'), Quoted: true);
            case '\'':
                return new Token(TokenKind.String, start, Quoted(start, '\''));
            case '$':
                return BoundParameter(start);
            case '+':
                return Simple(TokenKind.Plus, start);
            case '-':
                return Simple(TokenKind.Minus, start);
            case '*':
                return Simple(TokenKind.Star, start);
            case '/':
                return Simple(TokenKind.Slash, start);
            case '%':
                return Simple(TokenKind.Percent, start);
            case '&':
                return Simple(TokenKind.Ampersand, start);
            case '|':
                return Simple(TokenKind.Pipe, start);
            case '^':
                return Simple(TokenKind.Caret, start);
            case '(':
                return Simple(TokenKind.LeftParen, start);
            case ')':
                return Simple(TokenKind.RightParen, start);
            case ',':
                return Simple(TokenKind.Comma, start);
            case ';':
                return Simple(TokenKind.Semicolon, start);
            case '.':
                return Simple(TokenKind.Dot, start);
            case ':' when Take(':'):
                return Simple(TokenKind.DoubleColon, start);
            case '=':
                return Take('~') ? Simple(TokenKind.EqualRegex, start) : Simple(TokenKind.Equal, start);
            case '!' when Take('='):
                return Simple(TokenKind.NotEqual, start);
            case '!' when Take('~'):
                return Simple(TokenKind.NotEqualRegex, start);
            case '<':
                return Take('=') ? Simple(TokenKind.LessOrEqual, start)
                    : Take('>') ? Simple(TokenKind.NotEqual, start)
                    : Simple(TokenKind.Less, start);
            case '>':
                return Take('=') ? Simple(TokenKind.GreaterOrEqual, start) : Simple(TokenKind.Greater, start);
            default:
                throw new InfluxQLSyntaxException(text, start, $"found {Printable(c)}, expected a name, a value or an operator");
        }
    }

    /// <summary>Scans <c>/…/</c> from <paramref name="start"/>, a <c>/</c> the caller read as a division. In the pattern <c>\/</c> stands for <c>/</c>; every other escape is the regex's own.</summary>
    public Token ScanRegex(int start)
    {
        _position = start + 1;
        var pattern = new StringBuilder();
        while (true)
        {
            if (_position >= text.Length || text[_position] == '\n')
            {
                throw new InfluxQLSyntaxException(text, start, "found an unterminated regex, expected a closing /");
            }

            char c = text[_position++];
            if (c == '/')
            {
                return new Token(TokenKind.Regex, start, pattern.ToString());
            }

            if (c == '\\' && _position < text.Length && text[_position] == '/')
            {
                pattern.Append('/');
                _position++;
                continue;
            }

            pattern.Append(c);
            if (c == '\\' && _position < text.Length)
            {
                pattern.Append(text[_position++]);
            }
        }
    }

    private Token Simple(TokenKind kind, int start) => new(kind, start, text[start.._position]);

    private bool Take(char expected)
    {
        if (_position < text.Length && text[_position] == expected)
        {
            _position++;
            return true;
        }

        return false;
    }

    private void SkipSpaceAndComments()
    {
        while (_position < text.Length)
        {
            char c = text[_position];
            if (char.IsWhiteSpace(c))
            {
                _position++;
            }
            else if (c == '-' && _position + 1 < text.Length && text[_position + 1] == '-')
            {
                int end = text.IndexOf('\n', _position);
                _position = end < 0 ? text.Length : end + 1;
            }
            else if (c == '/' && _position + 1 < text.Length && text[_position + 1] == '*')
            {
                int end = text.IndexOf("*/", _position + 2, StringComparison.Ordinal);
                if (end < 0)
                {
                    throw new InfluxQLSyntaxException(text, _position, "found an unterminated comment, expected */");
                }

                _position = end + 2;
            }
            else
            {
                return;
            }
        }
    }

    private Token Word(int start)
    {
        while (_position < text.Length && (char.IsAsciiLetterOrDigit(text[_position]) || text[_position] == '_'))
        {
            _position++;
        }

        return new Token(TokenKind.Identifier, start, text[start.._position]);
    }

    private Token BoundParameter(int start)
    {
        while (_position < text.Length && (char.IsAsciiLetterOrDigit(text[_position]) || text[_position] == '_'))
        {
            _position++;
        }

        return new Token(TokenKind.BoundParameter, start, text[start.._position]);
    }

    private Token NumberOrDuration(int start)
    {
        ScanDigits();
        bool fraction = false;
        if (_position < text.Length && text[_position] == '.' && _position + 1 < text.Length && char.IsAsciiDigit(text[_position + 1]))
        {
            fraction = true;
            _position++;
            ScanDigits();
        }

        if (!fraction && UnitLength(_position) > 0)
        {
            return Duration(start);
        }

        // 1e9 and 2.5E-3 read as numbers, as Go's ParseFloat reads them.
        if (_position < text.Length && text[_position] is 'e' or 'E')
        {
            int exponent = _position + 1;
            if (exponent < text.Length && text[exponent] is '+' or '-')
            {
                exponent++;
            }

            if (exponent < text.Length && char.IsAsciiDigit(text[exponent]))
            {
                fraction = true;
                _position = exponent;
                ScanDigits();
            }
        }

        string number = text[start.._position];
        if (_position < text.Length && (char.IsAsciiLetter(text[_position]) || text[_position] == '_'))
        {
            throw new InfluxQLSyntaxException(text, start, $"found {number}{text[_position]}, expected a number or a duration (units ns, u, µ, ms, s, m, h, d, w)");
        }

        return new Token(fraction ? TokenKind.Number : TokenKind.Integer, start, number);
    }

    private Token Duration(int start)
    {
        long total = 0;
        int segment = start;
        while (true)
        {
            int digitsEnd = _position;
            int unit = UnitLength(digitsEnd);
            string digits = text[segment..digitsEnd];
            long unitNs = UnitNanoseconds(text.AsSpan(digitsEnd, unit));
            if (!long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long count))
            {
                throw new InfluxQLSyntaxException(text, start, $"found the duration {text[start..(digitsEnd + unit)]}, expected one that fits in 64 bits of nanoseconds");
            }

            try
            {
                total = checked(total + checked(count * unitNs));
            }
            catch (OverflowException)
            {
                throw new InfluxQLSyntaxException(text, start, $"found the duration {text[start..(digitsEnd + unit)]}, expected one that fits in 64 bits of nanoseconds");
            }

            _position = digitsEnd + unit;
            if (_position < text.Length && char.IsAsciiDigit(text[_position]))
            {
                segment = _position;
                ScanDigits();
                if (UnitLength(_position) > 0)
                {
                    continue;
                }

                throw new InfluxQLSyntaxException(text, segment, $"found {text[start.._position]}, expected a unit after {text[segment.._position]} (ns, u, µ, ms, s, m, h, d, w)");
            }

            if (_position < text.Length && (char.IsAsciiLetter(text[_position]) || text[_position] == '_'))
            {
                throw new InfluxQLSyntaxException(text, start, $"found {text[start..(_position + 1)]}, expected a duration unit: ns, u, µ, ms, s, m, h, d, w");
            }

            return new Token(TokenKind.Duration, start, text[start.._position], Nanoseconds: total);
        }
    }

    private void ScanDigits()
    {
        while (_position < text.Length && char.IsAsciiDigit(text[_position]))
        {
            _position++;
        }
    }

    // The length of the duration unit at i (0 when none): the longest of ns, ms, u, µ, s, m, h, d, w.
    private int UnitLength(int i)
    {
        if (i >= text.Length)
        {
            return 0;
        }

        char c = text[i];
        char next = i + 1 < text.Length ? text[i + 1] : '\0';
        if ((c == 'n' || c == 'm') && next == 's')
        {
            return 2;
        }

        return c is 'u' or 'µ' or 's' or 'm' or 'h' or 'd' or 'w' ? 1 : 0;
    }

    private static long UnitNanoseconds(ReadOnlySpan<char> unit) => unit switch
    {
        "ns" => 1,
        "u" or "µ" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => 604_800_000_000_000,
    };

    private string Quoted(int start, char quote)
    {
        var value = new StringBuilder();
        while (true)
        {
            if (_position >= text.Length || text[_position] == '\n')
            {
                throw new InfluxQLSyntaxException(text, start, quote == '\'' ? "found an unterminated string, expected a closing '" : "found an unterminated quoted name, expected a closing \"");
            }

            char c = text[_position++];
            if (c == quote)
            {
                return value.ToString();
            }

            if (c != '\\')
            {
                value.Append(c);
                continue;
            }

            char escaped = _position < text.Length ? text[_position++] : '\0';
            switch (escaped)
            {
                case 'n':
                    value.Append('\n');
                    break;
                case '\\' or '\'' or '"':
                    value.Append(escaped);
                    break;
                default:
                    throw new InfluxQLSyntaxException(text, _position - 2, $"found the escape \\{Printable(escaped)}, expected one of \\\\, \\', \\\" or \\n");
            }
        }
    }

    private static string Printable(char c) => char.IsControl(c) ? $"U+{(int)c:X4}" : c.ToString();
}
