using Plexus.Storage;

namespace Plexus.Query.Functions;

/// <summary>
/// SQL macros for time alignment (docs/sql.md, "Time alignment helpers"), created in <c>main</c> when the server
/// starts. <c>CREATE OR REPLACE</c> keeps a data folder written by an older version in step with this one.
/// </summary>
public static class TimeFunctions
{
    /// <summary>The macros, by name, as DuckDB statements; each is documented in docs/sql.md.</summary>
    public static IReadOnlyList<(string Name, string Sql)> Macros { get; } =
    [
        // Linear interpolation by time between two known points; a point on either end returns that end's value.
        ("interpolate_linear", """
            CREATE OR REPLACE MACRO main.interpolate_linear(t, t0, v0, t1, v1) AS
                CASE WHEN t1 = t0 THEN v0
                     ELSE v0 + (v1 - v0) * epoch(t - t0) / epoch(t1 - t0) END
            """),
        // The bucket grid from start (inclusive) to stop (exclusive), to LEFT JOIN buckets to so empty ones appear.
        ("time_grid", """
            CREATE OR REPLACE MACRO main.time_grid(start_time, stop_time, step) AS TABLE
                SELECT unnest(range(start_time::TIMESTAMP, stop_time::TIMESTAMP, step)) AS time
            """),
        // Last observation carried forward: the latest non-NULL value of v up to this row, in time order, per series.
        ("gap_fill_locf", """
            CREATE OR REPLACE MACRO main.gap_fill_locf(v, t, series := NULL) AS
                last_value(v IGNORE NULLS) OVER (PARTITION BY series ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
            """),
        // v where known, else interpolated by time between the nearest known values before and after, per series.
        ("gap_fill_linear", """
            CREATE OR REPLACE MACRO main.gap_fill_linear(v, t, series := NULL) AS
                coalesce(v, main.interpolate_linear(
                    t,
                    last_value(CASE WHEN v IS NOT NULL THEN t END IGNORE NULLS) OVER (PARTITION BY series ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
                    last_value(v IGNORE NULLS) OVER (PARTITION BY series ORDER BY t ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
                    first_value(CASE WHEN v IS NOT NULL THEN t END IGNORE NULLS) OVER (PARTITION BY series ORDER BY t ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING),
                    first_value(v IGNORE NULLS) OVER (PARTITION BY series ORDER BY t ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING)))
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
