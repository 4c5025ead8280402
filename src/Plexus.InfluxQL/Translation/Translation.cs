namespace Plexus.InfluxQL.Translation;

/// <summary>
/// How the rows of a translated statement become InfluxDB series. The SQL's columns are, in order: the series name
/// (<c>VARCHAR</c>; NULL for none), one <c>VARCHAR</c> per key of <see cref="TagKeys"/> (NULL: the series does not
/// have the tag), the time in nanoseconds since the epoch (<c>BIGINT</c>) when <see cref="HasTime"/>, then one column
/// per value column; columns after those are ignored. Rows of one series are consecutive (the SQL orders by name and
/// tags), so series stream out one after another.
/// </summary>
/// <param name="Columns">The series' column names as InfluxDB shows them, <c>time</c> first when <see cref="HasTime"/>.</param>
/// <param name="TimeZone">The zone of <c>tz('…')</c>, for times written as RFC 3339; null is UTC.</param>
public sealed record SeriesShape(IReadOnlyList<string> TagKeys, bool HasTime, IReadOnlyList<string> Columns, TimeZoneInfo? TimeZone = null)
{
    /// <summary>Columns of the SQL result before the first value column.</summary>
    public int FirstValueColumn => 1 + TagKeys.Count + (HasTime ? 1 : 0);

    public int ValueCount => Columns.Count - (HasTime ? 1 : 0);

    /// <summary>Meta answers: a series name and values, no tags, no time.</summary>
    public static SeriesShape Values(params string[] columns) => new([], false, columns);
}

/// <summary>A statement made into SQL, or an answer known without running any (<see cref="Sql"/> null: no series).</summary>
public sealed record TranslatedStatement(string? Sql, SeriesShape Shape);
