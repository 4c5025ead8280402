using Plexus.InfluxQL.Syntax;

namespace Plexus.InfluxQL.Tests.Syntax;

public sealed class InfluxQLLexerTests
{
    private static List<Token> Tokens(string text)
    {
        var lexer = new InfluxQLLexer(text);
        var tokens = new List<Token>();
        for (var token = lexer.Next(); token.Kind != TokenKind.End; token = lexer.Next())
        {
            tokens.Add(token);
        }

        return tokens;
    }

    [Theory]
    [InlineData("10s", 10_000_000_000L)]
    [InlineData("1h30m", 5_400_000_000_000L)]
    [InlineData("1700000000000ms", 1_700_000_000_000_000_000L)]
    [InlineData("5u", 5_000L)]
    [InlineData("5µ", 5_000L)]
    [InlineData("250ns", 250L)]
    [InlineData("2w", 1_209_600_000_000_000L)]
    [InlineData("1d", 86_400_000_000_000L)]
    public void Duration_literal_is_read_in_nanoseconds(string text, long nanoseconds)
    {
        var token = Assert.Single(Tokens(text));
        Assert.Equal(TokenKind.Duration, token.Kind);
        Assert.Equal(nanoseconds, token.Nanoseconds);
    }

    [Fact]
    public void Duration_with_an_unknown_unit_is_refused_with_its_position()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => Tokens("time > 10x"));
        Assert.Contains("10x", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("at line 1, char 8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duration_beyond_64_bits_of_nanoseconds_is_refused()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => Tokens("99999999999999w"));
        Assert.Contains("64 bits", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Numbers_are_integers_or_floats()
    {
        var tokens = Tokens("42 4.5 .5 1e3");
        Assert.Equal([TokenKind.Integer, TokenKind.Number, TokenKind.Number, TokenKind.Number], tokens.Select(t => t.Kind));
    }

    [Fact]
    public void String_escapes_are_unescaped()
    {
        var token = Assert.Single(Tokens("'o\\'brien \\\\ \\\" \\n'"));
        Assert.Equal("o'brien \\ \" \n", token.Text);
    }

    [Fact]
    public void Bad_escape_in_a_string_is_refused_at_the_backslash()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => Tokens(@"host = 'a\x'"));
        Assert.EndsWith("at line 1, char 10", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unterminated_string_is_refused_at_its_quote()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => Tokens("host = 'abc"));
        Assert.Contains("unterminated string", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("at line 1, char 8", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quoted_identifier_keeps_keywords_and_escaped_quotes()
    {
        var token = Assert.Single(Tokens("\"SELECT \\\"x\\\"\""));
        Assert.Equal(TokenKind.Identifier, token.Kind);
        Assert.True(token.Quoted);
        Assert.Equal("SELECT \"x\"", token.Text);
        Assert.False(token.IsKeyword("SELECT"));
    }

    [Fact]
    public void Regex_is_scanned_where_the_parser_asks_and_unescapes_only_slashes()
    {
        var lexer = new InfluxQLLexer(@"/^a\/b\d+$/ x");
        var slash = lexer.Next();
        Assert.Equal(TokenKind.Slash, slash.Kind);
        var regex = lexer.ScanRegex(slash.Position);
        Assert.Equal(@"^a/b\d+$", regex.Text);
        Assert.Equal("x", lexer.Next().Text);
    }

    [Fact]
    public void Comments_are_skipped()
    {
        var tokens = Tokens("SELECT -- a comment\n /* another */ x");
        Assert.Equal(["SELECT", "x"], tokens.Select(t => t.Text));
    }

    [Fact]
    public void Operators_are_read_longest_first()
    {
        var tokens = Tokens("=~ !~ != <> <= >= :: = < >");
        Assert.Equal(
            [TokenKind.EqualRegex, TokenKind.NotEqualRegex, TokenKind.NotEqual, TokenKind.NotEqual, TokenKind.LessOrEqual, TokenKind.GreaterOrEqual, TokenKind.DoubleColon, TokenKind.Equal, TokenKind.Less, TokenKind.Greater],
            tokens.Select(t => t.Kind));
    }
}
