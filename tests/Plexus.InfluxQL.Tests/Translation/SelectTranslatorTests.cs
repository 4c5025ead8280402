using Plexus.InfluxQL.Syntax;
using Plexus.InfluxQL.Translation;

namespace Plexus.InfluxQL.Tests.Translation;

/// <summary>
/// What the translation decides without running anything: column names, series keys, errors, and that names and values
/// reach the SQL only quoted. What the SQL answers is checked against real data by the server's InfluxQL corpus.
/// </summary>
public sealed class SelectTranslatorTests
{
    private const long Now = 1_700_000_000_000_000_000;

    private static TranslationContext Context(int maxBuckets = 100_000)
    {
        var lab = new InfluxDatabase("lab", exists: true);
        var cpu = lab.GetOrAdd(1, "cpu");
        cpu.AddTag("host");
        cpu.AddTag("region");
        cpu.AddField("usage", InfluxFieldType.Float);
        cpu.AddField("load", InfluxFieldType.Integer);
        cpu.AddField("status", InfluxFieldType.String);
        var temp = lab.GetOrAdd(2, "cpu_temp");
        temp.AddTag("host");
        temp.AddField("temp", InfluxFieldType.Float);
        var odd = lab.GetOrAdd(3, "we\"ird'one");
        odd.AddTag("ta\"g");
        odd.AddField("fi'eld", InfluxFieldType.Float);
        var databases = new Dictionary<string, InfluxDatabase> { ["lab"] = lab, ["empty"] = new("empty", exists: false) };
        return new TranslationContext("lab", databases, Now, maxBuckets);
    }

    private static TranslatedStatement Translate(string text, int maxBuckets = 100_000) =>
        SelectTranslator.Translate(Assert.IsType<SelectStatement>(Assert.Single(InfluxQLParser.Parse(text))), Context(maxBuckets));

    private static string Error(string text, int maxBuckets = 100_000) =>
        Assert.Throws<StatementException>(() => Translate(text, maxBuckets)).Message;

    [Theory]
    [InlineData("SELECT mean(usage), mean(usage) FROM cpu", new[] { "time", "mean", "mean_1" })]
    [InlineData("SELECT mean(usage) AS mean, max(usage) AS mean_1, min(usage) FROM cpu", new[] { "time", "mean", "mean_1", "min" })]
    [InlineData("SELECT mean(usage) + mean(load) FROM cpu", new[] { "time", "mean_mean" })]
    [InlineData("SELECT mean(usage) * 8 FROM cpu", new[] { "time", "mean" })]
    [InlineData("SELECT usage * 2, usage FROM cpu", new[] { "time", "usage", "usage_1" })]
    [InlineData("SELECT percentile(usage, 95), count(distinct(status)) FROM cpu", new[] { "time", "percentile", "count" })]
    [InlineData("SELECT mean(*) FROM cpu", new[] { "time", "mean_load", "mean_usage" })]
    [InlineData("SELECT count(/u/) FROM cpu", new[] { "time", "count_status", "count_usage" })]
    [InlineData("SELECT * FROM cpu", new[] { "time", "host", "load", "region", "status", "usage" })]
    [InlineData("SELECT * FROM cpu GROUP BY host", new[] { "time", "load", "region", "status", "usage" })]
    [InlineData("SELECT *::field FROM cpu", new[] { "time", "load", "status", "usage" })]
    [InlineData("SELECT time, usage FROM cpu", new[] { "time", "usage" })]
    public void Columns_are_named_as_InfluxDB_names_them(string text, string[] columns)
    {
        Assert.Equal(columns, Translate(text).Shape.Columns);
    }

    [Theory]
    [InlineData("SELECT mean(usage) FROM cpu GROUP BY region, host", new[] { "host", "region" })]
    [InlineData("SELECT mean(usage) FROM cpu GROUP BY *", new[] { "host", "region" })]
    [InlineData("SELECT mean(usage) FROM cpu GROUP BY /^h/", new[] { "host" })]
    [InlineData("SELECT mean(usage) FROM cpu GROUP BY time(1m), nothere", new[] { "nothere" })]
    public void Series_are_keyed_by_the_group_by_tags_in_name_order(string text, string[] tags)
    {
        Assert.Equal(tags, Translate(text).Shape.TagKeys);
    }

    [Theory]
    [InlineData("SELECT mean(usage), usage FROM cpu", "mixing aggregate and non-aggregate queries is not supported")]
    [InlineData("SELECT usage FROM cpu GROUP BY time(1m)", "GROUP BY requires at least one aggregate function")]
    [InlineData("SELECT distinct(status), mean(usage) FROM cpu", "aggregate function distinct() cannot be combined with other functions or fields")]
    [InlineData("SELECT mean(usage) FROM cpu WHERE time > now() - 1h OR host = 'a'", "time conditions can only be joined")]
    [InlineData("SELECT mean(usage) FROM cpu WHERE time != 0", "time can be compared with =, <, <=, > and >= only")]
    [InlineData("SELECT derivative(mean(usage), 1s) FROM cpu GROUP BY time(1m)", "derivative() is not supported by Plexus's InfluxQL; compute it with SQL on POST /api/v1/sql")]
    [InlineData("SELECT frobnicate(usage) FROM cpu", "undefined function frobnicate()")]
    [InlineData("SELECT mean(max(usage)) FROM cpu", "mean() cannot take another aggregate")]
    [InlineData("SELECT percentile(usage) FROM cpu", "percentile() takes a field and a number")]
    [InlineData("SELECT mean(usage) FROM lab2..cpu", "database not found: lab2")]
    [InlineData("SELECT mean(usage) FROM \"empty\"..cpu", "database not found: empty")]
    [InlineData("SELECT mean(usage) FROM cpu tz('Mars/Olympus')", "unable to find time zone Mars/Olympus")]
    [InlineData("SELECT mean(usage) FROM cpu WHERE time > 'yesterday'", "'yesterday' is not a time InfluxQL reads")]
    [InlineData("SELECT time FROM cpu", "at least 1 non-time field must be queried")]
    [InlineData("SELECT mean(usage) FROM /[/", "/[/ is not a valid regex")]
    public void Statement_that_cannot_be_answered_says_why(string text, string message)
    {
        Assert.Contains(message, Error(text), StringComparison.Ordinal);
    }

    [Fact]
    public void Group_by_time_with_more_buckets_than_an_answer_holds_is_refused_before_running()
    {
        string message = Error("SELECT mean(usage) FROM cpu WHERE time >= now() - 1h GROUP BY time(1s)", maxBuckets: 1000);
        Assert.Contains("3601 buckets per series, more than the 1000 rows an answer may hold (--query-max-rows)", message, StringComparison.Ordinal);
        Assert.NotNull(Translate("SELECT mean(usage) FROM cpu WHERE time >= now() - 1h GROUP BY time(1s) fill(none)", maxBuckets: 1000).Sql);
    }

    [Fact]
    public void Group_by_time_without_a_start_checks_the_bucket_count_in_the_engine()
    {
        string sql = Translate("SELECT mean(usage) FROM cpu GROUP BY time(1s)", maxBuckets: 1000).Sql!;
        Assert.Contains("error('GROUP BY time(1s) from the first point", sql, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("SELECT usage FROM nothere")]
    [InlineData("SELECT usage FROM /^zzz/")]
    [InlineData("SELECT usage FROM cpu WHERE time > 10 AND time < 5")]
    [InlineData("SELECT host FROM cpu")]
    [InlineData("SELECT nothere FROM cpu")]
    public void Statement_that_selects_nothing_runs_no_SQL(string text)
    {
        Assert.Null(Translate(text).Sql);
    }

    [Fact]
    public void Names_and_values_reach_the_SQL_only_quoted()
    {
        string sql = Translate("SELECT mean(\"fi'eld\") FROM \"we\\\"ird'one\" WHERE \"ta\\\"g\" = 'x\\'); DROP TABLE y; --' AND \"ta\\\"g\" =~ /a'b/ GROUP BY \"ta\\\"g\"").Sql!;

        Assert.Contains("FROM \"lab\".\"we\"\"ird'one\"", sql, StringComparison.Ordinal);
        Assert.Contains("\"fi'eld\"", sql, StringComparison.Ordinal);
        Assert.Contains("coalesce(\"ta\"\"g\", '') = 'x''); DROP TABLE y; --'", sql, StringComparison.Ordinal);
        Assert.Contains("regexp_matches(coalesce(\"ta\"\"g\", ''), 'a''b')", sql, StringComparison.Ordinal);
        Assert.Contains("SELECT 'we\"ird''one' AS __name", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Tag_conditions_treat_a_missing_tag_as_the_empty_string()
    {
        string sql = Translate("SELECT usage FROM cpu WHERE nothere = '' AND host != 'a' AND usage > 1").Sql!;
        Assert.Contains("('' = '')", sql, StringComparison.Ordinal);
        Assert.Contains("(coalesce(\"host\", '') <> 'a')", sql, StringComparison.Ordinal);
        Assert.Contains("(\"usage\" > 1)", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Comparison_of_a_tag_with_a_number_matches_nothing_instead_of_failing()
    {
        string sql = Translate("SELECT usage FROM cpu WHERE host = 5 OR status > 1").Sql!;
        Assert.Contains("(FALSE OR FALSE)", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Time_range_becomes_bounds_on_the_time_column()
    {
        string sql = Translate("SELECT usage FROM cpu WHERE time > '2023-11-14T22:13:20Z' AND time <= now() + 1h").Sql!;
        Assert.Contains("\"time\" >= make_timestamp_ns(1700000000000000001)", sql, StringComparison.Ordinal);
        Assert.Contains("\"time\" <= make_timestamp_ns(1700003600000000000)", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Single_selector_without_group_by_time_takes_the_time_of_its_point()
    {
        Assert.Contains("struct_extract(min(struct_pack(v := __f0, t := __ns))", Translate("SELECT min(usage) FROM cpu").Sql!, StringComparison.Ordinal);
        Assert.DoesNotContain("struct_pack", Translate("SELECT min(usage), max(usage) FROM cpu").Sql!, StringComparison.Ordinal);
    }
}
