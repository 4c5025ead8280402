// One file on purpose (about 770 lines): the translation of one SELECT statement into one SQL statement. Its clauses
// (sources, dimensions, fields, aggregates, time buckets and time zones, fill) read and fill the same per-statement
// state in order, and the SQL it builds reads top to bottom in that order.
using System.Globalization;
using System.Text;
using Plexus.InfluxQL.Syntax;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Translation;

/// <summary>
/// Translates an InfluxQL <c>SELECT</c> into one SQL statement over the measurements' views, and the
/// <see cref="SeriesShape"/> that turns its rows into InfluxDB series.
/// </summary>
/// <remarks>
/// Design note. The SQL is a chain of CTEs, each a step of InfluxDB's query engine:
/// <code>
///  src     one SELECT per measurement (UNION ALL): series name, group-by tags (__t*), epoch_ns(time) (__ns) and the
///          referenced fields (__f*) as generated aliases, so no user name is ever an alias; WHERE = time range
///          AND the condition AND "some selected field is not NULL" (InfluxDB emits no row without one)
///  agg     aggregates: GROUP BY name, tags and the bucket (__time); one column per call (__c*)
///  series  the series agg found        ┐ fill() other than none:
///  grid    every bucket of the range    ├ series × grid LEFT JOIN agg, then each __c filled:
///  filled                               ┘ coalesce (number), last_value (previous), two-sided windows (linear)
///  final   the selected expressions over __c* (aggregates) or __f* (raw), per-series LIMIT/OFFSET (row_number) and
///          SLIMIT/SOFFSET (dense_rank), ORDER BY name, tags, time: one series after another
/// </code>
/// Buckets follow InfluxDB: aligned to the epoch plus the GROUP BY offset (with tz(), to local time), from the bucket
/// of the range's start (or of the first point when the range has none) to the bucket of its end (now() when open).
/// </remarks>
internal sealed class SelectTranslator
{
    private const string Ns = "__ns";
    private const string Time = "__time";

    private readonly SelectStatement _statement;
    private readonly TranslationContext _context;
    private readonly List<SourceColumn> _columns = [];
    private readonly List<AggregateCall> _calls = [];
    private TimeZoneInfo? _zone;
    private IReadOnlyList<(InfluxDatabase Database, InfluxMeasurement Measurement)> _sources = [];
    private List<string> _tagKeys = [];
    private HashSet<string> _explicitTags = [];
    private bool _aggregate;

    private SelectTranslator(SelectStatement statement, TranslationContext context)
    {
        _statement = statement;
        _context = context;
    }

    private enum ColumnUse
    {
        /// <summary>A selected field or tag of a raw query.</summary>
        Raw,

        /// <summary>The field an aggregate reads.</summary>
        Argument,
    }

    private sealed record SourceColumn(string Name, NameKind Kind, ColumnUse Use, string Alias);

    /// <param name="Alone">The call is the whole selected expression (a selector alone gives its point's time).</param>
    private sealed record AggregateCall(Call Call, string Function, SourceColumn Argument, string Alias, bool Alone, double Percentile);

    public static TranslatedStatement Translate(SelectStatement statement, TranslationContext context) => new SelectTranslator(statement, context).Translate();

    private TranslatedStatement Translate()
    {
        _zone = Zone(_statement.TimeZone);
        _sources = _context.Resolve(_statement.Sources, null);
        var (bounds, rest) = TimeConditions.Split(_statement.Condition, _context.NowNs, _zone);
        ResolveDimensions();
        var fields = ExpandFields();
        if (fields.Count == 0)
        {
            throw new StatementException("at least 1 non-time field must be queried");
        }

        var names = ColumnNames(fields);
        _aggregate = fields.Any(f => ContainsAggregate(f.Expr));
        var interval = _statement.Interval;
        if (interval is not null && !_aggregate)
        {
            throw new StatementException("GROUP BY requires at least one aggregate function");
        }

        var selectSql = new List<string>();
        foreach (var field in fields)
        {
            selectSql.Add(_aggregate ? AggregateExpression(field.Expr, top: true) : RawExpression(field.Expr));
        }

        bool distinct = _calls.Any(c => c.Function == "distinct");
        if (distinct && fields.Count > 1)
        {
            throw new StatementException("aggregate function distinct() cannot be combined with other functions or fields");
        }

        if (!_aggregate && !_columns.Any(c => c.Use == ColumnUse.Raw && c.Kind != NameKind.Tag && _sources.Any(s => s.Measurement.TryGetField(c.Name, out _))))
        {
            // Only tags (or names nothing has): InfluxDB answers nothing, since rows are made of fields.
            return new TranslatedStatement(null, Shape(names));
        }

        if (interval is not null && bounds.Upper is null)
        {
            bounds = bounds with { Upper = _context.NowNs };
        }

        var shape = Shape(names);
        if (_sources.Count == 0 || bounds.IsEmpty)
        {
            return new TranslatedStatement(null, shape);
        }

        string? source = SourceSql(bounds, rest);
        if (source is null)
        {
            return new TranslatedStatement(null, shape);
        }

        var sql = new StringBuilder("WITH src AS (").Append(source).Append(')');
        string finalFrom;
        if (!_aggregate)
        {
            finalFrom = "src";
        }
        else
        {
            sql.Append(", agg AS (").Append(AggregateSql(bounds, distinct)).Append(')');
            finalFrom = "agg";
            if (interval is not null && _statement.Fill.Kind != FillKind.None)
            {
                AppendFill(sql, bounds, interval);
                finalFrom = "filled";
            }
        }

        string tags = TagColumns("");
        string partition = "__name" + tags;
        sql.Append(", final AS (SELECT __name").Append(tags).Append(", ");
        sql.Append(!_aggregate ? Ns : interval is not null && _zone is not null ? ToUtc(Time) : Time).Append(" AS ").Append(Time);
        for (int i = 0; i < selectSql.Count; i++)
        {
            string expression = _aggregate ? Filled(selectSql[i], interval, partition) : selectSql[i];
            sql.Append(", ").Append(expression).Append(" AS __v").Append(i.ToString(CultureInfo.InvariantCulture));
        }

        sql.Append(" FROM ").Append(finalFrom).Append(')');
        string direction = _statement.Descending ? " DESC" : "";
        string order = partition + ", " + Time + direction + (distinct ? ", __v0" : "");
        var output = new StringBuilder("__name").Append(tags).Append(", ").Append(Time);
        for (int i = 0; i < selectSql.Count; i++)
        {
            output.Append(", __v").Append(i.ToString(CultureInfo.InvariantCulture));
        }

        sql.Append(" SELECT ").Append(output).Append(" FROM ");
        if (_statement.Limit > 0 || _statement.Offset > 0 || _statement.SeriesLimit > 0 || _statement.SeriesOffset > 0)
        {
            sql.Append("(SELECT *, row_number() OVER (PARTITION BY ").Append(partition).Append(" ORDER BY ").Append(Time).Append(direction).Append(distinct ? ", __v0" : "")
                .Append(") AS __row, dense_rank() OVER (ORDER BY ").Append(partition).Append(") AS __series FROM final) WHERE ");
            sql.Append(Window("__row", _statement.Offset, _statement.Limit)).Append(" AND ").Append(Window("__series", _statement.SeriesOffset, _statement.SeriesLimit));
        }
        else
        {
            sql.Append("final");
        }

        sql.Append(" ORDER BY ").Append(order);
        return new TranslatedStatement(sql.ToString(), shape);
    }

    private static string Window(string column, long offset, long limit) =>
        limit > 0 ? $"{column} > {offset} AND {column} <= {(decimal)offset + limit}" : $"{column} > {offset}";

    private SeriesShape Shape(IReadOnlyList<string> names) => new(_tagKeys, true, ["time", .. names], _zone);

    private static TimeZoneInfo? Zone(string? name)
    {
        if (name is null)
        {
            return null;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(name);
        }
        catch (Exception error) when (error is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            throw new StatementException($"unable to find time zone {name}: use an IANA name such as 'Europe/Paris' or 'America/New_York'");
        }
    }

    // ---- dimensions and fields ---------------------------------------------------------------------------------

    private void ResolveDimensions()
    {
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        _explicitTags = new HashSet<string>(StringComparer.Ordinal);
        foreach (var dimension in _statement.Dimensions)
        {
            switch (dimension)
            {
                case TagDimension tag:
                    _explicitTags.Add(tag.Name);
                    keys.Add(tag.Name);
                    break;
                case WildcardDimension:
                    foreach (var (_, measurement) in _sources)
                    {
                        keys.UnionWith(measurement.Tags);
                    }

                    break;
                case RegexDimension regexDimension:
                    var regex = NameRegex.Create(regexDimension.Pattern);
                    foreach (var (_, measurement) in _sources)
                    {
                        keys.UnionWith(measurement.Tags.Where(t => regex.IsMatch(t)));
                    }

                    break;
            }
        }

        _tagKeys = [.. keys];
    }

    private List<Field> ExpandFields()
    {
        var expanded = new List<Field>();
        foreach (var field in _statement.Fields)
        {
            switch (field.Expr)
            {
                case VarRef reference when TimeConditions.IsTime(reference):
                    // time is always the first column.
                    continue;
                case Wildcard wildcard:
                    expanded.AddRange(Names(wildcard.Kind, null).Select(n => new Field(new VarRef(n.Name, n.Kind), null)));
                    break;
                case RegexLiteral regex:
                    var pattern = NameRegex.Create(regex.Pattern);
                    expanded.AddRange(Names(NameKind.Any, pattern.IsMatch).Select(n => new Field(new VarRef(n.Name, n.Kind), null)));
                    break;
                case Call { Args.Count: >= 1 } call when call.Args[0] is Wildcard or RegexLiteral:
                    Func<string, bool>? match = call.Args[0] is RegexLiteral r ? NameRegex.Create(r.Pattern).IsMatch : null;
                    bool numeric = InfluxFunctions.NumericOnly.Contains(call.Name);
                    foreach (string name in FieldNames(match, numeric))
                    {
                        expanded.Add(new Field(call with { Args = [new VarRef(name, NameKind.Field), .. call.Args.Skip(1)] }, call.Name + "_" + name));
                    }

                    break;
                default:
                    expanded.Add(field);
                    break;
            }
        }

        return expanded;
    }

    /// <summary>What <c>*</c> selects in a raw query: every field and every tag not grouped by, in name order.</summary>
    private IEnumerable<(string Name, NameKind Kind)> Names(NameKind kind, Func<string, bool>? match)
    {
        var names = new SortedDictionary<string, NameKind>(StringComparer.Ordinal);
        bool groupsAllTags = _statement.Dimensions.Any(d => d is WildcardDimension);
        foreach (var (_, measurement) in _sources)
        {
            if (kind != NameKind.Tag)
            {
                foreach (string f in measurement.Fields.Where(f => match is null || match(f)))
                {
                    names[f] = names.TryGetValue(f, out var known) && known != NameKind.Field ? NameKind.Any : NameKind.Field;
                }
            }

            if (kind != NameKind.Field && !groupsAllTags)
            {
                foreach (string t in measurement.Tags.Where(t => !_tagKeys.Contains(t) && (match is null || match(t))))
                {
                    names[t] = names.TryGetValue(t, out var known) && known != NameKind.Tag ? NameKind.Any : NameKind.Tag;
                }
            }
        }

        return names.Select(p => (p.Key, p.Value));
    }

    private SortedSet<string> FieldNames(Func<string, bool>? match, bool numericOnly)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (_, measurement) in _sources)
        {
            foreach (string name in measurement.Fields)
            {
                if ((match is null || match(name)) && (!numericOnly || (measurement.TryGetField(name, out var type) && type is InfluxFieldType.Float or InfluxFieldType.Integer or InfluxFieldType.Unsigned)))
                {
                    names.Add(name);
                }
            }
        }

        return names;
    }

    /// <summary>InfluxDB's column names: the alias, else the call's or the field's name (names of a math expression joined by _), made unique with _1, _2….</summary>
    private static List<string> ColumnNames(List<Field> fields)
    {
        var result = new string?[fields.Count];
        var used = new Dictionary<string, int>(StringComparer.Ordinal) { ["time"] = 1 };
        for (int i = 0; i < fields.Count; i++)
        {
            if (fields[i].Alias is { } alias)
            {
                result[i] = alias;
                used[alias] = 1;
            }
        }

        for (int i = 0; i < fields.Count; i++)
        {
            if (result[i] is not null)
            {
                continue;
            }

            string name = Name(fields[i].Expr);
            if (used.TryGetValue(name, out int count))
            {
                while (true)
                {
                    string candidate = name + "_" + count.ToString(CultureInfo.InvariantCulture);
                    if (!used.ContainsKey(candidate))
                    {
                        used[name] = count + 1;
                        name = candidate;
                        break;
                    }

                    count++;
                }
            }

            used[name] = used.GetValueOrDefault(name) + 1;
            result[i] = name;
        }

        return [.. result.Select(n => n!)];
    }

    private static string Name(Expr expr) => expr switch
    {
        Call call => call.Name,
        VarRef reference => reference.Name,
        ParenExpr paren => Name(paren.Inner),
        BinaryExpr binary => string.Join("_", NamesIn(binary)),
        _ => "",
    };

    private static IEnumerable<string> NamesIn(Expr expr) => expr switch
    {
        Call call => [call.Name],
        VarRef reference => [reference.Name],
        ParenExpr paren => NamesIn(paren.Inner),
        BinaryExpr binary => NamesIn(binary.Left).Concat(NamesIn(binary.Right)),
        _ => [],
    };

    private static bool ContainsAggregate(Expr expr) => expr switch
    {
        Call call => InfluxFunctions.Aggregates.Contains(call.Name) || call.Args.Any(ContainsAggregate),
        BinaryExpr binary => ContainsAggregate(binary.Left) || ContainsAggregate(binary.Right),
        ParenExpr paren => ContainsAggregate(paren.Inner),
        _ => false,
    };

    // ---- expressions -------------------------------------------------------------------------------------------

    private string RawExpression(Expr expr) => expr switch
    {
        VarRef reference => Column(reference, ColumnUse.Raw).Alias,
        ParenExpr paren => "(" + RawExpression(paren.Inner) + ")",
        BinaryExpr binary => Arithmetic(binary, RawExpression),
        Call call => MathCall(call, RawExpression),
        _ => Literal(expr),
    };

    /// <summary>An aggregate query's expression over the calls' results (placeholders, filled later).</summary>
    private string AggregateExpression(Expr expr, bool top) => expr switch
    {
        Call call when InfluxFunctions.Aggregates.Contains(call.Name) => Aggregate(call, top),
        Call call => MathCall(call, e => AggregateExpression(e, false)),
        ParenExpr paren => "(" + AggregateExpression(paren.Inner, top) + ")",
        BinaryExpr binary => Arithmetic(binary, e => AggregateExpression(e, false)),
        VarRef => throw new StatementException("mixing aggregate and non-aggregate queries is not supported"),
        Wildcard or RegexLiteral => throw new StatementException("* and /regex/ select fields only directly in SELECT or as an aggregate's argument"),
        _ => Literal(expr),
    };

    private string Aggregate(Call call, bool top)
    {
        string function = call.Name;
        bool distinctInside = false;
        var args = call.Args;
        if (function == "count" && args.Count == 1 && args[0] is Call { Name: "distinct", Args.Count: 1 } inner)
        {
            distinctInside = true;
            args = inner.Args;
        }
        else if (args.Any(ContainsAggregate))
        {
            throw new StatementException($"{function}() cannot take another aggregate as its argument (only count(distinct(…)) nests)");
        }

        int expected = function == "percentile" ? 2 : 1;
        if (args.Count != expected)
        {
            throw new StatementException(expected == 2
                ? "percentile() takes a field and a number: percentile(\"value\", 95)"
                : $"{function}() takes one field, like {function}(\"value\")");
        }

        if (args[0] is not VarRef reference || TimeConditions.IsTime(reference))
        {
            throw new StatementException($"expected a field argument in {function}()");
        }

        double percentile = 0;
        if (function == "percentile")
        {
            percentile = args[1] switch
            {
                IntegerLiteral i => i.Value,
                NumberLiteral n => n.Value,
                _ => throw new StatementException("expected a number as percentile()'s second argument, like percentile(\"value\", 95)"),
            };
        }

        var column = Column(reference with { Kind = reference.Kind == NameKind.Tag ? NameKind.Tag : NameKind.Field }, ColumnUse.Argument);
        // The trailing _ keeps __c1_ from being a part of __c10_ when placeholders are replaced.
        string alias = "__c" + _calls.Count.ToString(CultureInfo.InvariantCulture) + "_";
        _calls.Add(new AggregateCall(call, distinctInside ? "count_distinct" : function, column, alias, top, percentile));
        return alias;
    }

    private SourceColumn Column(VarRef reference, ColumnUse use)
    {
        var kind = reference.Kind;
        foreach (var known in _columns)
        {
            if (known.Name == reference.Name && known.Kind == kind && known.Use == use)
            {
                return known;
            }
        }

        var column = new SourceColumn(reference.Name, kind, use, "__f" + _columns.Count.ToString(CultureInfo.InvariantCulture));
        _columns.Add(column);
        return column;
    }

    private static string Arithmetic(BinaryExpr binary, Func<Expr, string> operand)
    {
        string op = binary.Operator switch
        {
            BinaryOperator.Add => "+",
            BinaryOperator.Subtract => "-",
            BinaryOperator.Multiply => "*",
            BinaryOperator.Divide => "/",
            BinaryOperator.Modulo => "%",
            BinaryOperator.BitAnd => "&",
            BinaryOperator.BitOr => "|",
            BinaryOperator.BitXor => "xor",
            _ => throw new StatementException("comparisons and AND/OR belong in WHERE, not in the selected fields"),
        };
        return op == "xor" ? $"xor({operand(binary.Left)}, {operand(binary.Right)})" : $"({operand(binary.Left)} {op} {operand(binary.Right)})";
    }

    private static string MathCall(Call call, Func<Expr, string> operand)
    {
        if (!InfluxFunctions.Math.TryGetValue(call.Name, out var math))
        {
            throw InfluxFunctions.Unsupported(call.Name);
        }

        if (call.Args.Count != math.Arguments)
        {
            throw new StatementException($"{call.Name}() takes {math.Arguments} argument{(math.Arguments == 1 ? "" : "s")}");
        }

        return math.Sql + "(" + string.Join(", ", call.Args.Select(operand)) + ")";
    }

    private static string Literal(Expr expr) => expr switch
    {
        IntegerLiteral integer => ConditionSql.Number(integer.Value),
        NumberLiteral number => ConditionSql.Number(number.Value),
        DurationLiteral duration => ConditionSql.Number(duration.Nanoseconds),
        StringLiteral text => SqlNames.Literal(text.Value),
        BooleanLiteral boolean => boolean.Value ? "TRUE" : "FALSE",
        _ => throw new StatementException("* and /regex/ select fields only directly in SELECT or as an aggregate's argument"),
    };

    // ---- SQL stages --------------------------------------------------------------------------------------------

    private string TagColumns(string prefix)
    {
        var text = new StringBuilder();
        for (int i = 0; i < _tagKeys.Count; i++)
        {
            text.Append(", ").Append(prefix).Append("__t").Append(i.ToString(CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    /// <summary>The src stage: one SELECT per measurement that has a selected field; null when none has.</summary>
    private string? SourceSql(TimeBounds bounds, Expr? rest)
    {
        var parts = new List<string>();
        foreach (var (database, measurement) in _sources)
        {
            var valueColumns = new List<string>();
            var part = new StringBuilder("SELECT ").Append(SqlNames.Literal(measurement.Name)).Append(" AS __name");
            for (int i = 0; i < _tagKeys.Count; i++)
            {
                string key = _tagKeys[i];
                string value = measurement.HasTag(key) ? ConditionSql.TagValue(measurement, key) : _explicitTags.Contains(key) ? "''" : "CAST(NULL AS VARCHAR)";
                part.Append(", ").Append(value).Append(" AS __t").Append(i.ToString(CultureInfo.InvariantCulture));
            }

            part.Append(", epoch_ns(").Append(SqlNames.Quote(SqlNames.TimeColumn)).Append(") AS ").Append(Ns);
            foreach (var column in _columns)
            {
                string? sql = ColumnSql(measurement, column, out bool isField);
                part.Append(", ").Append(sql ?? "NULL").Append(" AS ").Append(column.Alias);
                if (isField && sql is not null)
                {
                    valueColumns.Add(sql + " IS NOT NULL");
                }
            }

            if (valueColumns.Count == 0)
            {
                continue;
            }

            part.Append(" FROM ").Append(SqlNames.Quote(database.Name)).Append('.').Append(SqlNames.Quote(measurement.Name));
            part.Append(" WHERE ");
            if (bounds.Lower is { } lower)
            {
                part.Append(SqlNames.Quote(SqlNames.TimeColumn)).Append(" >= make_timestamp_ns(").Append(ConditionSql.Number(lower)).Append(") AND ");
            }

            if (bounds.Upper is { } upper)
            {
                part.Append(SqlNames.Quote(SqlNames.TimeColumn)).Append(" <= make_timestamp_ns(").Append(ConditionSql.Number(upper)).Append(") AND ");
            }

            part.Append(new ConditionSql(measurement, fieldsAllowed: true, "SELECT").Translate(rest));
            part.Append(" AND (").Append(string.Join(" OR ", valueColumns)).Append(')');
            parts.Add(part.ToString());
        }

        return parts.Count == 0 ? null : string.Join(" UNION ALL BY NAME ", parts);
    }

    /// <summary>A selected name's column in one measurement: the field, the tag (raw queries), or null when it has neither.</summary>
    private static string? ColumnSql(InfluxMeasurement measurement, SourceColumn column, out bool isField)
    {
        isField = false;
        if (column.Kind != NameKind.Tag && measurement.TryGetField(column.Name, out _))
        {
            isField = true;
            return SqlNames.Quote(column.Name);
        }

        if (column.Use == ColumnUse.Raw && column.Kind != NameKind.Field && measurement.HasTag(column.Name))
        {
            return SqlNames.Quote(column.Name);
        }

        return null;
    }

    private string AggregateSql(TimeBounds bounds, bool distinct)
    {
        var interval = _statement.Interval;
        string tags = TagColumns("");
        string time = interval is not null ? Bucket(Ns, interval) : SelectorTime() ?? ConditionSql.Number(bounds.Lower ?? 0);
        var sql = new StringBuilder();
        if (distinct)
        {
            var call = _calls[0];
            sql.Append("SELECT DISTINCT __name").Append(tags).Append(", ").Append(time).Append(" AS ").Append(Time)
                .Append(", ").Append(call.Argument.Alias).Append(" AS ").Append(call.Alias)
                .Append(" FROM src WHERE ").Append(call.Argument.Alias).Append(" IS NOT NULL");
            return sql.ToString();
        }

        sql.Append("SELECT __name").Append(tags).Append(", ").Append(time).Append(" AS ").Append(Time);
        foreach (var call in _calls)
        {
            sql.Append(", ").Append(AggregateFunction(call)).Append(" AS ").Append(call.Alias);
        }

        sql.Append(" FROM src GROUP BY __name").Append(tags);
        if (interval is not null)
        {
            sql.Append(", ").Append(Time);
        }

        return sql.ToString();
    }

    private static string AggregateFunction(AggregateCall call)
    {
        string a = call.Argument.Alias;
        return call.Function switch
        {
            "mean" => $"avg({a})",
            "median" => $"median({a})",
            "count" => $"count({a})",
            "count_distinct" => $"count(DISTINCT {a})",
            "sum" => $"sum({a})",
            "min" => $"min({a})",
            "max" => $"max({a})",
            "first" => $"arg_min({a}, {Ns}) FILTER (WHERE {a} IS NOT NULL)",
            "last" => $"arg_max({a}, {Ns}) FILTER (WHERE {a} IS NOT NULL)",
            "spread" => $"(max({a}) - min({a}))",
            "stddev" => $"stddev_samp({a})",
            "percentile" => $"CASE WHEN {PercentileIndex(call)} >= 1 THEN list_sort(list({a}) FILTER (WHERE {a} IS NOT NULL))[{PercentileIndex(call)}] END",
            _ => throw InfluxFunctions.Unsupported(call.Function),
        };
    }

    // InfluxDB's nearest rank: the value at floor(n × p / 100 + 0.5) of the sorted values, counted from 1.
    private static string PercentileIndex(AggregateCall call) =>
        $"CAST(floor(count({call.Argument.Alias}) * {ConditionSql.Number(call.Percentile)} / 100.0 + 0.5) AS BIGINT)";

    /// <summary>The time of the selected point when the query is one selector alone (InfluxDB's rule); else null.</summary>
    private string? SelectorTime()
    {
        if (_calls.Count != 1 || !_calls[0].Alone || !InfluxFunctions.Selectors.Contains(_calls[0].Function))
        {
            return null;
        }

        var call = _calls[0];
        string a = call.Argument.Alias;
        return call.Function switch
        {
            "first" => $"min({Ns}) FILTER (WHERE {a} IS NOT NULL)",
            "last" => $"max({Ns}) FILTER (WHERE {a} IS NOT NULL)",
            // Ties go to the earliest point, as in InfluxDB.
            "min" => $"struct_extract(min(struct_pack(v := {a}, t := {Ns})) FILTER (WHERE {a} IS NOT NULL), 't')",
            "max" => $"-struct_extract(max(struct_pack(v := {a}, t := -{Ns})) FILTER (WHERE {a} IS NOT NULL), 't')",
            _ => $"CASE WHEN {PercentileIndex(call)} >= 1 THEN struct_extract(list_sort(list(struct_pack(v := {a}, t := {Ns})) FILTER (WHERE {a} IS NOT NULL))[{PercentileIndex(call)}], 't') END",
        };
    }

    /// <summary>The bucket start of a time (SQL over nanoseconds): floor to the interval, shifted by the offset; with tz(), in local time.</summary>
    private string Bucket(string ns, GroupByTime interval)
    {
        long every = interval.IntervalNs;
        long offset = ((interval.OffsetNs % every) + every) % every;
        string local = _zone is null ? ns : ToLocal(ns);
        string shifted = offset == 0 ? local : $"({local} - {offset})";
        return $"({local} - ((({shifted} % {every}) + {every}) % {every}))";
    }

    private string ZoneLiteral => SqlNames.Literal(_zone!.Id);

    // Local wall-clock nanoseconds of a UTC instant: the zone's offset at that instant added.
    private string ToLocal(string ns) =>
        $"({ns} + (epoch_us(timezone({ZoneLiteral}, timezone('UTC', make_timestamp({ns} // 1000)))) - ({ns} // 1000)) * 1000)";

    // The UTC instant of a local wall-clock time (a bucket start).
    private string ToUtc(string local) => $"epoch_ns(timezone({ZoneLiteral}, make_timestamp({local} // 1000)))";

    private void AppendFill(StringBuilder sql, TimeBounds bounds, GroupByTime interval)
    {
        long every = interval.IntervalNs;
        string tags = TagColumns("");
        string upper = Bucket(ConditionSql.Number(bounds.Upper!.Value), interval);
        string lower;
        string stop;
        if (bounds.Lower is { } start)
        {
            decimal buckets = (((decimal)bounds.Upper.Value - start) / every) + 1;
            if (buckets > _context.MaxBuckets)
            {
                throw new StatementException(
                    $"GROUP BY time({Durations.Format(every)}) over this time range gives {buckets:0} buckets per series, more than the {_context.MaxBuckets} rows an answer may hold (--query-max-rows); " +
                    "use a longer interval, a shorter time range, or fill(none)");
            }

            lower = Bucket(ConditionSql.Number(start), interval);
            stop = $"{upper} + {every}";
        }
        else
        {
            // No start: InfluxDB begins at the first point's bucket. The count is only known in the engine.
            lower = $"(SELECT min({Time}) FROM agg)";
            string message = $"GROUP BY time({Durations.Format(every)}) from the first point to the end of the time range gives more buckets per series than the {_context.MaxBuckets} rows an answer may hold (--query-max-rows); add a start to the time range (WHERE time >= now() - 1h), use a longer interval, or fill(none)";
            stop = $"CASE WHEN ({upper} - {lower}) // {every} >= {_context.MaxBuckets} THEN error({SqlNames.Literal(message)}) ELSE {upper} + {every} END";
        }

        sql.Append(", series AS (SELECT DISTINCT __name").Append(tags).Append(" FROM agg)");
        sql.Append(", grid AS (SELECT unnest(range(").Append(lower).Append(", ").Append(stop).Append(", ").Append(every).Append(")) AS ").Append(Time).Append(')');
        sql.Append(", filled AS (SELECT s.__name").Append(TagColumns("s.")).Append(", g.").Append(Time);
        foreach (var call in _calls)
        {
            sql.Append(", a.").Append(call.Alias);
        }

        sql.Append(" FROM series AS s CROSS JOIN grid AS g LEFT JOIN agg AS a ON a.__name = s.__name AND a.").Append(Time).Append(" = g.").Append(Time);
        for (int i = 0; i < _tagKeys.Count; i++)
        {
            string column = "__t" + i.ToString(CultureInfo.InvariantCulture);
            sql.Append(" AND a.").Append(column).Append(" IS NOT DISTINCT FROM s.").Append(column);
        }

        sql.Append(')');
    }

    /// <summary>The final expression with each call's value filled as fill() says.</summary>
    private string Filled(string expression, GroupByTime? interval, string partition)
    {
        foreach (var call in _calls)
        {
            expression = expression.Replace(call.Alias, FillCall(call, interval, partition), StringComparison.Ordinal);
        }

        return expression;
    }

    private string FillCall(AggregateCall call, GroupByTime? interval, string partition)
    {
        string c = call.Alias;
        var fill = _statement.Fill;
        if (interval is null || fill.Kind == FillKind.None)
        {
            return c;
        }

        string before = $"OVER (PARTITION BY {partition} ORDER BY {Time} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)";
        return fill.Kind switch
        {
            // count() of an empty bucket is 0, not null, as in InfluxDB.
            FillKind.Null => call.Function is "count" or "count_distinct" ? $"coalesce({c}, 0)" : c,
            FillKind.Number => $"coalesce({c}, {(fill.IsInteger ? ConditionSql.Number((long)fill.Number) : ConditionSql.Number(fill.Number))})",
            FillKind.Previous => $"last_value({c} IGNORE NULLS) {before}",
            _ => Linear(c, partition),
        };
    }

    // Between the nearest values before and after, by time; nothing before the first or after the last.
    private static string Linear(string c, string partition)
    {
        string previous = $"OVER (PARTITION BY {partition} ORDER BY {Time} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)";
        string next = $"OVER (PARTITION BY {partition} ORDER BY {Time} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)";
        string previousValue = $"last_value({c} IGNORE NULLS) {previous}";
        string previousTime = $"last_value(CASE WHEN {c} IS NOT NULL THEN {Time} END IGNORE NULLS) {previous}";
        string nextValue = $"first_value({c} IGNORE NULLS) {next}";
        string nextTime = $"first_value(CASE WHEN {c} IS NOT NULL THEN {Time} END IGNORE NULLS) {next}";
        return $"coalesce({c}, {previousValue} + ({nextValue} - {previousValue}) * ({Time} - {previousTime}) / ({nextTime} - {previousTime}))";
    }
}
