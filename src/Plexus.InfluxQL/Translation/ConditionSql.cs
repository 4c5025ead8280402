using System.Globalization;
using Plexus.InfluxQL.Syntax;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Translation;

/// <summary>
/// Turns a WHERE clause without its time conditions into SQL over one measurement, with InfluxDB's meaning:
/// a tag a series does not have is the empty string (so <c>host != 'a'</c> keeps series without <c>host</c>), a field
/// a row does not have matches nothing, and a comparison of a tag or string with a number (or the other way round)
/// is false rather than an error. Every name goes through <see cref="SqlNames.Quote"/>, every value and regex through
/// <see cref="SqlNames.Literal"/>; regexes run as <c>regexp_matches</c> (RE2, the syntax InfluxDB uses).
/// </summary>
internal sealed class ConditionSql(InfluxMeasurement measurement, bool fieldsAllowed, string statementKind)
{
    private enum Kind
    {
        Text,
        Number,
        Boolean,
        Null,
        Regex,
    }

    private readonly record struct Operand(string Sql, Kind Kind);

    /// <summary>The SQL of <paramref name="condition"/>; TRUE when there is none.</summary>
    public string Translate(Expr? condition) => condition is null ? "TRUE" : Condition(condition);

    /// <summary>A tag's value as InfluxDB sees it: the empty string when the series does not have it.</summary>
    public static string TagValue(InfluxMeasurement measurement, string tag) =>
        measurement.HasTag(tag) ? $"coalesce({SqlNames.Quote(tag)}, '')" : "''";

    public static string Number(double value)
    {
        string text = value.ToString("R", CultureInfo.InvariantCulture);
        return value < 0 ? "(" + text + ")" : text;
    }

    public static string Number(long value) => value < 0 ? "(" + value.ToString(CultureInfo.InvariantCulture) + ")" : value.ToString(CultureInfo.InvariantCulture);

    private string Condition(Expr expr)
    {
        switch (expr)
        {
            case ParenExpr paren:
                return Condition(paren.Inner);
            case BooleanLiteral boolean:
                return boolean.Value ? "TRUE" : "FALSE";
            case BinaryExpr { Operator: BinaryOperator.And or BinaryOperator.Or } logical:
                return $"({Condition(logical.Left)} {(logical.Operator == BinaryOperator.And ? "AND" : "OR")} {Condition(logical.Right)})";
            case BinaryExpr comparison when IsComparison(comparison.Operator):
                return Comparison(comparison);
            default:
                throw new StatementException($"a WHERE condition must be a comparison (like \"host\" = 'a' or \"value\" > 1), joined with AND and OR; found {Describe(expr)}");
        }
    }

    private static bool IsComparison(BinaryOperator op) => op is BinaryOperator.Equal or BinaryOperator.NotEqual or BinaryOperator.Less
        or BinaryOperator.LessOrEqual or BinaryOperator.Greater or BinaryOperator.GreaterOrEqual or BinaryOperator.MatchesRegex or BinaryOperator.NotMatchesRegex;

    private string Comparison(BinaryExpr comparison)
    {
        var left = Value(comparison.Left);
        var right = Value(comparison.Right);
        if (comparison.Operator is BinaryOperator.MatchesRegex or BinaryOperator.NotMatchesRegex)
        {
            if (right.Kind != Kind.Regex)
            {
                throw new StatementException("=~ and !~ need a /regex/ on their right");
            }

            if (left.Kind != Kind.Text)
            {
                return "FALSE";
            }

            string match = $"regexp_matches({left.Sql}, {right.Sql})";
            return comparison.Operator == BinaryOperator.MatchesRegex ? match : $"(NOT {match})";
        }

        if (left.Kind == Kind.Regex || right.Kind == Kind.Regex)
        {
            throw new StatementException("a /regex/ can only follow =~ or !~");
        }

        if (left.Kind == Kind.Null || right.Kind == Kind.Null || left.Kind != right.Kind)
        {
            // InfluxDB: a missing field, or a tag against a number, matches nothing.
            return "FALSE";
        }

        string op = comparison.Operator switch
        {
            BinaryOperator.Equal => "=",
            BinaryOperator.NotEqual => "<>",
            BinaryOperator.Less => "<",
            BinaryOperator.LessOrEqual => "<=",
            BinaryOperator.Greater => ">",
            _ => ">=",
        };
        return $"({left.Sql} {op} {right.Sql})";
    }

    private Operand Value(Expr expr)
    {
        switch (expr)
        {
            case ParenExpr paren:
                return Value(paren.Inner);
            case StringLiteral text:
                return new Operand(SqlNames.Literal(text.Value), Kind.Text);
            case IntegerLiteral integer:
                return new Operand(Number(integer.Value), Kind.Number);
            case NumberLiteral number:
                return new Operand(Number(number.Value), Kind.Number);
            case DurationLiteral duration:
                return new Operand(Number(duration.Nanoseconds), Kind.Number);
            case BooleanLiteral boolean:
                return new Operand(boolean.Value ? "TRUE" : "FALSE", Kind.Boolean);
            case RegexLiteral regex:
                return new Operand(SqlNames.Literal(regex.Pattern), Kind.Regex);
            case VarRef reference:
                return Reference(reference);
            case BinaryExpr { Operator: BinaryOperator.Add or BinaryOperator.Subtract or BinaryOperator.Multiply or BinaryOperator.Divide or BinaryOperator.Modulo } arithmetic:
                {
                    var left = Value(arithmetic.Left);
                    var right = Value(arithmetic.Right);
                    if (left.Kind != Kind.Number || right.Kind != Kind.Number)
                    {
                        return new Operand("NULL", Kind.Null);
                    }

                    string op = arithmetic.Operator switch
                    {
                        BinaryOperator.Add => "+",
                        BinaryOperator.Subtract => "-",
                        BinaryOperator.Multiply => "*",
                        BinaryOperator.Divide => "/",
                        _ => "%",
                    };
                    return new Operand($"({left.Sql} {op} {right.Sql})", Kind.Number);
                }

            default:
                throw new StatementException($"{Describe(expr)} cannot be compared in a WHERE clause of {statementKind}");
        }
    }

    private Operand Reference(VarRef reference)
    {
        string name = reference.Name;
        if (TimeConditions.IsTime(reference))
        {
            throw new StatementException("time conditions can only be joined to the rest of the WHERE clause with AND");
        }

        if (reference.Kind != NameKind.Field && measurement.HasTag(name))
        {
            return new Operand(TagValue(measurement, name), Kind.Text);
        }

        if (reference.Kind != NameKind.Tag && measurement.TryGetField(name, out var type))
        {
            if (!fieldsAllowed)
            {
                throw new StatementException($"{statementKind} can filter on tags only, and \"{name}\" is a field of \"{measurement.Name}\"");
            }

            return new Operand(SqlNames.Quote(name), type switch
            {
                InfluxFieldType.String => Kind.Text,
                InfluxFieldType.Boolean => Kind.Boolean,
                _ => Kind.Number,
            });
        }

        // A name the measurement does not have is a tag no series carries (the empty string), as in InfluxDB;
        // one marked ::field is a field no row carries.
        return reference.Kind == NameKind.Field ? new Operand("NULL", Kind.Null) : new Operand("''", Kind.Text);
    }

    private static string Describe(Expr expr) => expr switch
    {
        Call call => call.Name + "()",
        VarRef reference => "\"" + reference.Name + "\"",
        Wildcard => "*",
        _ => "an expression",
    };
}
