using Plexus.Devices;
using Plexus.Geo;
using Plexus.Rules.Expressions;
using Plexus.TestKit;

namespace Plexus.Rules.Tests.Expressions;

public sealed class RuleCompilerTests
{
    private static readonly RuleSymbols Symbols = new();

    private sealed class FakeState : IRuleStateSource
    {
        public Dictionary<string, (ReportedKind Kind, string Value, double? Number)> Reported { get; } = [];

        public (double Lat, double Lon)? Position { get; set; }

        public bool TryGetReported(string device, string property, out ReportedKind kind, out string value, out double? number)
        {
            bool found = Reported.TryGetValue(property, out var entry);
            (kind, value, number) = found ? entry : (ReportedKind.Null, string.Empty, null);
            return found;
        }

        public bool TryGetPosition(string device, out double lat, out double lon)
        {
            (lat, lon) = Position ?? (0, 0);
            return Position is not null;
        }
    }

    private static RuleRow Row(RuleDevice? device = null)
    {
        var batch = new PointBuilder()
            .Point("telemetry", 1_000, [("device", "f1"), ("site", "north")], ("temperature", 82.5), ("count", 7L), ("door", true), ("mode", "eco"), ("big", 3UL))
            .Batch;
        var row = new RuleRow(Symbols);
        row.Bind(batch, 0, device);
        return row;
    }

    private static string Evaluate(string expression, RuleDevice? device = null, RuleCompileOptions? options = null)
    {
        var compiled = RuleCompiler.Compile(expression, options ?? new RuleCompileOptions { Symbols = Symbols });
        var row = Row(device);
        return row.Describe(compiled.Evaluate(row));
    }

    [Theory]
    [InlineData("temperature > 80", "true")]
    [InlineData("temperature > 80 AND count = 7", "true")]
    [InlineData("temperature < 80 OR NOT door", "false")]
    [InlineData("TEMPERATURE >= 82.5", "true")]
    [InlineData("temperature * 2 - 5", "160")]
    [InlineData("count / 2", "3.5")]
    [InlineData("count % 4", "3")]
    [InlineData("count / 0", "NULL")]
    [InlineData("-count + big", "-4")]
    [InlineData("site = 'north'", "true")]
    [InlineData("site <> 'south' AND site != 'east'", "true")]
    [InlineData("site IN ('south', 'north')", "true")]
    [InlineData("site NOT IN ('south', 'north')", "false")]
    [InlineData("count IN (1, 2)", "false")]
    [InlineData("count IN (1, NULL)", "NULL")]
    [InlineData("temperature BETWEEN 80 AND 85", "true")]
    [InlineData("temperature NOT BETWEEN 80 AND 85", "false")]
    [InlineData("missing IS NULL", "true")]
    [InlineData("temperature IS NOT NULL", "true")]
    [InlineData("missing > 3", "NULL")]
    [InlineData("missing > 3 AND false", "false")]
    [InlineData("missing > 3 OR true", "true")]
    [InlineData("mode LIKE 'e%'", "true")]
    [InlineData("mode LIKE '_c_'", "true")]
    [InlineData("mode LIKE 'E%'", "false")]
    [InlineData("mode ILIKE 'E%'", "true")]
    [InlineData("mode NOT LIKE '%o'", "false")]
    [InlineData("CASE WHEN temperature > 90 THEN 'hot' WHEN temperature > 80 THEN 'warm' ELSE 'ok' END", "warm")]
    [InlineData("CASE mode WHEN 'eco' THEN 1 ELSE 2 END", "1")]
    [InlineData("CASE WHEN false THEN 1 END", "NULL")]
    [InlineData("abs(-3) + ceil(1.2) + floor(1.8) + sqrt(16)", "10")]
    [InlineData("round(temperature)", "83")]
    [InlineData("round(2.345, 2)", "2.35")]
    [InlineData("power(2, 10)", "1024")]
    [InlineData("greatest(1, count, 3)", "7")]
    [InlineData("least(1, count, missing)", "1")]
    [InlineData("coalesce(missing, count)", "7")]
    [InlineData("nullif(count, 7)", "NULL")]
    [InlineData("upper(mode) || '-' || lower('ÄB')", "ECO-äb")]
    [InlineData("length('héllo')", "5")]
    [InlineData("starts_with(site, 'no') AND ends_with(site, 'th') AND contains(site, 'rt')", "true")]
    [InlineData("concat(site, missing, count)", "north7")]
    [InlineData("trim('  a b  ')", "a b")]
    [InlineData("site || 1.5", "north1.5")]
    [InlineData("\"temperature\" > 1", "true")]
    [InlineData("mode > 3", "NULL")]
    [InlineData("round(geo_distance_m(52.0, 4.0, 52.0, 4.001))", "68")]
    [InlineData("geo_within_m(52.0, 4.0, 52.0, 4.001, 100)", "true")]
    [InlineData("ln(0)", "NULL")]
    [InlineData("temperature > 80 -- a comment", "true")]
    [InlineData("time", "1E-06")]
    [InlineData("hour(1767232800) = 2 AND dow(1767232800) = 4", "true")]
    [InlineData("hour(-3600) = 23 AND dow(-86400) = 3", "true")]
    public void Expression_over_a_point_gives_the_SQL_answer(string expression, string expected) =>
        Assert.Equal(expected, Evaluate(expression));

    // A column against a literal compiles to one step of its own: it must answer as the general comparison does.
    [Theory]
    [InlineData("temperature <= 82.5", "true")]
    [InlineData("temperature < 82.5", "false")]
    [InlineData("count <> 7", "false")]
    [InlineData("count = 7.0", "true")]
    [InlineData("big >= 3", "true")]
    [InlineData("site < 'p'", "true")]
    [InlineData("site = 'North'", "false")]
    [InlineData("site = 3", "NULL")]
    [InlineData("temperature = 'x'", "NULL")]
    [InlineData("door = 1", "NULL")]
    [InlineData("missing = 'x'", "NULL")]
    [InlineData("NOT (missing > 3)", "NULL")]
    [InlineData("time > 0", "true")]
    public void Column_compared_with_a_literal_gives_the_SQL_answer(string expression, string expected) =>
        Assert.Equal(expected, Evaluate(expression));

    [Fact]
    public void Device_names_read_the_registry_the_live_state_and_the_position()
    {
        var registered = new Device("f1", "Freezer 1", "freezer", new Dictionary<string, string> { ["zone"] = "cold" }, "site-a", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);
        var state = new FakeState { Position = (52.1, 4.3) };
        state.Reported["firmware"] = (ReportedKind.String, "2.1.0", null);
        state.Reported["setpoint"] = (ReportedKind.Number, "-18", -18);
        state.Reported["defrost"] = (ReportedKind.Boolean, "true", null);
        var device = new RuleDevice("f1", registered, state);

        Assert.Equal("true", Evaluate("device.type = 'freezer' AND device.zone = 'cold' AND device.tags.zone = 'cold'", device));
        Assert.Equal("f1|Freezer 1|site-a|site-a", Evaluate("device.id || '|' || device.name || '|' || device.asset || '|' || device.parent", device));
        Assert.Equal("true", Evaluate("state.firmware LIKE '2.%' AND state.setpoint < -10 AND state.defrost", device));
        Assert.Equal("true", Evaluate("position.lat > 52 AND position.lon < 5", device));
        Assert.Equal("NULL", Evaluate("state.missing = 1", device));
        Assert.Equal("NULL", Evaluate("device.type = 'freezer'"));
    }

    [Fact]
    public void Inside_geofence_follows_the_registry_at_evaluation()
    {
        GeoShape? fence = new GeoCircle(52.1, 4.3, 1000);
        var options = new RuleCompileOptions { Symbols = Symbols, Geofences = name => name == "depot" ? fence : null };
        var device = new RuleDevice("f1", null, new FakeState { Position = (52.1, 4.3) });
        Assert.Equal("true", Evaluate("inside_geofence(position.lat, position.lon, 'depot')", device, options));
        fence = new GeoCircle(0, 0, 10);
        Assert.Equal("false", Evaluate("inside_geofence(position.lat, position.lon, 'depot')", device, options));
        var error = Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile("inside_geofence(1, 2, 'nowhere')", options));
        Assert.Contains("no geofence 'nowhere'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("temperature >", "expected a value (a number, 'text', a name or a function), found the end of the expression at char 14")]
    [InlineData("temperature > 80 AND", "found the end of the expression at char 21")]
    [InlineData("temperature >> 3", "expected a value")]
    [InlineData("avg(temperature) > 3", "unknown function 'avg'")]
    [InlineData("abs(1, 2)", "abs takes 1 argument, not 2 at char 1")]
    [InlineData("'a' > 3", "cannot compare text with a number at char 5")]
    [InlineData("temperature + 'x' > 1", "each side of arithmetic must be a number, but this is text at char 15")]
    [InlineData("(temperature > 1", "expected ')' to close the '(' at char 1")]
    [InlineData("site = 'north", "this string is not closed")]
    [InlineData("foo.bar = 1", "unknown name 'foo.bar'")]
    [InlineData("position.alt > 3", "unknown name 'position.alt'")]
    [InlineData("temperature > 80 80", "unexpected '80'")]
    [InlineData("temperature NOT 3", "expected IN, BETWEEN or LIKE after NOT")]
    [InlineData("CASE WHEN true THEN 1 ELSE 'x' END = 1", "the branches of CASE give a number and text")]
    [InlineData("", "the expression is empty")]
    [InlineData("temperature @ 3", "unexpected character '@' at char 13")]
    [InlineData("1abc > 2", "'1' is followed by 'a'")]
    [InlineData("inside_geofence(1, 2, name)", "must be its name in quotes")]
    public void Invalid_expression_is_refused_naming_the_problem_and_where(string expression, string expected)
    {
        var error = Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile(expression, new RuleCompileOptions { Symbols = Symbols, Geofences = _ => null }));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rate_and_changed_remember_the_previous_point_of_the_same_device()
    {
        var options = new RuleCompileOptions { Symbols = Symbols };
        var rate = RuleCompiler.Compile("rate(temperature)", options);
        var changed = RuleCompiler.Compile("changed(mode)", options with { FirstSlot = rate.EndSlot });
        Assert.Equal(2, changed.EndSlot);
        var batch = new PointBuilder()
            .Point("telemetry", 0, null, ("temperature", 10.0), ("mode", "eco"))
            .Point("telemetry", 2_000_000_000, null, ("temperature", 16.0), ("mode", "eco"))
            .Point("telemetry", 3_000_000_000, null, ("temperature", 13.0), ("mode", "boost"))
            .Batch;
        var row = new RuleRow(Symbols) { Memory = new RuleMemory(changed.EndSlot) };
        var answers = new List<string>();
        for (int i = 0; i < batch.Count; i++)
        {
            row.Bind(batch, i, null);
            answers.Add(row.Describe(rate.Evaluate(row)) + "/" + row.Describe(changed.Evaluate(row)));
        }

        Assert.Equal(["NULL/false", "3/false", "-3/true"], answers);
        row.Memory = null;
        Assert.Equal("NULL", row.Describe(rate.Evaluate(row)));
    }

    [Fact]
    public void Condition_that_is_not_true_or_false_is_refused()
    {
        var error = Assert.Throws<RuleSyntaxException>(() => RuleCompiler.CompileCondition("temperature + 1"));
        Assert.Contains("the condition is a number, not true or false", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_column_of_a_known_measurement_is_refused_with_the_columns_it_has()
    {
        var options = new RuleCompileOptions { Symbols = Symbols, KnownColumns = new Dictionary<string, RuleType>(StringComparer.OrdinalIgnoreCase) { ["temperature"] = RuleType.Number, ["device"] = RuleType.Text } };
        var error = Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile("temprature > 80", options));
        Assert.Contains("unknown field or tag 'temprature' in the rule's measurement (it has device, temperature)", error.Message, StringComparison.Ordinal);
        Assert.Equal(["Temperature"], RuleCompiler.Compile("Temperature > 80", options).Columns);
        Assert.Contains("cannot compare a number with text", Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile("temperature = 'x'", options)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hostile_nesting_is_refused_instead_of_overflowing_the_stack()
    {
        string deep = new string('(', 5000) + "1" + new string(')', 5000);
        Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile(deep[..4000]));
        string nots = string.Concat(Enumerable.Repeat("NOT ", 1000)) + "true";
        Assert.Contains("nests deeper than", Assert.Throws<RuleSyntaxException>(() => RuleCompiler.Compile(nots)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Like_with_many_wildcards_runs_in_bounded_time()
    {
        string text = new('a', 4000);
        Assert.False(RuleOperationsAccess.Like(text, "%a%a%a%a%a%a%a%a%b"));
        Assert.True(RuleOperationsAccess.Like("50% off", "50\\% %"));
    }

    [Fact]
    public void Evaluating_compiled_rules_allocates_nothing_per_point()
    {
        var device = new RuleDevice("f1", new Device("f1", "F", "freezer", new Dictionary<string, string>(), null, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch), new FakeState());
        var rules = new[]
        {
            "temperature > 80 AND device.type = 'freezer'",
            "site IN ('a', 'north') AND mode LIKE 'e%' AND count BETWEEN 1 AND 10",
            "CASE WHEN temperature > 90 THEN 'hot' ELSE 'ok' END = 'ok' AND abs(temperature - 80) < 5",
            "upper(mode) || site = 'ECOnorth' AND state.x IS NULL",
        }.Select(r => RuleCompiler.CompileCondition(r, new RuleCompileOptions { Symbols = Symbols })).ToArray();
        var row = Row(device);
        var batch = row.Batch;

        // Warm up: the scratch space and the column slots grow once.
        foreach (var rule in rules)
        {
            Assert.True(rule.IsTrue(row));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int trues = 0;
        for (int i = 0; i < 1000; i++)
        {
            row.Bind(batch, 0, device);
            foreach (var rule in rules)
            {
                trues += rule.IsTrue(row) ? 1 : 0;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(4000, trues);
    }
}
