using Plexus.InfluxQL.Syntax;

namespace Plexus.InfluxQL.Tests.Syntax;

public sealed class InfluxQLParserTests
{
    public static TheoryData<string> Grafana()
    {
        var data = new TheoryData<string>();
        foreach (string statement in GrafanaStatements.Metadata.Concat(GrafanaStatements.Queries))
        {
            data.Add(statement);
        }

        return data;
    }

    private static SelectStatement Select(string text) => Assert.IsType<SelectStatement>(Assert.Single(InfluxQLParser.Parse(text)));

    [Theory]
    [MemberData(nameof(Grafana))]
    public void Every_statement_Grafana_sends_parses(string text)
    {
        var statement = Assert.Single(InfluxQLParser.Parse(text));
        Assert.IsNotType<UnsupportedStatement>(statement);
        Assert.Equal(text, statement.Text);
    }

    [Fact]
    public void Grafana_default_query_is_read_into_its_parts()
    {
        var select = Select("SELECT mean(\"value\") FROM \"cpu\" WHERE (\"host\" = 'a') AND time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s), \"host\" fill(null)");

        var call = Assert.IsType<Call>(Assert.Single(select.Fields).Expr);
        Assert.Equal("mean", call.Name);
        Assert.Equal(new VarRef("value"), Assert.Single(call.Args));
        Assert.Equal(new MeasurementSource(null, null, "cpu", null), Assert.Single(select.Sources));
        Assert.Equal(new GroupByTime(10_000_000_000, 0), select.Interval);
        Assert.Equal(new TagDimension("host"), Assert.Single(select.Dimensions));
        Assert.Equal(new Fill(FillKind.Null, Explicit: true), select.Fill);
        var and = Assert.IsType<BinaryExpr>(select.Condition);
        Assert.Equal(BinaryOperator.And, and.Operator);
    }

    [Fact]
    public void Clauses_after_group_by_are_read_in_InfluxQL_order()
    {
        var select = Select("SELECT max(v) FROM m GROUP BY time(1h, -15m) fill(-1.5) ORDER BY time DESC LIMIT 5 OFFSET 2 SLIMIT 3 SOFFSET 1 tz('Europe/Paris')");

        Assert.Equal(new GroupByTime(3_600_000_000_000, -900_000_000_000), select.Interval);
        Assert.Equal(new Fill(FillKind.Number, -1.5, Explicit: true), select.Fill);
        Assert.True(select.Descending);
        Assert.Equal((5L, 2L, 3L, 1L), (select.Limit, select.Offset, select.SeriesLimit, select.SeriesOffset));
        Assert.Equal("Europe/Paris", select.TimeZone);
    }

    [Theory]
    [InlineData("\"db\".\"rp\".\"m\"", "db", "rp", "m", null)]
    [InlineData("\"rp\".\"m\"", null, "rp", "m", null)]
    [InlineData("\"db\"..\"m\"", "db", null, "m", null)]
    [InlineData("m", null, null, "m", null)]
    [InlineData("/cpu.*/", null, null, null, "cpu.*")]
    [InlineData("\"db\".\"rp\"./cpu/", "db", "rp", null, "cpu")]
    public void Measurement_sources_take_a_database_and_a_retention_policy(string from, string? db, string? rp, string? name, string? regex)
    {
        var select = Select($"SELECT v FROM {from}");
        Assert.Equal(new MeasurementSource(db, rp, name, regex), Assert.Single(select.Sources));
    }

    [Fact]
    public void Type_suffixes_tell_tags_from_fields()
    {
        var select = Select("SELECT \"v\"::field FROM m WHERE \"host\"::tag = 'a' GROUP BY \"host\"::tag");
        Assert.Equal(new VarRef("v", NameKind.Field), select.Fields[0].Expr);
        var condition = Assert.IsType<BinaryExpr>(select.Condition);
        Assert.Equal(new VarRef("host", NameKind.Tag), condition.Left);
    }

    [Fact]
    public void Arithmetic_binds_tighter_than_comparison_and_AND_tighter_than_OR()
    {
        var expr = InfluxQLParser.ParseExpression("a = 1 OR b + 2 * 3 > 4 AND c = 'x'");
        var or = Assert.IsType<BinaryExpr>(expr);
        Assert.Equal(BinaryOperator.Or, or.Operator);
        var and = Assert.IsType<BinaryExpr>(or.Right);
        Assert.Equal(BinaryOperator.And, and.Operator);
        var greater = Assert.IsType<BinaryExpr>(and.Left);
        var sum = Assert.IsType<BinaryExpr>(greater.Left);
        Assert.Equal(BinaryOperator.Add, sum.Operator);
        Assert.Equal(BinaryOperator.Multiply, Assert.IsType<BinaryExpr>(sum.Right).Operator);
    }

    [Fact]
    public void Syntax_error_names_what_was_found_what_was_expected_and_where()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => InfluxQLParser.Parse("SELECT mean(value) FORM cpu"));
        Assert.Equal("found FORM, expected FROM at line 1, char 20", error.Message);
        Assert.Equal(19, error.Position);
    }

    [Fact]
    public void Syntax_error_on_a_later_line_counts_lines()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => InfluxQLParser.Parse("SHOW DATABASES;\nSELECT v FROM m WHERE"));
        Assert.Equal("found EOF, expected a field, a tag, a function call or a value at line 2, char 22", error.Message);
    }

    [Fact]
    public void Keyword_as_a_bare_name_is_refused_with_the_way_to_quote_it()
    {
        var error = Assert.Throws<InfluxQLSyntaxException>(() => InfluxQLParser.Parse("SELECT v FROM m GROUP BY name"));
        Assert.Contains("quote it as \"name\"", error.Message, StringComparison.Ordinal);
        Assert.Equal(new TagDimension("name"), Assert.Single(Select("SELECT v FROM m GROUP BY \"name\"").Dimensions));
    }

    [Fact]
    public void Unsupported_statements_are_named_and_the_next_statement_still_parses()
    {
        var statements = InfluxQLParser.Parse("SHOW USERS; SELECT v INTO other FROM m; SELECT * FROM (SELECT v FROM m); SHOW DATABASES");

        Assert.Equal(4, statements.Count);
        Assert.Equal("SHOW USERS", Assert.IsType<UnsupportedStatement>(statements[0]).What);
        Assert.Equal("SELECT … INTO", Assert.IsType<UnsupportedStatement>(statements[1]).What);
        Assert.Equal("a subquery", Assert.IsType<UnsupportedStatement>(statements[2]).What);
        Assert.IsType<ShowDatabasesStatement>(statements[3]);
    }

    [Theory]
    [InlineData("DROP SERIES FROM cpu WHERE host = 'a'", "DROP SERIES")]
    [InlineData("DROP SHARD 1", "DROP SHARD")]
    public void Deletes_plexus_does_not_have_are_recognised(string text, string what)
    {
        Assert.Equal(what, Assert.IsType<DeleteStatement>(Assert.Single(InfluxQLParser.Parse(text))).What);
    }

    [Fact]
    public void Drop_measurement_drop_database_and_delete_are_parsed()
    {
        var statements = InfluxQLParser.Parse("DROP MEASUREMENT \"cpu load\"; DROP DATABASE lab; DELETE FROM lab..cpu WHERE time < '2020-01-01' AND host = 'a'; DELETE WHERE time < now() - 30d");

        Assert.Equal("cpu load", Assert.IsType<DropMeasurementStatement>(statements[0]).Name);
        Assert.Equal("lab", Assert.IsType<DropDatabaseStatement>(statements[1]).Name);
        var delete = Assert.IsType<DeleteDataStatement>(statements[2]);
        Assert.Equal(("lab", "cpu"), (delete.Source!.Database, delete.Source.Name));
        Assert.NotNull(delete.Condition);
        Assert.Null(Assert.IsType<DeleteDataStatement>(statements[3]).Source);
        Assert.Throws<InfluxQLSyntaxException>(() => InfluxQLParser.Parse("DELETE"));
    }

    [Fact]
    public void Show_tag_values_reads_every_form_of_with_key()
    {
        var equal = Assert.IsType<ShowTagValuesStatement>(Assert.Single(InfluxQLParser.Parse("SHOW TAG VALUES FROM cpu WITH KEY = \"host\" WHERE region = 'x' LIMIT 2")));
        Assert.Equal(["host"], equal.Key.Names);
        Assert.Equal(2, equal.Limit);
        var list = Assert.IsType<ShowTagValuesStatement>(Assert.Single(InfluxQLParser.Parse("SHOW TAG VALUES WITH KEY IN (\"host\", \"region\")")));
        Assert.Equal(["host", "region"], list.Key.Names);
        var regex = Assert.IsType<ShowTagValuesStatement>(Assert.Single(InfluxQLParser.Parse("SHOW TAG VALUES ON lab WITH KEY =~ /ho.*/")));
        Assert.Equal("ho.*", regex.Key.Regex);
        Assert.Equal("lab", regex.Database);
    }

    [Fact]
    public void Create_database_takes_a_name_and_refuses_options()
    {
        Assert.Equal("lab", Assert.IsType<CreateDatabaseStatement>(Assert.Single(InfluxQLParser.Parse("CREATE DATABASE \"lab\""))).Name);
        Assert.IsType<UnsupportedStatement>(Assert.Single(InfluxQLParser.Parse("CREATE DATABASE lab WITH DURATION 1d")));
    }

    [Fact]
    public void Empty_query_is_a_syntax_error()
    {
        Assert.Throws<InfluxQLSyntaxException>(() => InfluxQLParser.Parse(" ; ;"));
    }

    [Fact]
    public void Distinct_keyword_form_is_the_distinct_call()
    {
        var call = Assert.IsType<Call>(Select("SELECT DISTINCT status FROM m").Fields[0].Expr);
        Assert.Equal("distinct", call.Name);
        var nested = Assert.IsType<Call>(Select("SELECT count(distinct(status)) FROM m").Fields[0].Expr);
        Assert.Equal("distinct", Assert.IsType<Call>(nested.Args[0]).Name);
    }
}
