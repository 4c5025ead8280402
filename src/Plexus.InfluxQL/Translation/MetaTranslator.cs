using System.Globalization;
using System.Text;
using Plexus.InfluxQL.Syntax;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Translation;

/// <summary>
/// The SHOW statements. Names (databases, measurements, tag and field keys) come from the catalog read for the request;
/// tag values and series come from each measurement's series table <c>_plexus.s&lt;id&gt;</c> (one row per series, a
/// column per tag), which is small beside the data. WHERE clauses of SHOW filter on tags only; their time conditions
/// are ignored, as InfluxDB 1.x ignores them for the series index.
/// </summary>
internal static class MetaTranslator
{
    public static TranslatedStatement Translate(Statement statement, TranslationContext context) => statement switch
    {
        ShowDatabasesStatement => Databases(),
        ShowMeasurementsStatement show => Measurements(show, context),
        ShowTagKeysStatement show => TagKeys(show, context),
        ShowTagValuesStatement show => TagValues(show, context),
        ShowFieldKeysStatement show => FieldKeys(show, context),
        ShowSeriesStatement show => Series(show, context),
        ShowRetentionPoliciesStatement show => RetentionPolicies(show, context),
        _ => throw new ArgumentOutOfRangeException(nameof(statement), statement.GetType().Name, "not a SHOW statement"),
    };

    private static TranslatedStatement Databases() => new(
        "SELECT 'databases' AS __name, schema_name AS __v0 FROM duckdb_schemas() WHERE database_name = current_database() " +
        $"AND schema_name NOT IN ({SqlNames.Literal(SqlNames.InternalSchema)}, 'information_schema', 'pg_catalog') ORDER BY schema_name",
        SeriesShape.Values("name"));

    private static TranslatedStatement Measurements(ShowMeasurementsStatement show, TranslationContext context)
    {
        var database = context.Database(show.Database);
        var shape = SeriesShape.Values("name");
        var names = database.Measurements.Where(m => Matches(show.Filter, m.Name)).ToList();
        var condition = TagCondition(show.Condition);
        if (condition is null)
        {
            return new(StaticRows(Page(names, show.Offset, show.Limit).Select(m => new object?[] { "measurements", m.Name })), shape);
        }

        var parts = names.Select((m, i) =>
            $"SELECT 'measurements' AS __name, {SqlNames.Literal(m.Name)} AS __v0, {i} AS __k WHERE EXISTS (SELECT 1 FROM {m.SeriesTable} WHERE {new ConditionSql(m, false, "SHOW MEASUREMENTS").Translate(condition)})").ToList();
        return new(parts.Count == 0 ? null : $"SELECT __name, __v0 FROM ({string.Join(" UNION ALL ", parts)}) ORDER BY __k{LimitSql(show.Offset, show.Limit)}", shape);
    }

    private static TranslatedStatement TagKeys(ShowTagKeysStatement show, TranslationContext context)
    {
        var measurements = context.Resolve(show.Sources, show.Database);
        var shape = SeriesShape.Values("tagKey");
        var condition = TagCondition(show.Condition);
        if (condition is null)
        {
            return new(StaticRows(measurements.SelectMany(s => Page(s.Measurement.Tags, show.Offset, show.Limit).Select(k => new object?[] { s.Measurement.Name, k }))), shape);
        }

        var parts = new List<string>();
        int order = 0;
        foreach (var (_, measurement) in measurements)
        {
            string where = new ConditionSql(measurement, false, "SHOW TAG KEYS").Translate(condition);
            foreach (string key in measurement.Tags)
            {
                parts.Add($"SELECT {SqlNames.Literal(measurement.Name)} AS __name, {SqlNames.Literal(key)} AS __v0, {order++} AS __k " +
                    $"WHERE EXISTS (SELECT 1 FROM {measurement.SeriesTable} WHERE {SqlNames.Quote(key)} IS NOT NULL AND {where})");
            }
        }

        return new(parts.Count == 0 ? null : $"SELECT __name, __v0 FROM ({string.Join(" UNION ALL ", parts)}) {PerSeries(show.Offset, show.Limit, "__k")} ORDER BY __k", shape);
    }

    private static TranslatedStatement TagValues(ShowTagValuesStatement show, TranslationContext context)
    {
        var measurements = context.Resolve(show.Sources, show.Database);
        var shape = SeriesShape.Values("key", "value");
        var condition = TagCondition(show.Condition);
        var parts = new List<string>();
        foreach (var (_, measurement) in measurements)
        {
            string where = new ConditionSql(measurement, false, "SHOW TAG VALUES").Translate(condition);
            foreach (string key in measurement.Tags.Where(k => Matches(show.Key, k)))
            {
                string column = SqlNames.Quote(key);
                parts.Add($"SELECT DISTINCT {SqlNames.Literal(measurement.Name)} AS __name, {SqlNames.Literal(key)} AS __v0, {column} AS __v1 " +
                    $"FROM {measurement.SeriesTable} WHERE {column} IS NOT NULL AND {where}");
            }
        }

        return new(parts.Count == 0 ? null : $"SELECT __name, __v0, __v1 FROM ({string.Join(" UNION ALL ", parts)}) {PerSeries(show.Offset, show.Limit, "__v0, __v1")} ORDER BY __name, __v0, __v1", shape);
    }

    private static TranslatedStatement FieldKeys(ShowFieldKeysStatement show, TranslationContext context)
    {
        var measurements = context.Resolve(show.Sources, show.Database);
        var rows = measurements.SelectMany(s => Page(s.Measurement.Fields, show.Offset, show.Limit).Select(f =>
        {
            s.Measurement.TryGetField(f, out var type);
            return new object?[] { s.Measurement.Name, f, InfluxDatabase.FieldTypeName(type) };
        }));
        return new(StaticRows(rows), SeriesShape.Values("fieldKey", "fieldType"));
    }

    private static TranslatedStatement Series(ShowSeriesStatement show, TranslationContext context)
    {
        var measurements = context.Resolve(show.Sources, show.Database);
        var condition = TagCondition(show.Condition);
        var parts = new List<string>();
        foreach (var (_, measurement) in measurements)
        {
            var key = new StringBuilder(SqlNames.Literal(Escape(measurement.Name, ", ")));
            foreach (string tag in measurement.Tags)
            {
                string column = SqlNames.Quote(tag);
                string value = $"replace(replace(replace({column}, ',', '\\,'), '=', '\\='), ' ', '\\ ')";
                key.Append($" || CASE WHEN {column} IS NULL THEN '' ELSE {SqlNames.Literal("," + Escape(tag, ",= ") + "=")} || {value} END");
            }

            parts.Add($"SELECT {key} AS __v0 FROM {measurement.SeriesTable} WHERE {new ConditionSql(measurement, false, "SHOW SERIES").Translate(condition)}");
        }

        return new(parts.Count == 0 ? null : $"SELECT CAST(NULL AS VARCHAR) AS __name, __v0 FROM ({string.Join(" UNION ALL ", parts)}) ORDER BY __v0{LimitSql(show.Offset, show.Limit)}", SeriesShape.Values("key"));
    }

    private static TranslatedStatement RetentionPolicies(ShowRetentionPoliciesStatement show, TranslationContext context)
    {
        context.Database(show.Database);
        return new(StaticRows([[null, "autogen", "0s", "168h0m0s", 1L, true]]), SeriesShape.Values("name", "duration", "shardGroupDuration", "replicaN", "default"));
    }

    /// <summary>Line protocol's escaping of a measurement name or a tag key: a backslash before each of <paramref name="special"/>.</summary>
    private static string Escape(string name, string special)
    {
        var text = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            if (special.Contains(c, StringComparison.Ordinal))
            {
                text.Append('\\');
            }

            text.Append(c);
        }

        return text.ToString();
    }

    private static Expr? TagCondition(Expr? condition) => TimeConditions.Split(condition, 0, null).Remaining;

    private static bool Matches(NameFilter? filter, string name)
    {
        if (filter is null)
        {
            return true;
        }

        bool match = filter.Regex is not null ? NameRegex.Create(filter.Regex).IsMatch(name) : filter.Names.Contains(name, StringComparer.Ordinal);
        return filter.Operator is TokenKind.Equal or TokenKind.EqualRegex ? match : !match;
    }

    private static IEnumerable<T> Page<T>(IEnumerable<T> items, long offset, long limit)
    {
        var page = items.Skip((int)Math.Min(offset, int.MaxValue));
        return limit > 0 ? page.Take((int)Math.Min(limit, int.MaxValue)) : page;
    }

    private static string LimitSql(long offset, long limit) =>
        (limit > 0 ? " LIMIT " + limit.ToString(CultureInfo.InvariantCulture) : "") + (offset > 0 ? " OFFSET " + offset.ToString(CultureInfo.InvariantCulture) : "");

    private static string PerSeries(long offset, long limit, string order)
    {
        if (offset == 0 && limit == 0)
        {
            return "";
        }

        string row = $"row_number() OVER (PARTITION BY __name ORDER BY {order})";
        return limit > 0 ? $"QUALIFY {row} > {offset} AND {row} <= {(decimal)offset + limit}" : $"QUALIFY {row} > {offset}";
    }

    /// <summary>Rows known here, as SQL (VALUES in order); null when there are none.</summary>
    private static string? StaticRows(IEnumerable<object?[]> rows)
    {
        var values = new StringBuilder();
        int count = 0;
        int width = 0;
        foreach (var row in rows)
        {
            width = row.Length;
            values.Append(count == 0 ? "" : ", ").Append('(');
            foreach (var value in row)
            {
                values.Append(value switch
                {
                    null => "CAST(NULL AS VARCHAR)",
                    string text => SqlNames.Literal(text),
                    long number => number.ToString(CultureInfo.InvariantCulture),
                    bool flag => flag ? "TRUE" : "FALSE",
                    _ => throw new ArgumentOutOfRangeException(nameof(rows), value.GetType().Name, "unexpected value type"),
                }).Append(", ");
            }

            values.Append(count.ToString(CultureInfo.InvariantCulture)).Append(')');
            count++;
        }

        if (count == 0)
        {
            return null;
        }

        var columns = new StringBuilder("__name");
        for (int i = 1; i < width; i++)
        {
            columns.Append(", __v").Append((i - 1).ToString(CultureInfo.InvariantCulture));
        }

        return $"SELECT * FROM (VALUES {values}) AS t({columns}, __k) ORDER BY __k";
    }
}
