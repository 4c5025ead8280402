using System.Text;
using Plexus.InfluxQL.Syntax;
using Plexus.InfluxQL.Translation;
using Plexus.Storage.Deleting;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Execution;

/// <summary>
/// InfluxQL's deletes as the store's one delete (docs/influxql.md#deleting-data): <c>DROP MEASUREMENT</c>,
/// <c>DROP DATABASE</c> and <c>DELETE FROM m WHERE …</c>, whose time conditions become the range and whose tag
/// comparisons are re-written in the delete's own predicate grammar and parsed by it, so they meet the same checks as
/// <c>plexus delete --where</c>.
/// </summary>
internal static class InfluxDeletes
{
    public static DeleteSelection Selection(Statement statement, string defaultDatabase, long nowNs) => statement switch
    {
        DropMeasurementStatement drop => new DeleteSelection(Namespace(defaultDatabase), drop.Name),
        DropDatabaseStatement drop => new DeleteSelection(Namespace(drop.Name), null),
        DeleteDataStatement delete => Rows(delete, defaultDatabase, nowNs),
        _ => throw new ArgumentException("not a delete", nameof(statement)),
    };

    private static DeleteSelection Rows(DeleteDataStatement delete, string defaultDatabase, long nowNs)
    {
        if (delete.Source is { Regex: not null })
        {
            throw new StatementException("DELETE FROM /regex/ is not supported: name one measurement, or delete by time alone (DELETE WHERE time < …) for every measurement of the database");
        }

        string ns = Namespace(delete.Source?.Database ?? defaultDatabase);
        var (bounds, remaining) = TimeConditions.Split(delete.Condition, nowNs, null);
        if (bounds.IsEmpty)
        {
            throw new StatementException("the time range of this DELETE is empty; nothing would be deleted");
        }

        TagPredicate? where = null;
        if (remaining is not null)
        {
            if (delete.Source is null)
            {
                throw new StatementException("DELETE WHERE with tag conditions needs FROM a measurement (tags belong to one)");
            }

            var text = new StringBuilder();
            Render(remaining, text);
            if (!TagPredicate.TryParse(text.ToString(), out where, out string? error))
            {
                throw new StatementException("the tag conditions of this DELETE cannot be used: " + error);
            }
        }

        // InfluxQL's upper bound includes its time; the store's excludes it.
        long? to = bounds.Upper is { } upper ? (upper == long.MaxValue ? null : upper + 1) : null;

        // DELETE FROM m with no WHERE deletes every row of m; the measurement stays (DROP MEASUREMENT drops it).
        return new DeleteSelection(ns, delete.Source?.Name, bounds.Lower, to, where) { KeepSchema = true };
    }

    private static void Render(Expr condition, StringBuilder text)
    {
        switch (condition)
        {
            case ParenExpr paren:
                text.Append('(');
                Render(paren.Inner, text);
                text.Append(')');
                return;
            case BinaryExpr { Operator: BinaryOperator.And or BinaryOperator.Or } junction:
                text.Append('(');
                Render(junction.Left, text);
                text.Append(junction.Operator == BinaryOperator.And ? " AND " : " OR ");
                Render(junction.Right, text);
                text.Append(')');
                return;
            case BinaryExpr { Operator: BinaryOperator.Equal or BinaryOperator.NotEqual, Left: VarRef tag, Right: StringLiteral value } comparison:
                text.Append('"').Append(tag.Name.Replace("\"", "\"\"", StringComparison.Ordinal)).Append('"')
                    .Append(comparison.Operator == BinaryOperator.Equal ? " = '" : " != '")
                    .Append(value.Value.Replace("'", "''", StringComparison.Ordinal)).Append('\'');
                return;
            default:
                throw new StatementException("DELETE … WHERE takes time ranges and tag comparisons (tag = 'value', tag != 'value') joined with AND and OR; for anything else select the rows in SQL first");
        }
    }

    private static string Namespace(string database)
    {
        if (database.Contains('/', StringComparison.Ordinal) || !Namespaces.TryNormalize(database, out string ns, out string? error))
        {
            throw new StatementException($"database \"{database}\" is not a valid name: letters, digits, '_' and '-' only");
        }

        return ns;
    }
}
