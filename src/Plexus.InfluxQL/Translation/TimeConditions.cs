using System.Globalization;
using System.Text.RegularExpressions;
using Plexus.InfluxQL.Syntax;

namespace Plexus.InfluxQL.Translation;

/// <summary>The time range a WHERE clause allows, in nanoseconds since the epoch, both ends included; null where open.</summary>
public readonly record struct TimeBounds(long? Lower, long? Upper)
{
    public bool IsEmpty => Lower is { } lower && Upper is { } upper && lower > upper;

    public TimeBounds Intersect(TimeBounds other) => new(
        Lower is null ? other.Lower : other.Lower is null ? Lower : Math.Max(Lower.Value, other.Lower.Value),
        Upper is null ? other.Upper : other.Upper is null ? Upper : Math.Min(Upper.Value, other.Upper.Value));
}

/// <summary>
/// Takes the time conditions out of a WHERE clause, as InfluxDB does: comparisons of <c>time</c> joined to the rest
/// by AND give the query's time range (which also bounds GROUP BY time() buckets and fill()); every other condition
/// stays. Time values are RFC 3339 strings (<c>'2023-01-01T00:00:00Z'</c>, <c>'2023-01-01 00:00:00'</c>,
/// <c>'2023-01-01'</c>), integers (nanoseconds), durations since the epoch (<c>1700000000000ms</c>) and
/// <c>now()</c>, with <c>+</c>/<c>-</c> durations.
/// </summary>
public static partial class TimeConditions
{
    /// <summary>Splits <paramref name="condition"/> into its time range and what is left (null when nothing is).</summary>
    /// <exception cref="StatementException">A time condition InfluxQL does not allow (under OR, with !=, a bad time).</exception>
    public static (TimeBounds Bounds, Expr? Remaining) Split(Expr? condition, long nowNs, TimeZoneInfo? zone)
    {
        if (condition is null)
        {
            return (default, null);
        }

        switch (condition)
        {
            case ParenExpr paren:
                return Split(paren.Inner, nowNs, zone);
            case BinaryExpr { Operator: BinaryOperator.And } and:
                {
                    var (leftBounds, leftRest) = Split(and.Left, nowNs, zone);
                    var (rightBounds, rightRest) = Split(and.Right, nowNs, zone);
                    var rest = leftRest is null ? rightRest : rightRest is null ? leftRest : new BinaryExpr(BinaryOperator.And, leftRest, rightRest);
                    return (leftBounds.Intersect(rightBounds), rest);
                }

            case BinaryExpr comparison when IsTime(comparison.Left) || IsTime(comparison.Right):
                return (Bound(comparison, nowNs, zone), null);
            default:
                if (MentionsTime(condition))
                {
                    throw new StatementException("time conditions can only be joined to the rest of the WHERE clause with AND (InfluxQL has no OR between time ranges); send one query per range, or use SQL on POST /api/v1/sql");
                }

                return (default, condition);
        }
    }

    /// <summary>True when <paramref name="expr"/> is the name <c>time</c>.</summary>
    public static bool IsTime(Expr expr) => expr is VarRef { Name: var name } && name.Equals("time", StringComparison.OrdinalIgnoreCase);

    private static bool MentionsTime(Expr expr) => expr switch
    {
        BinaryExpr binary => MentionsTime(binary.Left) || MentionsTime(binary.Right),
        ParenExpr paren => MentionsTime(paren.Inner),
        Call call => call.Args.Any(MentionsTime),
        _ => IsTime(expr),
    };

    private static TimeBounds Bound(BinaryExpr comparison, long nowNs, TimeZoneInfo? zone)
    {
        bool timeOnLeft = IsTime(comparison.Left);
        var valueSide = timeOnLeft ? comparison.Right : comparison.Left;
        var op = timeOnLeft ? comparison.Operator : Flip(comparison.Operator);
        long value = Evaluate(valueSide, nowNs, zone);
        return op switch
        {
            BinaryOperator.Greater => new TimeBounds(value == long.MaxValue ? value : value + 1, null),
            BinaryOperator.GreaterOrEqual => new TimeBounds(value, null),
            BinaryOperator.Less => new TimeBounds(null, value == long.MinValue ? value : value - 1),
            BinaryOperator.LessOrEqual => new TimeBounds(null, value),
            BinaryOperator.Equal => new TimeBounds(value, value),
            _ => throw new StatementException($"time can be compared with =, <, <=, > and >= only, not {OperatorText(op)}; write the range as time >= … AND time < …"),
        };
    }

    private static BinaryOperator Flip(BinaryOperator op) => op switch
    {
        BinaryOperator.Greater => BinaryOperator.Less,
        BinaryOperator.GreaterOrEqual => BinaryOperator.LessOrEqual,
        BinaryOperator.Less => BinaryOperator.Greater,
        BinaryOperator.LessOrEqual => BinaryOperator.GreaterOrEqual,
        _ => op,
    };

    private static string OperatorText(BinaryOperator op) => op switch
    {
        BinaryOperator.NotEqual => "!=",
        BinaryOperator.MatchesRegex => "=~",
        BinaryOperator.NotMatchesRegex => "!~",
        _ => op.ToString(),
    };

    /// <summary>A time value in nanoseconds since the epoch.</summary>
    public static long Evaluate(Expr expr, long nowNs, TimeZoneInfo? zone)
    {
        try
        {
            return expr switch
            {
                ParenExpr paren => Evaluate(paren.Inner, nowNs, zone),
                Call { Name: "now", Args.Count: 0 } => nowNs,
                StringLiteral text => ParseTime(text.Value, zone),
                IntegerLiteral integer => integer.Value,
                NumberLiteral number when double.IsFinite(number.Value) && Math.Abs(number.Value) < 9.2e18 => (long)number.Value,
                DurationLiteral duration => duration.Nanoseconds,
                BinaryExpr { Operator: BinaryOperator.Add } sum => checked(Evaluate(sum.Left, nowNs, zone) + Duration(sum.Right)),
                BinaryExpr { Operator: BinaryOperator.Subtract } difference => checked(Evaluate(difference.Left, nowNs, zone) - Duration(difference.Right)),
                _ => throw new StatementException("a time must be an RFC 3339 string ('2023-01-01T00:00:00Z'), an epoch number (1700000000000ms, or nanoseconds), or now(), optionally plus or minus a duration"),
            };
        }
        catch (OverflowException)
        {
            throw new StatementException("the time is outside the range of 64-bit nanoseconds (years 1677 to 2262)");
        }
    }

    private static long Duration(Expr expr) => expr switch
    {
        DurationLiteral duration => duration.Nanoseconds,
        IntegerLiteral integer => integer.Value,
        ParenExpr paren => Duration(paren.Inner),
        _ => throw new StatementException("only a duration (like 1h or 30s) can be added to or subtracted from a time"),
    };

    /// <summary>RFC 3339 (with or without an offset, with up to nine digits of fraction), <c>2023-01-01 00:00:00</c> or <c>2023-01-01</c>; without an offset the time is in <paramref name="zone"/>, else UTC.</summary>
    public static long ParseTime(string text, TimeZoneInfo? zone)
    {
        ArgumentNullException.ThrowIfNull(text);
        var match = TimePattern().Match(text);
        if (!match.Success)
        {
            throw new StatementException($"'{text}' is not a time InfluxQL reads: use RFC 3339 like '2023-01-01T00:00:00Z', '2023-01-01 00:00:00' or '2023-01-01'");
        }

        int Part(int group) => match.Groups[group].Success ? int.Parse(match.Groups[group].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture) : 0;
        DateTime local;
        try
        {
            local = new DateTime(Part(1), Part(2), Part(3), Part(4), Part(5), Part(6), DateTimeKind.Unspecified);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new StatementException($"'{text}' is not a valid date and time");
        }

        long fraction = 0;
        if (match.Groups[7].Success)
        {
            string digits = match.Groups[7].Value.PadRight(9, '0');
            fraction = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        }

        TimeSpan offset;
        if (match.Groups[8].Success)
        {
            string zoneText = match.Groups[8].Value;
            offset = zoneText is "Z" or "z"
                ? TimeSpan.Zero
                : new TimeSpan(int.Parse(zoneText.AsSpan(1, 2), NumberStyles.None, CultureInfo.InvariantCulture), int.Parse(zoneText.AsSpan(4, 2), NumberStyles.None, CultureInfo.InvariantCulture), 0) * (zoneText[0] == '-' ? -1 : 1);
        }
        else
        {
            offset = zone?.GetUtcOffset(local) ?? TimeSpan.Zero;
        }

        long ticks = local.Ticks - DateTime.UnixEpoch.Ticks - offset.Ticks;
        try
        {
            return checked((ticks * 100) + fraction);
        }
        catch (OverflowException)
        {
            throw new StatementException($"'{text}' is outside the range of 64-bit nanoseconds (years 1677 to 2262)");
        }
    }

    [GeneratedRegex(@"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:\d{2})?$", RegexOptions.CultureInvariant)]
    private static partial Regex TimePattern();
}
