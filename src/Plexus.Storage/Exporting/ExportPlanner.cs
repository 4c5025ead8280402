using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Plexus.Core;
using Plexus.Storage.Deleting;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Exporting;

/// <summary>What an export reads: one measurement's rows, optionally in a time range and for the series a tag predicate selects.</summary>
/// <param name="Namespace">A name already checked by <see cref="Namespaces.TryNormalize"/>.</param>
/// <param name="Measurement">The measurement's exact name.</param>
/// <param name="FromNs">Rows at or after this time (Unix nanoseconds), or null for no lower bound.</param>
/// <param name="ToNs">Rows before this time (Unix nanoseconds), or null for no upper bound.</param>
/// <param name="Where">The tag predicate of <c>--where</c> (the delete's grammar), or null for every series.</param>
public sealed record ExportSelection(string Namespace, string Measurement, long? FromNs = null, long? ToNs = null, TagPredicate? Where = null)
{
    /// <summary>Checks the selection's shape; null when it is valid, else what is wrong.</summary>
    public string? Validate() =>
        string.IsNullOrEmpty(Measurement) ? "an export needs a measurement: name it as namespace.measurement, e.g. main.readings"
        : FromNs is { } from && ToNs is { } to && from >= to ? "the time range is empty: --from must be before --to (--from is inclusive, --to exclusive)"
        : null;
}

/// <summary>What a column of an export holds.</summary>
public enum ExportColumnRole : byte
{
    /// <summary>The row's time, as Unix nanoseconds.</summary>
    Time,

    /// <summary>A tag (a string, NULL where the series lacks it).</summary>
    Tag,

    /// <summary>A field of <see cref="ExportColumn.Type"/> (NULL where the row has no value).</summary>
    Field,
}

/// <summary>One column of an export, in the order of the plan's SELECT.</summary>
public sealed record ExportColumn(string Name, ExportColumnRole Role, FieldType Type);

/// <summary>The SELECT an export runs, its bound values and what each column is.</summary>
public sealed record ExportPlan(string Sql, IReadOnlyList<object?> Parameters, IReadOnlyList<ExportColumn> Columns);

/// <summary>
/// Builds an export's query from a <see cref="ExportSelection"/>, on a read connection: the measurement's tags and
/// fields are read from its tables (the writer's catalog belongs to the writer's thread), the time bounds and every
/// value of the tag predicate are bound parameters and every name a quoted identifier, so nothing a user sends becomes
/// SQL text. Rows come in no particular order: sorting a measurement of any size would cost memory or spill.
/// </summary>
public static class ExportPlanner
{
    /// <exception cref="ExportTargetNotFoundException">The namespace or the measurement does not exist.</exception>
    /// <exception cref="DeletePredicateException">The predicate names a tag the measurement does not have.</exception>
    /// <param name="timeAsTimestamp">Time as TIMESTAMP_NS (for a Parquet file) rather than Unix nanoseconds.</param>
    public static ExportPlan Plan(DuckDBConnection connection, ExportSelection selection, bool timeAsTimestamp = false)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(selection);
        int? id = null;
        MetadataConnection.ForEachRow(connection, $"SELECT id FROM {SqlNames.InternalSchema}.measurements WHERE namespace = $1 AND name = $2",
            reader => id = reader.GetInt32(0), selection.Namespace, selection.Measurement);
        if (id is null)
        {
            throw new ExportTargetNotFoundException($"measurement {selection.Namespace}.{selection.Measurement} does not exist (names are case-sensitive; SELECT * FROM main.measurements lists them)");
        }

        var measurement = new MeasurementSchema(id.Value, selection.Namespace, selection.Measurement);
        Catalog.LoadColumns(connection, measurement);

        var columns = new List<ExportColumn> { new(SqlNames.TimeColumn, ExportColumnRole.Time, FieldType.Integer) };
        var sql = new StringBuilder(timeAsTimestamp ? "SELECT s." + SqlNames.TimeColumn : "SELECT epoch_ns(s." + SqlNames.TimeColumn + ") AS " + SqlNames.TimeColumn);
        foreach (var tag in measurement.Tags)
        {
            sql.Append(", s.").Append(SqlNames.Quote(tag.Name));
            columns.Add(new ExportColumn(tag.Name, ExportColumnRole.Tag, FieldType.String));
        }

        foreach (var field in measurement.Fields)
        {
            sql.Append(", s.").Append(SqlNames.Quote(field.Name));
            columns.Add(new ExportColumn(field.Name, ExportColumnRole.Field, field.Type));
        }

        sql.Append(" FROM ").Append(SqlNames.Quote(selection.Namespace)).Append('.').Append(SqlNames.Quote(selection.Measurement)).Append(" AS s");
        var parameters = new List<object?>();
        var conditions = new List<string>();
        if (selection.FromNs is { } from)
        {
            parameters.Add(from);
            conditions.Add($"s.{SqlNames.TimeColumn} >= make_timestamp_ns(${parameters.Count.ToString(CultureInfo.InvariantCulture)})");
        }

        if (selection.ToNs is { } to)
        {
            parameters.Add(to);
            conditions.Add($"s.{SqlNames.TimeColumn} < make_timestamp_ns(${parameters.Count.ToString(CultureInfo.InvariantCulture)})");
        }

        if (selection.Where is { } where)
        {
            var predicate = new StringBuilder();
            where.AppendSql(predicate, parameters, measurement);
            conditions.Add(predicate.ToString());
        }

        if (conditions.Count > 0)
        {
            sql.Append(" WHERE ").AppendJoin(" AND ", conditions);
        }

        return new ExportPlan(sql.ToString(), parameters, columns);
    }
}

/// <summary>The measurement an export names does not exist.</summary>
public sealed class ExportTargetNotFoundException(string message) : Exception(message);
