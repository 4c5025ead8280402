using System.Globalization;
using System.Text.Json;

namespace Plexus.InfluxQL.Tests.Execution;

/// <summary>
/// The InfluxQL corpus: each statement (every one Grafana sends, and the rest of the subset) is answered by
/// <c>/query</c> and compared, series by series and value by value, with an answer computed independently in SQL over
/// the same data through <c>/api/v1/sql</c>. The SQL is written by hand with other means than the translator's
/// (generate_series and time_bucket grids, correlated subqueries, ORDER BY … LIMIT 1 for selectors,
/// information_schema for the catalog), so a mistake in the translation shows as a difference.
/// </summary>
public sealed class InfluxQLCorpusTests(InfluxLab lab) : IClassFixture<InfluxLab>
{
    private const long T0 = InfluxLab.T0;
    private const string InRange = "epoch_ns(c.time) BETWEEN 1700000000000000000 AND 1700000590000000000";
    private const string Second = "000000000";

    private sealed record Case(string[] Tags, string[] Columns, string Sql, string Db = "lab");

    private static string Grid(long fromSeconds, long toSeconds, string interval, long stepSeconds) =>
        $"(SELECT unnest(generate_series(epoch_ns(time_bucket(INTERVAL '{interval}', make_timestamp({fromSeconds}000000), TIMESTAMP '1970-01-01')), " +
        $"epoch_ns(time_bucket(INTERVAL '{interval}', make_timestamp({toSeconds}000000), TIMESTAMP '1970-01-01')), {stepSeconds}{Second})) AS t)";

    private static string InBucket(long stepSeconds) => $"epoch_ns(c.time) >= g.t AND epoch_ns(c.time) < g.t + {stepSeconds}{Second}";

    private static string Hosts(string field, string where = "TRUE") => $"(SELECT DISTINCT host FROM lab.cpu c WHERE {field} IS NOT NULL AND {InRange} AND {where})";

    /// <summary>Per host (with the field in the range) and per bucket of the whole range: <paramref name="aggregate"/> of the bucket's rows.</summary>
    private static string PerHostAndBucket(string aggregate, string field, string interval, long step, string order = "g.t") =>
        $"SELECT 'cpu', h.host, g.t, (SELECT {aggregate} FROM lab.cpu c WHERE c.host = h.host AND {InBucket(step)} AND {InRange}) " +
        $"FROM {Hosts(field)} h, {Grid(T0, T0 + 590, interval, step)} g ORDER BY h.host, {order}";

    // Host b's gap (no rows from +200 s to +290 s) in 30 s buckets from +150 s to +330 s.
    private const string GapRange = "epoch_ns(c.time) BETWEEN 1700000150000000000 AND 1700000330000000000";

    private static string GapBuckets() =>
        $"SELECT g.t, (SELECT avg(usage) FROM lab.cpu c WHERE c.host = 'b' AND {InBucket(30)} AND {GapRange}) AS v FROM {Grid(T0 + 150, T0 + 330, "30 seconds", 30)} g";

    private static readonly Dictionary<string, Case> Cases = new()
    {
        // ---- Grafana's metadata queries (tests/Plexus.InfluxQL.Tests/GrafanaStatements.cs) ----
        ["SHOW MEASUREMENTS LIMIT 1"] = new([], ["name"],
            "SELECT 'measurements', table_name FROM information_schema.tables WHERE table_schema = 'lab' ORDER BY table_name LIMIT 1"),
        ["SHOW DATABASES"] = new([], ["name"],
            "SELECT 'databases', schema_name FROM information_schema.schemata WHERE catalog_name = current_database() AND schema_name NOT IN ('_plexus', 'information_schema', 'pg_catalog') ORDER BY schema_name"),
        ["SHOW RETENTION POLICIES on \"lab\""] = new([], ["name", "duration", "shardGroupDuration", "replicaN", "default"],
            "SELECT NULL, 'autogen', '0s', '168h0m0s', 1, true"),
        ["SHOW MEASUREMENTS LIMIT 100"] = new([], ["name"],
            "SELECT 'measurements', table_name FROM information_schema.tables WHERE table_schema = 'lab' ORDER BY table_name LIMIT 100"),
        ["SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)CPU/ LIMIT 100"] = new([], ["name"],
            "SELECT 'measurements', table_name FROM information_schema.tables WHERE table_schema = 'lab' AND regexp_matches(table_name, '(?i)CPU') ORDER BY table_name"),
        ["SHOW FIELD KEYS"] = new([], ["fieldKey", "fieldType"], FieldKeys("TRUE")),
        ["SHOW FIELD KEYS FROM \"cpu\""] = new([], ["fieldKey", "fieldType"], FieldKeys("table_name = 'cpu'")),
        ["SHOW FIELD KEYS FROM \"autogen\".\"cpu\""] = new([], ["fieldKey", "fieldType"], FieldKeys("table_name = 'cpu'")),
        ["SHOW TAG KEYS FROM \"cpu\""] = new([], ["tagKey"],
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'lab' AND table_name = 'cpu' AND column_name IN ('host', 'region') ORDER BY column_name"),
        ["SHOW TAG KEYS FROM \"cpu\" WHERE \"host\" = 'c'"] = new([], ["tagKey"],
            "SELECT 'cpu', k FROM (SELECT 'host' AS k WHERE EXISTS (SELECT 1 FROM lab.cpu WHERE host = 'c' AND host IS NOT NULL) " +
            "UNION ALL SELECT 'region' WHERE EXISTS (SELECT 1 FROM lab.cpu WHERE host = 'c' AND region IS NOT NULL)) ORDER BY k"),
        ["SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\""] = new([], ["key", "value"],
            "SELECT DISTINCT 'cpu', 'host', host FROM lab.cpu WHERE host IS NOT NULL ORDER BY host"),
        ["SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\" WHERE \"region\" = 'east' AND \"host\" =~ /^(a|b)$/"] = new([], ["key", "value"],
            "SELECT DISTINCT 'cpu', 'host', host FROM lab.cpu WHERE region = 'east' AND regexp_matches(host, '^(a|b)$') ORDER BY host"),
        ["SHOW TAG VALUES FROM /.*/ WITH KEY = \"host\""] = new([], ["key", "value"],
            "SELECT * FROM (SELECT DISTINCT 'cpu' AS m, 'host', host AS v FROM lab.cpu UNION ALL SELECT DISTINCT 'cpu_temp', 'host', host FROM lab.cpu_temp " +
            "UNION ALL SELECT DISTINCT 'disk,io', 'host', host FROM lab.\"disk,io\" UNION ALL SELECT DISTINCT 'mem', 'host', host FROM lab.mem) ORDER BY m, v"),
        ["SHOW TAG KEYS FROM \"cpu\" WHERE \"host\"::tag = 'a'"] = new([], ["tagKey"],
            "SELECT 'cpu', k FROM (VALUES ('host'), ('region')) t(k) WHERE EXISTS (SELECT 1 FROM lab.cpu WHERE host = 'a' AND region IS NOT NULL) ORDER BY k"),

        // ---- the rest of the SHOW statements ----
        ["SHOW SERIES FROM \"cpu\""] = new([], ["key"],
            "SELECT DISTINCT NULL, 'cpu' || coalesce(',host=' || host, '') || coalesce(',region=' || region, '') AS k FROM lab.cpu ORDER BY k"),
        ["SHOW SERIES WHERE \"host\" = 'a' LIMIT 3"] = new([], ["key"],
            "SELECT NULL, k FROM (VALUES ('cpu,host=a,region=east'), ('cpu_temp,host=a'), ('disk\\,io,host=a'), ('mem,host=a')) t(k) ORDER BY k LIMIT 3"),
        ["SHOW TAG VALUES WITH KEY IN (\"host\", \"region\") WHERE \"host\" != 'b'"] = new([], ["key", "value"],
            "SELECT * FROM (SELECT DISTINCT 'cpu' AS m, 'host' AS k, host AS v FROM lab.cpu WHERE host <> 'b' UNION ALL SELECT DISTINCT 'cpu', 'region', region FROM lab.cpu WHERE host <> 'b' AND region IS NOT NULL " +
            "UNION ALL SELECT DISTINCT 'cpu_temp', 'host', host FROM lab.cpu_temp UNION ALL SELECT DISTINCT 'disk,io', 'host', host FROM lab.\"disk,io\" " +
            "UNION ALL SELECT DISTINCT 'mem', 'host', host FROM lab.mem WHERE host <> 'b') ORDER BY m, k, v"),
        ["SHOW MEASUREMENTS WHERE \"host\" = 'b'"] = new([], ["name"],
            "SELECT 'measurements', m FROM (SELECT 'cpu' AS m WHERE EXISTS (SELECT 1 FROM lab.cpu WHERE host = 'b') UNION ALL SELECT 'mem' WHERE EXISTS (SELECT 1 FROM lab.mem WHERE host = 'b')) ORDER BY m"),
        ["SHOW FIELD KEYS ON lab2"] = new([], ["fieldKey", "fieldType"], "SELECT 'cpu', 'usage', 'float'"),

        // ---- Grafana's visual editor: SELECT … GROUP BY time(), fills, selectors, math, aliases ----
        [GrafanaStatements.Queries[0]] = new(["host"], ["time", "mean"],
            $"SELECT 'cpu', 'a', g.t, (SELECT avg(usage) FROM lab.cpu c WHERE c.host = 'a' AND {InBucket(10)} AND epoch_ns(c.time) BETWEEN 1700000000000000000 AND 1700000120000000000) " +
            $"FROM {Grid(T0, T0 + 120, "10 seconds", 10)} g ORDER BY g.t"),
        [GrafanaStatements.Queries[1]] = new(["host"], ["time", "mean"], PerHostAndBucket("avg(usage)", "usage", "1 minute", 60, "g.t DESC")),
        [GrafanaStatements.Queries[2]] = new(["host"], ["time", "mean"],
            $"SELECT * FROM ({PerHostAndBucket("avg(usage)", "usage", "1 minute", 60)}) QUALIFY row_number() OVER (PARTITION BY host ORDER BY t) <= 3 ORDER BY host, t"),
        [GrafanaStatements.Queries[3]] = new(["host"], ["time", "mean"],
            $"SELECT * FROM ({PerHostAndBucket("avg(usage)", "usage", "1 minute", 60)}) WHERE host IN ('a', 'b') ORDER BY host, t"),
        [GrafanaStatements.Queries[4]] = new([], ["time", "mean"],
            // One bucket: midnight of 2023-11-14 in Paris (UTC+1), where the whole range falls.
            $"SELECT 'cpu', epoch_ns(TIMESTAMPTZ '2023-11-14 00:00:00+01'), avg(usage) FROM lab.cpu c WHERE host = 'a' AND {InRange}"),
        [GrafanaStatements.Queries[5]] = new([], ["time", "mean"], $"SELECT 'cpu', t, v FROM ({GapBuckets()}) WHERE v IS NOT NULL ORDER BY t"),
        [GrafanaStatements.Queries[6]] = new([], ["time", "mean"], $"SELECT 'cpu', t, coalesce(v, 0) FROM ({GapBuckets()}) ORDER BY t"),
        [GrafanaStatements.Queries[7]] = new([], ["time", "mean"],
            $"WITH per AS ({GapBuckets()}) SELECT 'cpu', p.t, (SELECT q.v FROM per q WHERE q.t <= p.t AND q.v IS NOT NULL ORDER BY q.t DESC LIMIT 1) FROM per p ORDER BY p.t"),
        [GrafanaStatements.Queries[8]] = new([], ["time", "mean"],
            $"WITH per AS ({GapBuckets()}), around AS (SELECT p.t, p.v, " +
            "(SELECT q.t FROM per q WHERE q.t < p.t AND q.v IS NOT NULL ORDER BY q.t DESC LIMIT 1) AS t0, (SELECT q.t FROM per q WHERE q.t > p.t AND q.v IS NOT NULL ORDER BY q.t LIMIT 1) AS t1 FROM per p) " +
            "SELECT 'cpu', a.t, coalesce(a.v, (SELECT v FROM per WHERE t = a.t0) + ((SELECT v FROM per WHERE t = a.t1) - (SELECT v FROM per WHERE t = a.t0)) * (a.t - a.t0) / (a.t1 - a.t0)) FROM around a ORDER BY a.t"),
        [GrafanaStatements.Queries[9]] = new(["host"], ["time", "median"], PerHostAndBucket("median(usage)", "usage", "1 minute", 60)),
        [GrafanaStatements.Queries[10]] = new([], ["time", "count"],
            $"SELECT 'cpu', g.t, (SELECT count(usage) FROM lab.cpu c WHERE c.host = 'b' AND {InBucket(30)} AND {GapRange}) FROM {Grid(T0 + 150, T0 + 330, "30 seconds", 30)} g ORDER BY g.t"),
        [GrafanaStatements.Queries[11]] = new([], ["time", "sum"],
            $"SELECT 'cpu', g.t, (SELECT sum(load) FROM lab.cpu c WHERE {InBucket(60)} AND {InRange}) FROM {Grid(T0, T0 + 590, "1 minute", 60)} g ORDER BY g.t"),
        [GrafanaStatements.Queries[12]] = new(["host"], ["time", "min", "max"],
            $"SELECT 'cpu', h.host, g.t, (SELECT min(usage) FROM lab.cpu c WHERE c.host = h.host AND {InBucket(60)} AND {InRange}), (SELECT max(usage) FROM lab.cpu c WHERE c.host = h.host AND {InBucket(60)} AND {InRange}) " +
            $"FROM {Hosts("usage")} h, {Grid(T0, T0 + 590, "1 minute", 60)} g ORDER BY h.host, g.t"),
        [GrafanaStatements.Queries[13]] = new(["host"], ["time", "first", "last"],
            $"SELECT 'cpu', h.host, g.t, (SELECT usage FROM lab.cpu c WHERE c.host = h.host AND usage IS NOT NULL AND {InBucket(60)} AND {InRange} ORDER BY time LIMIT 1), " +
            $"(SELECT usage FROM lab.cpu c WHERE c.host = h.host AND usage IS NOT NULL AND {InBucket(60)} AND {InRange} ORDER BY time DESC LIMIT 1) " +
            $"FROM {Hosts("usage")} h, {Grid(T0, T0 + 590, "1 minute", 60)} g ORDER BY h.host, g.t"),
        [GrafanaStatements.Queries[14]] = new(["host"], ["time", "spread", "stddev"],
            $"SELECT 'cpu', h.host, g.t, (SELECT max(usage) - min(usage) FROM lab.cpu c WHERE c.host = h.host AND {InBucket(120)} AND {InRange}), (SELECT stddev_samp(usage) FROM lab.cpu c WHERE c.host = h.host AND {InBucket(120)} AND {InRange}) " +
            $"FROM {Hosts("usage")} h, {Grid(T0, T0 + 590, "2 minutes", 120)} g ORDER BY h.host, g.t"),
        [GrafanaStatements.Queries[15]] = new(["host"], ["time", "percentile"],
            // InfluxDB's nearest rank: the value at rank floor(n × 0.95 + 0.5) in increasing order.
            $"SELECT 'cpu', h.host, g.t, (SELECT usage FROM (SELECT usage, row_number() OVER (ORDER BY usage) AS r, count(*) OVER () AS n FROM lab.cpu c WHERE c.host = h.host AND usage IS NOT NULL AND {InBucket(120)} AND {InRange}) WHERE r = CAST(floor(n * 0.95 + 0.5) AS BIGINT)) " +
            $"FROM {Hosts("usage")} h, {Grid(T0, T0 + 590, "2 minutes", 120)} g ORDER BY h.host, g.t"),
        [GrafanaStatements.Queries[16]] = new([], ["time", "distinct"],
            $"SELECT DISTINCT 'cpu', epoch_ns(time_bucket(INTERVAL '5 minutes', c.time::TIMESTAMP, TIMESTAMP '1970-01-01')) AS t, status FROM lab.cpu c WHERE host = 'a' AND {InRange} ORDER BY t, status"),
        [GrafanaStatements.Queries[17]] = new(["host"], ["time", "mean"], PerHostAndBucket("avg(usage) * 8", "usage", "1 minute", 60)),
        [GrafanaStatements.Queries[18]] = new([], ["time", "avg", "peak"],
            $"SELECT 'cpu', g.t, (SELECT avg(usage) FROM lab.cpu c WHERE c.host = 'o''brien' AND {InBucket(60)} AND {InRange}), (SELECT max(usage) FROM lab.cpu c WHERE c.host = 'o''brien' AND {InBucket(60)} AND {InRange}) " +
            $"FROM {Grid(T0, T0 + 590, "1 minute", 60)} g ORDER BY g.t"),
        [GrafanaStatements.Queries[19]] = new(["host"], ["time", "mean"], "SELECT 1 WHERE false"),

        // ---- raw queries, conditions, GROUP BY tags, several measurements, other databases ----
        ["SELECT * FROM \"cpu\" WHERE \"host\" = 'a' AND time < 1700000030000ms"] = new([], ["time", "host", "load", "region", "status", "up", "usage"],
            "SELECT 'cpu', epoch_ns(time), host, load, region, status, up, usage FROM lab.cpu WHERE host = 'a' AND epoch_ns(time) < 1700000030000000000 ORDER BY time"),
        ["SELECT \"usage\", \"load\" FROM \"cpu\" WHERE usage > 10 AND load = 2 AND (status = 's1' OR up = true) AND host =~ /^[abc]$/ AND host !~ /c/ GROUP BY \"host\""] = new(["host"], ["time", "usage", "load"],
            "SELECT 'cpu', host, epoch_ns(time), usage, load FROM lab.cpu WHERE usage > 10 AND load = 2 AND (status = 's1' OR up) AND host IN ('a', 'b') ORDER BY host, time"),
        ["SELECT \"usage\" FROM \"cpu\" GROUP BY * LIMIT 1"] = new(["host", "region"], ["time", "usage"],
            "SELECT 'cpu', host, coalesce(region, ''), epoch_ns(time), usage FROM lab.cpu WHERE usage IS NOT NULL QUALIFY row_number() OVER (PARTITION BY host, region ORDER BY time) = 1 ORDER BY host, coalesce(region, '')"),
        ["SELECT \"usage\" FROM \"cpu\" WHERE \"region\" != 'east' AND \"host\" != 'b'"] = new([], ["time", "usage"],
            "SELECT 'cpu', epoch_ns(time), usage FROM lab.cpu WHERE host = 'c' AND usage IS NOT NULL ORDER BY time"),
        ["SELECT mean(*) FROM /^cpu/ WHERE time >= 1700000000000ms AND time <= 1700000590000ms"] = new([], ["time", "mean_load", "mean_temp", "mean_usage"],
            $"SELECT 'cpu', {T0}{Second}, avg(load), NULL, avg(usage) FROM lab.cpu c WHERE {InRange} UNION ALL SELECT 'cpu_temp', {T0}{Second}, NULL, avg(temp), NULL FROM lab.cpu_temp c WHERE {InRange} ORDER BY 1"),
        ["SELECT max(\"usage\") FROM \"lab2\".\"autogen\".\"cpu\""] = new([], ["time", "max"],
            "SELECT 'cpu', epoch_ns(time), usage FROM lab2.cpu ORDER BY usage DESC, time LIMIT 1"),
        ["SELECT count(\"usage\") FROM \"lab2\"..\"cpu\""] = new([], ["time", "count"], "SELECT 'cpu', 0, count(usage) FROM lab2.cpu"),
        ["SELECT last(\"usage\") FROM \"cpu\" WHERE time >= '2023-11-14T22:14:00Z' AND time < '2023-11-14T22:15:00Z' GROUP BY \"host\""] = new(["host"], ["time", "last"],
            "SELECT 'cpu', host, epoch_ns(time), usage FROM lab.cpu WHERE usage IS NOT NULL AND time >= TIMESTAMP '2023-11-14 22:14:00' AND time < TIMESTAMP '2023-11-14 22:15:00' " +
            "QUALIFY row_number() OVER (PARTITION BY host ORDER BY time DESC) = 1 ORDER BY host"),
        ["SELECT mean(\"usage\") FROM \"cpu\" WHERE time >= 1700000000000ms AND time <= 1700000590000ms GROUP BY time(1m), \"host\" fill(none) LIMIT 2 OFFSET 1 SLIMIT 1 SOFFSET 1"] = new(["host"], ["time", "mean"],
            $"SELECT * FROM ({PerHostAndBucket("avg(usage)", "usage", "1 minute", 60)}) WHERE host = 'b' AND t IN (1699999980{Second} + 60{Second}, 1699999980{Second} + 120{Second}) ORDER BY t"),
        ["SELECT mean(\"free\"), sum(\"free\"), spread(\"free\") FROM \"mem\" GROUP BY \"host\""] = new(["host"], ["time", "mean", "sum", "spread"],
            "SELECT 'mem', host, 0, avg(free), sum(free), max(free) - min(free) FROM lab.mem GROUP BY host ORDER BY host"),
        ["SELECT min(\"usage\") FROM \"cpu\" WHERE \"host\" = 'a'"] = new([], ["time", "min"],
            "SELECT 'cpu', epoch_ns(time), usage FROM lab.cpu WHERE host = 'a' ORDER BY usage, time LIMIT 1"),
        ["SELECT percentile(\"usage\", 50) FROM \"cpu\" WHERE \"host\" = 'a'"] = new([], ["time", "percentile"],
            "SELECT 'cpu', t, usage FROM (SELECT epoch_ns(time) AS t, usage, row_number() OVER (ORDER BY usage, time) AS r, count(*) OVER () AS n FROM lab.cpu WHERE host = 'a') WHERE r = CAST(floor(n * 0.5 + 0.5) AS BIGINT)"),
        ["SELECT \"read\" FROM \"disk,io\" WHERE time <= 1700000020000ms"] = new([], ["time", "read"],
            "SELECT 'disk,io', epoch_ns(time), read FROM lab.\"disk,io\" WHERE epoch_ns(time) <= 1700000020000000000 ORDER BY time"),
        ["SELECT \"usage\" * 2 + 1 AS \"u2\", round(\"usage\") FROM \"cpu\" WHERE \"host\" = 'c' AND time < 1700000050000ms"] = new([], ["time", "u2", "round"],
            "SELECT 'cpu', epoch_ns(time), usage * 2 + 1, round(usage) FROM lab.cpu WHERE host = 'c' AND usage IS NOT NULL AND epoch_ns(time) < 1700000050000000000 ORDER BY time"),
        ["SELECT count(\"temp\") FROM \"cpu_temp\" GROUP BY \"region\""] = new(["region"], ["time", "count"], "SELECT 'cpu_temp', '', 0, count(temp) FROM lab.cpu_temp"),
        ["SELECT \"usage\" FROM \"cpu\" WHERE \"host\" = 'b' ORDER BY time DESC LIMIT 3"] = new([], ["time", "usage"],
            "SELECT 'cpu', epoch_ns(time), usage FROM lab.cpu WHERE host = 'b' ORDER BY time DESC LIMIT 3"),
        ["SELECT count(distinct(\"status\")), count(\"status\") FROM \"cpu\" GROUP BY \"host\""] = new(["host"], ["time", "count", "count_1"],
            "SELECT 'cpu', host, 0, count(DISTINCT status), count(status) FROM lab.cpu WHERE status IS NOT NULL GROUP BY host ORDER BY host"),
        ["SELECT first(\"status\"), last(\"up\") FROM \"cpu\" WHERE \"host\" = 'c'"] = new([], ["time", "first", "last"],
            "SELECT 'cpu', 0, (SELECT status FROM lab.cpu WHERE host = 'c' AND status IS NOT NULL ORDER BY time LIMIT 1), (SELECT up FROM lab.cpu WHERE host = 'c' AND up IS NOT NULL ORDER BY time DESC LIMIT 1)"),
        ["SELECT \"usage\" FROM \"cpu\" WHERE time > now() - 1h"] = new([], ["time", "usage"], "SELECT 1 WHERE false"),
        ["SELECT \"usage\" FROM \"nothere\""] = new([], ["time", "usage"], "SELECT 1 WHERE false"),
    };

    private static string FieldKeys(string where) =>
        "SELECT table_name, column_name, CASE data_type WHEN 'DOUBLE' THEN 'float' WHEN 'BIGINT' THEN 'integer' WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' END " +
        $"FROM information_schema.columns WHERE table_schema = 'lab' AND column_name NOT IN ('time', 'host', 'region') AND {where} ORDER BY table_name, column_name";

    public static TheoryData<string> Statements()
    {
        var data = new TheoryData<string>();
        foreach (string statement in Cases.Keys)
        {
            data.Add(statement);
        }

        return data;
    }

    [Fact]
    public void Corpus_holds_every_statement_Grafana_sends()
    {
        foreach (string statement in GrafanaStatements.Metadata.Concat(GrafanaStatements.Queries))
        {
            Assert.True(Cases.ContainsKey(statement), $"no corpus case for Grafana's {statement}");
        }
    }

    [Theory]
    [MemberData(nameof(Statements))]
    public async Task Statement_answers_what_SQL_computes_over_the_same_data(string statement)
    {
        var expectedCase = Cases[statement];
        var answer = await lab.QueryAsync(statement, expectedCase.Db);
        var result = Assert.Single(answer.GetProperty("results").EnumerateArray());
        Assert.False(result.TryGetProperty("error", out var error), $"error: {error}");
        Assert.Equal(0, result.GetProperty("statement_id").GetInt32());

        var actual = new List<List<JsonElement>>();
        if (result.TryGetProperty("series", out var series))
        {
            foreach (var one in series.EnumerateArray())
            {
                Assert.Equal(expectedCase.Columns, one.GetProperty("columns").EnumerateArray().Select(c => c.GetString()));
                var tags = one.TryGetProperty("tags", out var tagObject) ? tagObject.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()) : [];
                Assert.Equal(expectedCase.Tags.Order(StringComparer.Ordinal), tags.Keys.Order(StringComparer.Ordinal));
                foreach (var values in one.GetProperty("values").EnumerateArray())
                {
                    var row = new List<JsonElement> { one.TryGetProperty("name", out var name) ? name : default };
                    row.AddRange(expectedCase.Tags.Select(t => JsonSerializer.SerializeToElement(tags[t])));
                    row.AddRange(values.EnumerateArray());
                    actual.Add(row);
                }
            }
        }

        var expected = expectedCase.Sql.StartsWith("SELECT 1 WHERE false", StringComparison.Ordinal) ? [] : await lab.Server.RowsAsync(expectedCase.Sql);
        Assert.True(expected.Count == actual.Count, $"{statement}\nexpected {expected.Count} rows, got {actual.Count}:\n{Show(expected)}\n---\n{Show(actual)}");
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Count == actual[i].Count, $"row {i}: expected {Show([expected[i]])}, got {Show([actual[i]])}");
            for (int j = 0; j < expected[i].Count; j++)
            {
                Assert.True(Same(expected[i][j], actual[i][j]), $"{statement}\nrow {i}, value {j}: expected {Show([expected[i]])}, got {Show([actual[i]])}\nall expected:\n{Show(expected)}\nall actual:\n{Show(actual)}");
            }
        }
    }

    [Fact]
    public async Task Corpus_covers_a_non_trivial_number_of_rows()
    {
        // A corpus whose expectations were all empty would pass against a server that answers nothing.
        int nonEmpty = 0;
        foreach (var (statement, expectedCase) in Cases)
        {
            if (!expectedCase.Sql.StartsWith("SELECT 1 WHERE false", StringComparison.Ordinal) && (await lab.Server.RowsAsync(expectedCase.Sql, expectedCase.Db)).Count > 0)
            {
                nonEmpty++;
            }
        }

        Assert.True(nonEmpty >= Cases.Count - 4, $"{nonEmpty} of {Cases.Count} statements expect rows");
    }

    private static bool Same(JsonElement expected, JsonElement actual)
    {
        if (expected.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return actual.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;
        }

        if (expected.ValueKind == JsonValueKind.Number && actual.ValueKind == JsonValueKind.Number)
        {
            if (expected.TryGetInt64(out long a) && actual.TryGetInt64(out long b))
            {
                return a == b;
            }

            double x = expected.GetDouble(), y = actual.GetDouble();
            return Math.Abs(x - y) <= 1e-9 * Math.Max(1, Math.Abs(x));
        }

        return expected.ValueKind == actual.ValueKind && expected.ToString() == actual.ToString();
    }

    private static string Show(List<List<JsonElement>> rows) =>
        string.Join("\n", rows.Select(r => "[" + string.Join(", ", r.Select(v => v.ValueKind == JsonValueKind.Undefined ? "null" : v.GetRawText())) + "]"));

    internal static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
