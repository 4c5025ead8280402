namespace Plexus.InfluxQL.Syntax;

/// <summary>One statement of a query; <see cref="Text"/> is its source, for messages that name it.</summary>
public abstract record Statement
{
    public string Text { get; init; } = "";
}

public sealed record SelectStatement(
    IReadOnlyList<Field> Fields,
    IReadOnlyList<MeasurementSource> Sources,
    Expr? Condition,
    GroupByTime? Interval,
    IReadOnlyList<Dimension> Dimensions,
    Fill Fill,
    bool Descending,
    long Limit,
    long Offset,
    long SeriesLimit,
    long SeriesOffset,
    string? TimeZone) : Statement;

/// <summary>A selected expression and its alias.</summary>
public sealed record Field(Expr Expr, string? Alias);

/// <summary>
/// <c>FROM</c>: a measurement by name or by regex, with its database and retention policy when written
/// (<c>"db"."rp"."m"</c>, <c>"rp"."m"</c>, <c>"db".."m"</c>).
/// </summary>
public sealed record MeasurementSource(string? Database, string? RetentionPolicy, string? Name, string? Regex);

/// <summary><c>GROUP BY time(interval[, offset])</c>.</summary>
public sealed record GroupByTime(long IntervalNs, long OffsetNs);

public abstract record Dimension;

public sealed record TagDimension(string Name) : Dimension;

public sealed record RegexDimension(string Pattern) : Dimension;

public sealed record WildcardDimension : Dimension;

public enum FillKind
{
    Null,
    None,
    Previous,
    Linear,
    Number,
}

/// <summary><c>fill(…)</c>; <see cref="Explicit"/> is false when the statement has none (InfluxDB's default, null).</summary>
public sealed record Fill(FillKind Kind, double Number = 0, bool IsInteger = false, bool Explicit = false)
{
    public static Fill Default { get; } = new(FillKind.Null);
}

public sealed record ShowDatabasesStatement : Statement;

/// <summary><c>WITH MEASUREMENT = name</c>, <c>=~ /re/</c> (or their negations), and <c>WITH KEY … | IN (…)</c>.</summary>
public sealed record NameFilter(TokenKind Operator, IReadOnlyList<string> Names, string? Regex);

public sealed record ShowMeasurementsStatement(string? Database, NameFilter? Filter, Expr? Condition, long Limit, long Offset) : Statement;

public sealed record ShowTagKeysStatement(string? Database, IReadOnlyList<MeasurementSource> Sources, Expr? Condition, long Limit, long Offset) : Statement;

public sealed record ShowTagValuesStatement(string? Database, IReadOnlyList<MeasurementSource> Sources, NameFilter Key, Expr? Condition, long Limit, long Offset) : Statement;

public sealed record ShowFieldKeysStatement(string? Database, IReadOnlyList<MeasurementSource> Sources, long Limit, long Offset) : Statement;

public sealed record ShowSeriesStatement(string? Database, IReadOnlyList<MeasurementSource> Sources, Expr? Condition, long Limit, long Offset) : Statement;

public sealed record ShowRetentionPoliciesStatement(string? Database) : Statement;

public sealed record CreateDatabaseStatement(string Name) : Statement;

/// <summary><c>DROP SERIES</c>, <c>DROP SHARD</c>: deletes Plexus does not have in this form (<see cref="What"/> names it).</summary>
public sealed record DeleteStatement(string What) : Statement;

/// <summary><c>DROP MEASUREMENT name</c>: the measurement and all its data go (docs/influxql.md#deleting-data).</summary>
public sealed record DropMeasurementStatement(string Name) : Statement;

/// <summary><c>DROP DATABASE name</c>: the namespace and all its data go.</summary>
public sealed record DropDatabaseStatement(string Name) : Statement;

/// <summary><c>DELETE [FROM measurement] [WHERE time and tag conditions]</c>: the matching rows go.</summary>
public sealed record DeleteDataStatement(MeasurementSource? Source, Expr? Condition) : Statement;

/// <summary>A statement InfluxQL has and Plexus does not (<c>SHOW USERS</c>, <c>SELECT … INTO</c>); <see cref="What"/> names it.</summary>
public sealed record UnsupportedStatement(string What, string Reason) : Statement;

public abstract record Expr;

public enum BinaryOperator
{
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
    BitAnd,
    BitOr,
    BitXor,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    MatchesRegex,
    NotMatchesRegex,
    And,
    Or,
}

public sealed record BinaryExpr(BinaryOperator Operator, Expr Left, Expr Right) : Expr;

public sealed record ParenExpr(Expr Inner) : Expr;

/// <summary>How a name was told apart: <c>"host"::tag</c>, <c>"value"::field</c>, or a type cast that also means a field.</summary>
public enum NameKind
{
    Any,
    Tag,
    Field,
}

public sealed record VarRef(string Name, NameKind Kind = NameKind.Any) : Expr;

public sealed record Call(string Name, IReadOnlyList<Expr> Args) : Expr;

public sealed record NumberLiteral(double Value) : Expr;

public sealed record IntegerLiteral(long Value) : Expr;

public sealed record StringLiteral(string Value) : Expr;

public sealed record BooleanLiteral(bool Value) : Expr;

public sealed record DurationLiteral(long Nanoseconds) : Expr;

public sealed record RegexLiteral(string Pattern) : Expr;

/// <summary><c>*</c> in a field list or a call, optionally <c>*::field</c> / <c>*::tag</c>.</summary>
public sealed record Wildcard(NameKind Kind = NameKind.Any) : Expr;
