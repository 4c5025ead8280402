using System.Text;
using Plexus.Core;
using Plexus.Storage.Deleting;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Tests.Deleting;

public sealed class TagPredicateTests
{
    private static MeasurementSchema Readings()
    {
        var measurement = new MeasurementSchema(1, "main", "readings");
        measurement.AddTag("device");
        measurement.AddTag("site");
        measurement.AddTag("odd\"name");
        measurement.AddField("temp", FieldType.Float);
        return measurement;
    }

    private static (string Sql, List<object?> Parameters) Sql(string text)
    {
        Assert.True(TagPredicate.TryParse(text, out var predicate, out string? error), error);
        var sql = new StringBuilder();
        var parameters = new List<object?>();
        predicate!.AppendSql(sql, parameters, Readings());
        return (sql.ToString(), parameters);
    }

    [Theory]
    [InlineData("device = 'a'", "s.\"device\" = $1", new[] { "a" })]
    [InlineData("device != 'a'", "(s.\"device\" IS DISTINCT FROM $1)", new[] { "a" })]
    [InlineData("device <> 'a'", "(s.\"device\" IS DISTINCT FROM $1)", new[] { "a" })]
    [InlineData("device IN ('a', 'b')", "s.\"device\" IN ($1, $2)", new[] { "a", "b" })]
    [InlineData("device not in ('a','b')", "(s.\"device\" IS NULL OR s.\"device\" NOT IN ($1, $2))", new[] { "a", "b" })]
    [InlineData("device = 'a' AND site = 'x' OR site = 'y'", "((s.\"device\" = $1 AND s.\"site\" = $2) OR s.\"site\" = $3)", new[] { "a", "x", "y" })]
    [InlineData("device = 'a' and (site = 'x' or site = 'y')", "(s.\"device\" = $1 AND (s.\"site\" = $2 OR s.\"site\" = $3))", new[] { "a", "x", "y" })]
    [InlineData("\"odd\"\"name\" = 'it''s'", "s.\"odd\"\"name\" = $1", new[] { "it's" })]
    public void Predicate_becomes_sql_with_quoted_columns_and_bound_values(string text, string expected, string[] values)
    {
        var (sql, parameters) = Sql(text);

        Assert.Equal(expected, sql);
        Assert.Equal(values, parameters.Cast<string>());
    }

    [Theory]
    [InlineData("device = 'a'; DROP TABLE x", "position 12")]
    [InlineData("device = 'a' -- comment", "position 13")]
    [InlineData("device = 'a' OR 1=1", "a tag name")]
    [InlineData("device = lower('A')", "a value in single quotes")]
    [InlineData("device = 1", "a value in single quotes")]
    [InlineData("device LIKE 'a%'", "'=', '!=', '<>', IN or NOT IN")]
    [InlineData("device > 'a'", "'=', '!=', '<>', IN or NOT IN")]
    [InlineData("device = 'a", "not closed")]
    [InlineData("(device = 'a'", "')'")]
    [InlineData("device = 'a')", "a ')' without its '('")]
    [InlineData("device IN ()", "a value in single quotes")]
    [InlineData("", "ends where a tag name")]
    [InlineData("and = 'a'", "not the keyword AND")]
    [InlineData("device = 'a' /* x */", "position 13")]
    public void Anything_outside_the_grammar_is_refused_with_where(string text, string expected)
    {
        Assert.False(TagPredicate.TryParse(text, out var predicate, out string? error));
        Assert.Null(predicate);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Nesting_past_the_limit_is_refused()
    {
        string text = new string('(', TagPredicate.MaxDepth + 1) + "device = 'a'" + new string(')', TagPredicate.MaxDepth + 1);

        Assert.False(TagPredicate.TryParse(text, out _, out string? error));
        Assert.Contains($"deeper than {TagPredicate.MaxDepth}", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_longer_than_the_limit_is_refused()
    {
        string text = "device = '" + new string('a', TagPredicate.MaxLength) + "'";

        Assert.False(TagPredicate.TryParse(text, out _, out string? error));
        Assert.Contains($"at most {TagPredicate.MaxLength}", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("truck = 'a'", "unknown tag \"truck\" in measurement main.readings; its tags are device, site, odd\"name")]
    [InlineData("temp = 'a'", "\"temp\" is a field; --where filters on tags only")]
    [InlineData("time = 'a'", "use --from and --to for time")]
    public void Unknown_tag_is_named_with_the_tags_there_are(string text, string expected)
    {
        Assert.True(TagPredicate.TryParse(text, out var predicate, out _));

        var error = Assert.Throws<DeletePredicateException>(() => predicate!.AppendSql(new StringBuilder(), [], Readings()));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }
}
