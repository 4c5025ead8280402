// One file on purpose (about 1,000 lines): one hand-written recursive-descent parser. Its methods follow InfluxQL's
// grammar from statements down to clauses, expressions and tokens, so it reads top to bottom like the grammar.
using System.Globalization;

namespace Plexus.InfluxQL.Syntax;

/// <summary>
/// A hand-written recursive-descent parser for the InfluxQL Plexus answers (docs/influxql.md). It reads a whole
/// query (statements separated by <c>;</c>) before anything runs, as InfluxDB does, so a syntax error anywhere
/// answers the request with the error and runs nothing. Statements InfluxQL has but Plexus does not (users, grants,
/// continuous queries, <c>SELECT … INTO</c>) are read up to their end and become <see cref="UnsupportedStatement"/>,
/// answered with an error of their own while the others run.
/// </summary>
/// <remarks>
/// Grammar, by precedence from loosest: <c>OR</c>; <c>AND</c>; comparisons (<c>= != &lt;&gt; &lt; &lt;= &gt; &gt;=
/// =~ !~</c>); <c>+ - | ^</c>; <c>* / % &amp;</c>; then a primary (parentheses, a call, a name with an optional
/// <c>::tag</c>/<c>::field</c>, a literal, a regex, <c>*</c>, a unary minus). Keywords are case-insensitive and only
/// keywords when not double-quoted.
/// </remarks>
public sealed class InfluxQLParser
{
    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        "ALL", "ALTER", "ANALYZE", "ANY", "AS", "ASC", "BEGIN", "BY", "CARDINALITY", "CREATE", "CONTINUOUS", "DATABASE",
        "DATABASES", "DEFAULT", "DELETE", "DESC", "DESTINATIONS", "DIAGNOSTICS", "DISTINCT", "DROP", "DURATION", "END",
        "EVERY", "EXACT", "EXPLAIN", "FIELD", "FOR", "FROM", "GRANT", "GRANTS", "GROUP", "GROUPS", "IN", "INF", "INSERT",
        "INTO", "KEY", "KEYS", "KILL", "LIMIT", "MEASUREMENT", "MEASUREMENTS", "NAME", "OFFSET", "ON", "ORDER",
        "PASSWORD", "POLICY", "POLICIES", "PRIVILEGES", "QUERIES", "QUERY", "READ", "REPLICATION", "RESAMPLE",
        "RETENTION", "REVOKE", "SELECT", "SERIES", "SET", "SHARD", "SHARDS", "SLIMIT", "SOFFSET", "STATS",
        "SUBSCRIPTION", "SUBSCRIPTIONS", "TAG", "TO", "USER", "USERS", "VALUES", "WHERE", "WITH", "WRITE",
        "AND", "OR", "TRUE", "FALSE",
    };

    private readonly InfluxQLLexer _lexer;
    private readonly string _text;
    private Token _token;

    private InfluxQLParser(string text)
    {
        _text = text;
        _lexer = new InfluxQLLexer(text);
        _token = _lexer.Next();
    }

    /// <summary>Parses every statement of <paramref name="text"/>.</summary>
    /// <exception cref="InfluxQLSyntaxException">The text is not InfluxQL; nothing of it should run.</exception>
    public static IReadOnlyList<Statement> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new InfluxQLParser(text);
        var statements = new List<Statement>();
        while (true)
        {
            while (parser._token.Kind == TokenKind.Semicolon)
            {
                parser.Advance();
            }

            if (parser._token.Kind == TokenKind.End)
            {
                break;
            }

            int start = parser._token.Position;
            Statement statement;
            try
            {
                statement = parser.ParseStatement();
            }
            catch (UnsupportedStatementException unsupported)
            {
                statement = parser.SkipStatement(new UnsupportedStatement(unsupported.What, unsupported.Reason));
            }

            int end = parser._token.Position;
            if (parser._token.Kind is not (TokenKind.Semicolon or TokenKind.End))
            {
                throw parser.Expected("; or the end of the query");
            }

            statements.Add(statement with { Text = text[start..end].Trim() });
        }

        if (statements.Count == 0)
        {
            throw new InfluxQLSyntaxException(text, text.Length, "found EOF, expected a statement (SELECT, SHOW, CREATE DATABASE)");
        }

        return statements;
    }

    /// <summary>Parses one expression, as a test or a caller that holds a condition alone needs.</summary>
    public static Expr ParseExpression(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new InfluxQLParser(text);
        var expr = parser.Expression();
        if (parser._token.Kind != TokenKind.End)
        {
            throw parser.Expected("the end of the expression");
        }

        return expr;
    }

    private Statement ParseStatement()
    {
        var first = _token;
        if (first.IsKeyword("SELECT"))
        {
            return Select();
        }

        if (first.IsKeyword("SHOW"))
        {
            return Show();
        }

        if (first.IsKeyword("CREATE"))
        {
            return Create();
        }

        if (first.IsKeyword("DROP"))
        {
            return Drop();
        }

        if (first.IsKeyword("DELETE"))
        {
            return Delete();
        }

        foreach (string keyword in (string[])["ALTER", "GRANT", "REVOKE", "KILL", "SET", "EXPLAIN", "BEGIN", "INSERT"])
        {
            if (first.IsKeyword(keyword))
            {
                string what = keyword.ToUpperInvariant();
                string reason = keyword is "EXPLAIN" ? "Plexus does not explain InfluxQL; EXPLAIN the SQL it runs instead"
                    : keyword is "INSERT" ? "write line protocol to POST /write or /api/v2/write"
                    : "Plexus has no InfluxDB users, grants, retention policies or running-query list";
                return SkipStatement(new UnsupportedStatement(what, reason));
            }
        }

        throw Expected("SELECT, SHOW, CREATE, DROP or DELETE");
    }

    // ---- SELECT ------------------------------------------------------------------------------------------------

    private SelectStatement Select()
    {
        Advance();
        var fields = new List<Field> { ParseField() };
        while (TakeKind(TokenKind.Comma))
        {
            fields.Add(ParseField());
        }

        if (_token.IsKeyword("INTO"))
        {
            throw new UnsupportedStatementException("SELECT … INTO", "it writes into a measurement; Plexus's InfluxQL only reads");
        }

        ExpectKeyword("FROM");
        var sources = Sources();
        Expr? condition = null;
        if (TakeKeyword("WHERE"))
        {
            condition = Expression();
        }

        GroupByTime? interval = null;
        var dimensions = new List<Dimension>();
        if (TakeKeyword("GROUP"))
        {
            ExpectKeyword("BY");
            do
            {
                if (_token.Kind == TokenKind.Identifier && !_token.Quoted && _token.Text.Equals("time", StringComparison.OrdinalIgnoreCase) && PeekIsCall())
                {
                    if (interval is not null)
                    {
                        throw Error(_token, "found a second GROUP BY time(), expected one at most");
                    }

                    interval = TimeDimension();
                }
                else
                {
                    dimensions.Add(ParseDimension());
                }
            }
            while (TakeKind(TokenKind.Comma));
        }

        var fill = Fill.Default;
        if (_token.Kind == TokenKind.Identifier && !_token.Quoted && _token.Text.Equals("fill", StringComparison.OrdinalIgnoreCase))
        {
            fill = ParseFill();
        }

        bool descending = false;
        if (TakeKeyword("ORDER"))
        {
            ExpectKeyword("BY");
            descending = OrderBy();
        }

        long limit = 0, offset = 0, seriesLimit = 0, seriesOffset = 0;
        if (TakeKeyword("LIMIT"))
        {
            limit = NonNegativeInteger("LIMIT");
        }

        if (TakeKeyword("OFFSET"))
        {
            offset = NonNegativeInteger("OFFSET");
        }

        if (TakeKeyword("SLIMIT"))
        {
            seriesLimit = NonNegativeInteger("SLIMIT");
        }

        if (TakeKeyword("SOFFSET"))
        {
            seriesOffset = NonNegativeInteger("SOFFSET");
        }

        string? timeZone = null;
        if (_token.Kind == TokenKind.Identifier && !_token.Quoted && _token.Text.Equals("tz", StringComparison.OrdinalIgnoreCase))
        {
            Advance();
            ExpectKind(TokenKind.LeftParen, "(");
            timeZone = ExpectKind(TokenKind.String, "a time zone name in single quotes, like tz('Europe/Paris')").Text;
            ExpectKind(TokenKind.RightParen, ")");
        }

        return new SelectStatement(fields, sources, condition, interval, dimensions, fill, descending, limit, offset, seriesLimit, seriesOffset, timeZone);
    }

    private Field ParseField()
    {
        var expr = Expression();
        string? alias = null;
        if (TakeKeyword("AS"))
        {
            alias = Identifier("a column name after AS");
        }

        return new Field(expr, alias);
    }

    private List<MeasurementSource> Sources()
    {
        var sources = new List<MeasurementSource> { Source() };
        while (TakeKind(TokenKind.Comma))
        {
            sources.Add(Source());
        }

        return sources;
    }

    private MeasurementSource Source()
    {
        if (_token.Kind == TokenKind.Slash)
        {
            return new MeasurementSource(null, null, null, RegexToken().Text);
        }

        if (_token.Kind == TokenKind.LeftParen)
        {
            throw new UnsupportedStatementException("a subquery", "Plexus's InfluxQL has no subqueries; send the query as SQL to POST /api/v1/sql");
        }

        // "db"."rp"."m", "db".."m", "rp"."m", "m", and a regex in the last place.
        var parts = new List<string?>();
        string? regex = null;
        while (true)
        {
            if (_token.Kind == TokenKind.Dot)
            {
                parts.Add(null);
            }
            else if (_token.Kind == TokenKind.Slash && parts.Count > 0)
            {
                regex = RegexToken().Text;
                break;
            }
            else
            {
                parts.Add(Identifier("a measurement name or a /regex/"));
            }

            if (!TakeKind(TokenKind.Dot))
            {
                break;
            }

            if (parts.Count == 3)
            {
                throw Expected("a name of at most three parts: \"database\".\"retention policy\".\"measurement\"");
            }
        }

        if (regex is not null)
        {
            parts.Add(null);
        }

        string? name = regex is null ? parts[^1] : null;
        if (regex is null && name is null)
        {
            throw Expected("a measurement name");
        }

        return parts.Count switch
        {
            1 => new MeasurementSource(null, null, name, regex),
            2 => new MeasurementSource(null, parts[0], name, regex),
            _ => new MeasurementSource(parts[0], parts[1], name, regex),
        };
    }

    private GroupByTime TimeDimension()
    {
        var start = _token;
        Advance();
        ExpectKind(TokenKind.LeftParen, "(");
        long interval = SignedDuration("an interval like 10s or 1h in time()");
        if (interval <= 0)
        {
            throw Error(start, "found a GROUP BY time() interval that is not positive, expected a duration like 10s");
        }

        long offset = 0;
        if (TakeKind(TokenKind.Comma))
        {
            if (_token.Kind == TokenKind.Identifier && _token.Text.Equals("now", StringComparison.OrdinalIgnoreCase))
            {
                throw new UnsupportedStatementException("GROUP BY time(…, now())", "give the offset as a duration, like time(1h, 15m)");
            }

            offset = SignedDuration("an offset like 15m or -15m in time()");
        }

        ExpectKind(TokenKind.RightParen, ")");
        return new GroupByTime(interval, offset);
    }

    private long SignedDuration(string what)
    {
        bool negative = TakeKind(TokenKind.Minus);
        var token = ExpectKind(TokenKind.Duration, what);
        return negative ? -token.Nanoseconds : token.Nanoseconds;
    }

    private Dimension ParseDimension()
    {
        if (_token.Kind == TokenKind.Star)
        {
            Advance();
            return new WildcardDimension();
        }

        if (_token.Kind == TokenKind.Slash)
        {
            return new RegexDimension(RegexToken().Text);
        }

        var token = _token;
        string name = Identifier("a tag name, *, /regex/ or time(…) after GROUP BY");
        if (TypeSuffix() == NameKind.Field)
        {
            throw Error(token, $"found \"{name}\"::field in GROUP BY, expected a tag (only tags group series)");
        }

        return new TagDimension(name);
    }

    private Fill ParseFill()
    {
        Advance();
        ExpectKind(TokenKind.LeftParen, "(");
        Fill fill;
        bool negative = TakeKind(TokenKind.Minus);
        var token = _token;
        if (token.Kind == TokenKind.Integer && long.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out long integer))
        {
            Advance();
            fill = new Fill(FillKind.Number, negative ? -integer : integer, IsInteger: true, Explicit: true);
        }
        else if (token.Kind is TokenKind.Number or TokenKind.Integer)
        {
            Advance();
            double number = double.Parse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture);
            fill = new Fill(FillKind.Number, negative ? -number : number, Explicit: true);
        }
        else if (!negative && token.Kind == TokenKind.Identifier && !token.Quoted)
        {
            var kind = token.Text.ToLowerInvariant() switch
            {
                "null" => FillKind.Null,
                "none" => FillKind.None,
                "previous" => FillKind.Previous,
                "linear" => FillKind.Linear,
                _ => throw Error(token, $"found fill({token.Text}), expected fill(null), fill(none), fill(previous), fill(linear) or fill(<number>)"),
            };
            Advance();
            fill = new Fill(kind, Explicit: true);
        }
        else
        {
            throw Expected("null, none, previous, linear or a number in fill()");
        }

        ExpectKind(TokenKind.RightParen, ")");
        return fill;
    }

    private bool OrderBy()
    {
        bool descending = false;
        do
        {
            var token = _token;
            string name = Identifier("time after ORDER BY");
            if (!name.Equals("time", StringComparison.OrdinalIgnoreCase))
            {
                throw Error(token, $"found ORDER BY {name}, expected ORDER BY time [ASC|DESC] (InfluxQL orders by time only)");
            }

            if (TakeKeyword("DESC"))
            {
                descending = true;
            }
            else
            {
                TakeKeyword("ASC");
            }
        }
        while (TakeKind(TokenKind.Comma));
        return descending;
    }

    // ---- SHOW, CREATE, DROP ------------------------------------------------------------------------------------

    private Statement Show()
    {
        Advance();
        var token = _token;
        if (TakeKeyword("DATABASES"))
        {
            return new ShowDatabasesStatement();
        }

        if (TakeKeyword("MEASUREMENTS"))
        {
            string? db = OnDatabase();
            NameFilter? filter = null;
            if (TakeKeyword("WITH"))
            {
                ExpectKeyword("MEASUREMENT");
                filter = NameFilterClause("MEASUREMENT", allowIn: false);
            }

            var condition = TakeKeyword("WHERE") ? Expression() : null;
            var (limit, offset) = LimitOffset();
            return new ShowMeasurementsStatement(db, filter, condition, limit, offset);
        }

        if (TakeKeyword("TAG"))
        {
            if (TakeKeyword("KEYS"))
            {
                string? db = OnDatabase();
                var sources = TakeKeyword("FROM") ? Sources() : [];
                var condition = TakeKeyword("WHERE") ? Expression() : null;
                var (limit, offset) = LimitOffset();
                return new ShowTagKeysStatement(db, sources, condition, limit, offset);
            }

            if (TakeKeyword("VALUES"))
            {
                string? db = OnDatabase();
                var sources = TakeKeyword("FROM") ? Sources() : [];
                ExpectKeyword("WITH");
                ExpectKeyword("KEY");
                var key = NameFilterClause("KEY", allowIn: true);
                var condition = TakeKeyword("WHERE") ? Expression() : null;
                var (limit, offset) = LimitOffset();
                return new ShowTagValuesStatement(db, sources, key, condition, limit, offset);
            }

            return SkipStatement(new UnsupportedStatement("SHOW TAG " + _token.Text.ToUpperInvariant(), CardinalityHint));
        }

        if (TakeKeyword("FIELD"))
        {
            if (TakeKeyword("KEYS"))
            {
                string? db = OnDatabase();
                var sources = TakeKeyword("FROM") ? Sources() : [];
                var (limit, offset) = LimitOffset();
                return new ShowFieldKeysStatement(db, sources, limit, offset);
            }

            return SkipStatement(new UnsupportedStatement("SHOW FIELD " + _token.Text.ToUpperInvariant(), CardinalityHint));
        }

        if (TakeKeyword("SERIES"))
        {
            if (_token.IsKeyword("CARDINALITY") || _token.IsKeyword("EXACT"))
            {
                return SkipStatement(new UnsupportedStatement("SHOW SERIES CARDINALITY", CardinalityHint));
            }

            string? db = OnDatabase();
            var sources = TakeKeyword("FROM") ? Sources() : [];
            var condition = TakeKeyword("WHERE") ? Expression() : null;
            var (limit, offset) = LimitOffset();
            return new ShowSeriesStatement(db, sources, condition, limit, offset);
        }

        if (TakeKeyword("RETENTION"))
        {
            ExpectKeyword("POLICIES");
            return new ShowRetentionPoliciesStatement(OnDatabase());
        }

        if (token.Kind == TokenKind.Identifier && !token.Quoted)
        {
            string what = "SHOW " + token.Text.ToUpperInvariant();
            string reason = token.Text.ToUpperInvariant() switch
            {
                "USERS" or "GRANTS" => "Plexus has tokens with scopes instead of InfluxDB users (GET /api/v1/tokens)",
                "QUERIES" or "STATS" or "DIAGNOSTICS" or "SHARDS" or "SHARD" or "SUBSCRIPTIONS" or "CONTINUOUS" => "Plexus has no such InfluxDB internals; GET /health tells how the server is",
                "MEASUREMENT" => CardinalityHint,
                _ => "it is not part of the InfluxQL Plexus answers",
            };
            return SkipStatement(new UnsupportedStatement(what, reason));
        }

        throw Expected("DATABASES, MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD KEYS, SERIES or RETENTION POLICIES after SHOW");
    }

    private const string CardinalityHint = "count with SQL instead, e.g. SELECT count(*) FROM _plexus.measurements";

    private string? OnDatabase() => TakeKeyword("ON") ? Identifier("a database name after ON") : null;

    private (long Limit, long Offset) LimitOffset()
    {
        long limit = 0, offset = 0;
        while (true)
        {
            if (TakeKeyword("LIMIT"))
            {
                limit = NonNegativeInteger("LIMIT");
            }
            else if (TakeKeyword("OFFSET"))
            {
                offset = NonNegativeInteger("OFFSET");
            }
            else if (TakeKeyword("SLIMIT"))
            {
                NonNegativeInteger("SLIMIT");
            }
            else if (TakeKeyword("SOFFSET"))
            {
                NonNegativeInteger("SOFFSET");
            }
            else
            {
                return (limit, offset);
            }
        }
    }

    private NameFilter NameFilterClause(string what, bool allowIn)
    {
        var token = _token;
        if (allowIn && TakeKeyword("IN"))
        {
            ExpectKind(TokenKind.LeftParen, "(");
            var names = new List<string> { Identifier("a key name in IN (…)") };
            while (TakeKind(TokenKind.Comma))
            {
                names.Add(Identifier("a key name in IN (…)"));
            }

            ExpectKind(TokenKind.RightParen, ")");
            return new NameFilter(TokenKind.Equal, names, null);
        }

        switch (token.Kind)
        {
            case TokenKind.Equal or TokenKind.NotEqual:
                Advance();
                return new NameFilter(token.Kind, [Identifier($"a name after WITH {what} {token.Text}")], null);
            case TokenKind.EqualRegex or TokenKind.NotEqualRegex:
                Advance();
                return new NameFilter(token.Kind, [], RegexToken().Text);
            default:
                throw Expected(allowIn ? $"=, !=, =~, !~ or IN after WITH {what}" : $"=, !=, =~ or !~ after WITH {what}");
        }
    }

    private Statement Create()
    {
        Advance();
        if (TakeKeyword("DATABASE"))
        {
            string name = Identifier("a database name after CREATE DATABASE");
            if (_token.IsKeyword("WITH"))
            {
                return SkipStatement(new UnsupportedStatement("CREATE DATABASE … WITH", "Plexus keeps every point (one retention policy, autogen, infinite); send CREATE DATABASE " + name + " alone"));
            }

            return new CreateDatabaseStatement(name);
        }

        string what = "CREATE " + _token.Text.ToUpperInvariant();
        return SkipStatement(new UnsupportedStatement(what, "Plexus has one retention policy per database (autogen, infinite), no users and no continuous queries; downsample with SQL (time_bucket) instead"));
    }

    private Statement Drop()
    {
        Advance();
        var token = _token;
        string what = "DROP " + token.Text.ToUpperInvariant();
        if (TakeKeyword("MEASUREMENT"))
        {
            return new DropMeasurementStatement(Identifier("a measurement name after DROP MEASUREMENT"));
        }

        if (TakeKeyword("DATABASE"))
        {
            return new DropDatabaseStatement(Identifier("a database name after DROP DATABASE"));
        }

        if (token.IsKeyword("SERIES") || token.IsKeyword("SHARD"))
        {
            return SkipStatement(new DeleteStatement(what));
        }

        return SkipStatement(new UnsupportedStatement(what, "Plexus has no InfluxDB users, retention policies or continuous queries"));
    }

    private DeleteDataStatement Delete()
    {
        Advance();
        var source = TakeKeyword("FROM") ? Source() : null;
        var condition = TakeKeyword("WHERE") ? Expression() : null;
        if (source is null && condition is null)
        {
            throw Expected("FROM or WHERE after DELETE");
        }

        return new DeleteDataStatement(source, condition);
    }

    /// <summary>Reads an unsupported statement's tokens up to its end, so the statements after it still run.</summary>
    private Statement SkipStatement(Statement statement)
    {
        int depth = 0;
        while (_token.Kind != TokenKind.End && (_token.Kind != TokenKind.Semicolon || depth > 0))
        {
            depth += _token.Kind == TokenKind.LeftParen ? 1 : _token.Kind == TokenKind.RightParen ? -1 : 0;
            Advance();
        }

        return statement;
    }

    // ---- expressions -------------------------------------------------------------------------------------------

    private Expr Expression() => Binary(1);

    private Expr Binary(int minimumPrecedence)
    {
        var left = Unary();
        while (true)
        {
            var (op, precedence) = Operator(_token);
            if (precedence < minimumPrecedence || precedence == 0)
            {
                return left;
            }

            Advance();
            Expr right;
            if (op is BinaryOperator.MatchesRegex or BinaryOperator.NotMatchesRegex)
            {
                if (_token.Kind != TokenKind.Slash)
                {
                    throw Expected($"a /regex/ after {(op == BinaryOperator.MatchesRegex ? "=~" : "!~")}");
                }

                right = new RegexLiteral(RegexToken().Text);
            }
            else
            {
                right = Binary(precedence + 1);
            }

            left = new BinaryExpr(op, left, right);
        }
    }

    private static (BinaryOperator Operator, int Precedence) Operator(Token token) => token.Kind switch
    {
        TokenKind.Identifier when token.IsKeyword("OR") => (BinaryOperator.Or, 1),
        TokenKind.Identifier when token.IsKeyword("AND") => (BinaryOperator.And, 2),
        TokenKind.Equal => (BinaryOperator.Equal, 4),
        TokenKind.NotEqual => (BinaryOperator.NotEqual, 4),
        TokenKind.Less => (BinaryOperator.Less, 4),
        TokenKind.LessOrEqual => (BinaryOperator.LessOrEqual, 4),
        TokenKind.Greater => (BinaryOperator.Greater, 4),
        TokenKind.GreaterOrEqual => (BinaryOperator.GreaterOrEqual, 4),
        TokenKind.EqualRegex => (BinaryOperator.MatchesRegex, 4),
        TokenKind.NotEqualRegex => (BinaryOperator.NotMatchesRegex, 4),
        TokenKind.Plus => (BinaryOperator.Add, 5),
        TokenKind.Minus => (BinaryOperator.Subtract, 5),
        TokenKind.Pipe => (BinaryOperator.BitOr, 5),
        TokenKind.Caret => (BinaryOperator.BitXor, 5),
        TokenKind.Star => (BinaryOperator.Multiply, 6),
        TokenKind.Slash => (BinaryOperator.Divide, 6),
        TokenKind.Percent => (BinaryOperator.Modulo, 6),
        TokenKind.Ampersand => (BinaryOperator.BitAnd, 6),
        _ => (BinaryOperator.Add, 0),
    };

    private Expr Unary()
    {
        if (_token.Kind is TokenKind.Minus or TokenKind.Plus)
        {
            bool negative = _token.Kind == TokenKind.Minus;
            Advance();
            var operand = Unary();
            if (!negative)
            {
                return operand;
            }

            return operand switch
            {
                IntegerLiteral i => new IntegerLiteral(-i.Value),
                NumberLiteral n => new NumberLiteral(-n.Value),
                DurationLiteral d => new DurationLiteral(-d.Nanoseconds),
                _ => new BinaryExpr(BinaryOperator.Multiply, new IntegerLiteral(-1), operand),
            };
        }

        return Primary();
    }

    private Expr Primary()
    {
        var token = _token;
        switch (token.Kind)
        {
            case TokenKind.LeftParen:
                {
                    Advance();
                    if (_token.IsKeyword("SELECT"))
                    {
                        throw new UnsupportedStatementException("a subquery", "Plexus's InfluxQL has no subqueries; send the query as SQL to POST /api/v1/sql");
                    }

                    var inner = Expression();
                    ExpectKind(TokenKind.RightParen, ")");
                    return new ParenExpr(inner);
                }

            case TokenKind.String:
                Advance();
                return new StringLiteral(token.Text);
            case TokenKind.Integer:
                Advance();
                return long.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out long integer)
                    ? new IntegerLiteral(integer)
                    : new NumberLiteral(double.Parse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Number:
                Advance();
                return new NumberLiteral(double.Parse(token.Text, NumberStyles.Float, CultureInfo.InvariantCulture));
            case TokenKind.Duration:
                Advance();
                return new DurationLiteral(token.Nanoseconds);
            case TokenKind.Slash:
                return new RegexLiteral(RegexToken().Text);
            case TokenKind.Star:
                Advance();
                return new Wildcard(TypeSuffix());
            case TokenKind.BoundParameter:
                throw new UnsupportedStatementException("the bound parameter " + token.Text, "put the value into the query text");
            case TokenKind.Identifier when token.IsKeyword("TRUE"):
                Advance();
                return new BooleanLiteral(true);
            case TokenKind.Identifier when token.IsKeyword("FALSE"):
                Advance();
                return new BooleanLiteral(false);
            case TokenKind.Identifier when !token.Quoted && token.IsKeyword("DISTINCT"):
                {
                    // DISTINCT x is distinct(x).
                    Advance();
                    if (_token.Kind == TokenKind.LeftParen)
                    {
                        return new Call("distinct", CallArguments());
                    }

                    return new Call("distinct", [VariableReference(Identifier("a field name after DISTINCT"))]);
                }

            case TokenKind.Identifier:
                {
                    if (!token.Quoted && PeekIsCall())
                    {
                        Advance();
                        return new Call(token.Text.ToLowerInvariant(), CallArguments());
                    }

                    return VariableReference(Identifier("a name"));
                }

            default:
                throw Expected("a field, a tag, a function call or a value");
        }
    }

    private List<Expr> CallArguments()
    {
        ExpectKind(TokenKind.LeftParen, "(");
        var args = new List<Expr>();
        if (_token.Kind != TokenKind.RightParen)
        {
            do
            {
                args.Add(Expression());
            }
            while (TakeKind(TokenKind.Comma));
        }

        ExpectKind(TokenKind.RightParen, ")");
        return args;
    }

    private VarRef VariableReference(string name) => new(name, TypeSuffix());

    private NameKind TypeSuffix()
    {
        if (!TakeKind(TokenKind.DoubleColon))
        {
            return NameKind.Any;
        }

        var token = _token;
        if (token.Kind != TokenKind.Identifier)
        {
            throw Expected("tag, field, float, integer, string or boolean after ::");
        }

        Advance();
        string kind = token.Text.ToLowerInvariant();
        return kind switch
        {
            "tag" => NameKind.Tag,
            "field" or "float" or "integer" or "unsigned" or "string" or "boolean" => NameKind.Field,
            _ => throw Error(token, $"found ::{kind}, expected ::tag, ::field, ::float, ::integer, ::unsigned, ::string or ::boolean"),
        };
    }

    // ---- tokens ------------------------------------------------------------------------------------------------

    private bool PeekIsCall()
    {
        // A name directly followed by ( is a call: mean(…), time(…), now().
        if (_token.Quoted)
        {
            return false;
        }

        int after = _token.Position + _token.Text.Length;
        while (after < _text.Length && char.IsWhiteSpace(_text[after]))
        {
            after++;
        }

        return after < _text.Length && _text[after] == '(';
    }

    private Token RegexToken()
    {
        if (_token.Kind != TokenKind.Slash)
        {
            throw Expected("a /regex/");
        }

        var regex = _lexer.ScanRegex(_token.Position);
        Advance();
        return regex;
    }

    private void Advance() => _token = _lexer.Next();

    private bool TakeKind(TokenKind kind)
    {
        if (_token.Kind != kind)
        {
            return false;
        }

        Advance();
        return true;
    }

    private Token ExpectKind(TokenKind kind, string what)
    {
        var token = _token;
        if (token.Kind != kind)
        {
            throw Expected(what);
        }

        Advance();
        return token;
    }

    private bool TakeKeyword(string keyword)
    {
        if (!_token.IsKeyword(keyword))
        {
            return false;
        }

        Advance();
        return true;
    }

    private void ExpectKeyword(string keyword)
    {
        if (!TakeKeyword(keyword))
        {
            throw Expected(keyword);
        }
    }

    private string Identifier(string what)
    {
        var token = _token;
        if (token.Kind != TokenKind.Identifier || (!token.Quoted && Reserved.Contains(token.Text)))
        {
            throw token.Kind == TokenKind.Identifier
                ? Error(token, $"found {token.Text}, expected {what} ({token.Text} is a keyword: quote it as \"{token.Text}\" to use it as a name)")
                : Expected(what);
        }

        Advance();
        return token.Text;
    }

    private long NonNegativeInteger(string clause)
    {
        var token = _token;
        if (token.Kind != TokenKind.Integer || !long.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw Expected($"a whole number after {clause}");
        }

        Advance();
        return value;
    }

    private InfluxQLSyntaxException Expected(string what) => Error(_token, $"found {_token.Describe()}, expected {what}");

    private InfluxQLSyntaxException Error(Token token, string problem) => new(_text, token.Position, problem);
}

/// <summary>
/// A part of InfluxQL that Plexus does not answer, found inside an otherwise readable statement (a subquery,
/// <c>SELECT … INTO</c>, bound parameters): the statement is answered with an error naming it, the others still run.
/// </summary>
public sealed class UnsupportedStatementException : Exception
{
    public UnsupportedStatementException(string what, string reason)
        : base($"{what} is not supported: {reason}")
    {
        What = what;
        Reason = reason;
    }

    public UnsupportedStatementException()
    {
        What = "";
        Reason = "";
    }

    public UnsupportedStatementException(string message)
        : base(message)
    {
        What = message;
        Reason = "";
    }

    public UnsupportedStatementException(string message, Exception inner)
        : base(message, inner)
    {
        What = message;
        Reason = "";
    }

    public string What { get; }

    public string Reason { get; }
}
