using Plexus.InfluxQL.Syntax;
using Plexus.InfluxQL.Translation;

namespace Plexus.InfluxQL.Tests.Translation;

public sealed class MetaTranslatorTests
{
    private static TranslatedStatement Translate(string text)
    {
        var lab = new InfluxDatabase("lab", exists: true);
        var cpu = lab.GetOrAdd(7, "cpu,x");
        cpu.AddTag("host");
        cpu.AddField("usage", InfluxFieldType.Float);
        cpu.AddField("count", InfluxFieldType.Unsigned);
        cpu.AddField("ok", InfluxFieldType.Boolean);
        var context = new TranslationContext("lab", new Dictionary<string, InfluxDatabase> { ["lab"] = lab }, 0, 1000);
        return MetaTranslator.Translate(Assert.Single(InfluxQLParser.Parse(text)), context);
    }

    [Fact]
    public void Field_keys_carry_InfluxDB_type_names()
    {
        var translated = Translate("SHOW FIELD KEYS");
        Assert.Equal(["fieldKey", "fieldType"], translated.Shape.Columns);
        Assert.Contains("('cpu,x', 'count', 'unsigned', 0), ('cpu,x', 'ok', 'boolean', 1), ('cpu,x', 'usage', 'float', 2)", translated.Sql!, StringComparison.Ordinal);
    }

    [Fact]
    public void Series_keys_escape_the_measurement_and_tag_values_as_line_protocol_does()
    {
        string sql = Translate("SHOW SERIES WHERE host =~ /a/").Sql!;
        Assert.Contains("'cpu\\,x' || CASE WHEN \"host\" IS NULL THEN '' ELSE ',host=' || replace(replace(replace(\"host\", ',', '\\,'), '=', '\\='), ' ', '\\ ') END", sql, StringComparison.Ordinal);
        Assert.Contains("FROM _plexus.s7 WHERE regexp_matches(coalesce(\"host\", ''), 'a')", sql, StringComparison.Ordinal);
    }

    [Fact]
    public void Tag_conditions_of_show_statements_refuse_fields()
    {
        var error = Assert.Throws<StatementException>(() => Translate("SHOW TAG VALUES WITH KEY = host WHERE usage > 1"));
        Assert.Equal("SHOW TAG VALUES can filter on tags only, and \"usage\" is a field of \"cpu,x\"", error.Message);
    }

    [Fact]
    public void Retention_policies_of_an_unknown_database_are_an_error()
    {
        var error = Assert.Throws<StatementException>(() => Translate("SHOW RETENTION POLICIES ON nothere"));
        Assert.Equal("database not found: nothere", error.Message);
    }

    [Fact]
    public void Measurements_filtered_to_none_run_no_SQL()
    {
        Assert.Null(Translate("SHOW MEASUREMENTS WITH MEASUREMENT =~ /^mem/").Sql);
        Assert.Null(Translate("SHOW TAG VALUES FROM nothere WITH KEY = host").Sql);
    }
}
