namespace Plexus.InfluxQL.Translation;

/// <summary>The InfluxQL functions Plexus answers, and what it says about the others.</summary>
internal static class InfluxFunctions
{
    /// <summary>Aggregates and selectors: one value per series and bucket.</summary>
    public static readonly IReadOnlySet<string> Aggregates = new HashSet<string>(StringComparer.Ordinal)
    {
        "mean", "median", "count", "sum", "min", "max", "first", "last", "spread", "stddev", "percentile", "distinct",
    };

    /// <summary>Selectors return a value of one point; alone in a query without GROUP BY time(), its time too.</summary>
    public static readonly IReadOnlySet<string> Selectors = new HashSet<string>(StringComparer.Ordinal)
    {
        "min", "max", "first", "last", "percentile",
    };

    /// <summary>Aggregates that only take numbers: <c>mean(*)</c> expands to the numeric fields.</summary>
    public static readonly IReadOnlySet<string> NumericOnly = new HashSet<string>(StringComparer.Ordinal)
    {
        "mean", "median", "sum", "spread", "stddev", "percentile",
    };

    /// <summary>Math applied to each value (or each aggregate): InfluxQL name → DuckDB name, and the argument count.</summary>
    public static readonly IReadOnlyDictionary<string, (string Sql, int Arguments)> Math = new Dictionary<string, (string, int)>(StringComparer.Ordinal)
    {
        ["abs"] = ("abs", 1),
        ["ceil"] = ("ceil", 1),
        ["floor"] = ("floor", 1),
        ["round"] = ("round", 1),
        ["sqrt"] = ("sqrt", 1),
        ["exp"] = ("exp", 1),
        ["ln"] = ("ln", 1),
        ["log2"] = ("log2", 1),
        ["log10"] = ("log10", 1),
        ["pow"] = ("pow", 2),
        ["sin"] = ("sin", 1),
        ["cos"] = ("cos", 1),
        ["tan"] = ("tan", 1),
        ["asin"] = ("asin", 1),
        ["acos"] = ("acos", 1),
        ["atan"] = ("atan", 1),
        ["atan2"] = ("atan2", 2),
    };

    private static readonly HashSet<string> Known = new HashSet<string>(StringComparer.Ordinal)
    {
        "derivative", "non_negative_derivative", "difference", "non_negative_difference", "moving_average",
        "cumulative_sum", "elapsed", "integral", "holt_winters", "holt_winters_with_fit", "top", "bottom", "sample",
        "mode", "count_hll", "sum_hll", "merge_hll", "exponential_moving_average", "double_exponential_moving_average",
        "triple_exponential_moving_average", "triple_exponential_derivative", "relative_strength_index",
        "chande_momentum_oscillator", "kaufmans_efficiency_ratio", "kaufmans_adaptive_moving_average", "log",
    };

    /// <summary>The error for a call Plexus does not answer.</summary>
    public static StatementException Unsupported(string name) => Known.Contains(name)
        ? new StatementException($"{name}() is not supported by Plexus's InfluxQL; compute it with SQL on POST /api/v1/sql (window functions such as lag() and the time_bucket() and gap-fill macros, see docs/sql.md)")
        : new StatementException($"undefined function {name}(); Plexus's InfluxQL has mean, median, count, sum, min, max, first, last, spread, stddev, percentile, distinct and the math functions (abs, round, …), see docs/influxql.md");
}
