using Plexus.Storage;

namespace Plexus.Query.Functions;

/// <summary>
/// SQL table macros that score a measurement's history for anomalies (docs/sql.md, "Anomaly detection") with the same
/// detectors as the rules' <c>anomaly(x, method, points)</c>: each value against the <c>points</c> values of its series
/// before it, by rolling z-score, exponentially weighted z-score or median/MAD (modified z-score), or the MAD score
/// within the same hour of day (a seasonal baseline). NULL until the
/// series has <c>points</c> earlier values, and when their spread is zero.
/// </summary>
/// <remarks>
/// The source is read through <c>query_table(source)</c> and the columns are picked by name with
/// <c>COLUMNS(c -> lower(c) = lower(name))</c>, both bound when the macro is called, so any measurement (or view)
/// with a <c>time</c> column can be scored. One macro per method, combined by <c>UNION ALL</c> under a constant filter
/// on the method: DuckDB prunes the branches that do not apply, so a call computes only its own window aggregates.
/// </remarks>
public static class AnomalyFunctions
{
    /// <summary>The macros in creation order (a macro is bound when created, so the helpers come first).</summary>
    public static IReadOnlyList<(string Name, string Sql)> Macros { get; } =
    [
        ("anomaly_points", """
            CREATE OR REPLACE MACRO main.anomaly_points(source, value_column, series_column, from_time, to_time) AS TABLE
                SELECT time,
                       COLUMNS(c -> lower(c) = lower(series_column))::VARCHAR AS series_key,
                       COLUMNS(c -> lower(c) = lower(value_column))::DOUBLE AS value
                FROM query_table(source)
                WHERE (from_time IS NULL OR time >= from_time) AND (to_time IS NULL OR time < to_time)
            """),
        ("anomaly_scores_zscore", """
            CREATE OR REPLACE MACRO main.anomaly_scores_zscore(source, value_column, points, series_column, from_time, to_time) AS TABLE
                SELECT time, series_key, value,
                       CASE WHEN count(value) OVER h = points
                            THEN abs(value - avg(value) OVER h) / nullif(stddev_pop(value) OVER h, 0) END AS score
                FROM main.anomaly_points(source, value_column, series_column, from_time, to_time)
                WHERE isfinite(value)
                WINDOW h AS (PARTITION BY series_key ORDER BY time ROWS BETWEEN points PRECEDING AND 1 PRECEDING)
            """),
        // by_hour: the seasonal baseline, one window per hour of day (the rules' 'seasonal'); else one per series.
        ("anomaly_scores_mad", """
            CREATE OR REPLACE MACRO main.anomaly_scores_mad(source, value_column, points, series_column, from_time, to_time, by_hour) AS TABLE
                SELECT time, series_key, value,
                       CASE WHEN count(value) OVER h = points
                            THEN 0.6745 * abs(value - median(value) OVER h) / nullif(mad(value) OVER h, 0) END AS score
                FROM main.anomaly_points(source, value_column, series_column, from_time, to_time)
                WHERE isfinite(value)
                WINDOW h AS (PARTITION BY series_key, CASE WHEN by_hour THEN hour(time) END ORDER BY time ROWS BETWEEN points PRECEDING AND 1 PRECEDING)
            """),

        // Weights (1 − α)^age, α = 2 / (points + 1), the newest value (the list's last) of age 0.
        ("anomaly_scores_ewma", """
            CREATE OR REPLACE MACRO main.anomaly_scores_ewma(source, value_column, points, series_column, from_time, to_time) AS TABLE
                WITH windows AS (
                    SELECT time, series_key, value, list(value) OVER h AS previous, 1 - 2 / (points + 1) AS keep
                    FROM main.anomaly_points(source, value_column, series_column, from_time, to_time)
                    WHERE isfinite(value)
                    WINDOW h AS (PARTITION BY series_key ORDER BY time ROWS BETWEEN points PRECEDING AND 1 PRECEDING)),
                centred AS (
                    SELECT *, list_sum(list_transform(previous, (x, i) -> pow(keep, len(previous) - i))) AS weights,
                           list_sum(list_transform(previous, (x, i) -> x * pow(keep, len(previous) - i)))
                               / list_sum(list_transform(previous, (x, i) -> pow(keep, len(previous) - i))) AS centre
                    FROM windows)
                SELECT time, series_key, value,
                       CASE WHEN len(previous) = points
                            THEN abs(value - centre) / nullif(sqrt(list_sum(list_transform(previous, (x, i) -> pow(keep, len(previous) - i) * pow(x - centre, 2))) / weights), 0) END AS score
                FROM centred
            """),
        ("anomaly_scores", """
            CREATE OR REPLACE MACRO main.anomaly_scores(source, value_column, method := 'mad', points := 60, series := 'device', from_time := NULL, to_time := NULL) AS TABLE
                SELECT time, series_key AS series, value, score FROM (
                    SELECT * FROM main.anomaly_scores_mad(source, value_column, points, series, from_time, to_time, false) WHERE lower(method) = 'mad'
                    UNION ALL
                    SELECT * FROM main.anomaly_scores_zscore(source, value_column, points, series, from_time, to_time) WHERE lower(method) = 'zscore'
                    UNION ALL
                    SELECT * FROM main.anomaly_scores_ewma(source, value_column, points, series, from_time, to_time) WHERE lower(method) = 'ewma'
                    UNION ALL
                    SELECT * FROM main.anomaly_scores_mad(source, value_column, points, series, from_time, to_time, true) WHERE lower(method) = 'seasonal'
                    UNION ALL
                    SELECT NULL::TIMESTAMP, NULL::VARCHAR, NULL::DOUBLE,
                           error('anomaly_scores: method is one of ''mad'', ''zscore'', ''ewma'', ''seasonal'', and points a whole number from 8 to 1000; got method ''' || method || ''', points ' || points)::DOUBLE
                    WHERE lower(method) NOT IN ('mad', 'zscore', 'ewma', 'seasonal') OR points NOT BETWEEN 8 AND 1000 OR points <> floor(points))
                ORDER BY 2, 1
            """),
        ("anomalies", """
            CREATE OR REPLACE MACRO main.anomalies(source, value_column, method := 'mad', points := 60, threshold := 4, series := 'device', from_time := NULL, to_time := NULL) AS TABLE
                SELECT * FROM main.anomaly_scores(source, value_column, method := method, points := points, series := series, from_time := from_time, to_time := to_time)
                WHERE score > threshold
            """),
    ];

    /// <summary>Creates or replaces every macro in <c>main</c>.</summary>
    public static void Install(PlexusStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        using var connection = store.OpenMetadataConnection();
        foreach (var (_, sql) in Macros)
        {
            connection.Execute(sql);
        }
    }
}
