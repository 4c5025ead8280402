namespace Plexus.Storage.Deleting;

/// <summary>
/// What a delete removes from one namespace (docs/storage.md#deleting-data). With a measurement and no filter the
/// measurement is dropped (its rows, columns and view); with a filter only the matching rows go. Without a measurement,
/// a time range deletes from every measurement of the namespace and no filter drops the whole namespace.
/// </summary>
/// <param name="Namespace">A name already checked by <see cref="Schema.Namespaces.TryNormalize"/>.</param>
/// <param name="Measurement">The measurement's exact name, or null for every measurement of the namespace.</param>
/// <param name="FromNs">Rows at or after this time (Unix nanoseconds), or null for no lower bound.</param>
/// <param name="ToNs">Rows before this time (Unix nanoseconds), or null for no upper bound.</param>
/// <param name="Where">Only rows whose series' tags match, or null for every series; needs a measurement.</param>
public sealed record DeleteSelection(string Namespace, string? Measurement, long? FromNs = null, long? ToNs = null, TagPredicate? Where = null)
{
    /// <summary>Without a filter, delete every row but keep the measurements and their columns (InfluxQL's <c>DELETE FROM m</c>).</summary>
    public bool KeepSchema { get; init; }

    /// <summary>
    /// Retention's delete: a cold partition goes when every row of it is selected, and one the range only partly covers
    /// is kept whole (instead of rewriting its file) until a later check covers all of it.
    /// </summary>
    public bool WholeColdPartitionsOnly { get; init; }

    /// <summary>No filter: the measurement (or with none, the namespace) goes, not only its rows.</summary>
    public bool Drops => FromNs is null && ToNs is null && Where is null && !KeepSchema;

    /// <summary>Checks the selection's shape; null when it is valid, else what is wrong.</summary>
    public string? Validate()
    {
        if (string.IsNullOrEmpty(Namespace))
        {
            return "a delete needs a namespace";
        }

        if (Measurement is { Length: 0 })
        {
            return "the measurement name is empty";
        }

        if (Where is not null && Measurement is null)
        {
            return "a tag predicate (--where) needs a measurement: tags belong to one measurement";
        }

        if (Drops && Measurement is null && Namespace == Schema.Namespaces.Default)
        {
            return $"namespace {Schema.Namespaces.Default} cannot be dropped whole: the device registry's views read its measurements; drop its measurements one by one, or delete rows by time";
        }

        if (FromNs is { } from && ToNs is { } to && from >= to)
        {
            return "the time range is empty: --from must be before --to (--from is inclusive, --to exclusive)";
        }

        return null;
    }

    /// <summary>A short description for logs and the audit log: never holds a value of the predicate beyond its text's length limit.</summary>
    public string Describe()
    {
        string target = Measurement is null ? $"namespace {Namespace}" : $"{Namespace}.{Measurement}";
        if (Drops)
        {
            return "drop " + target;
        }

        var parts = new List<string> { "delete from " + target };
        if (FromNs is { } from)
        {
            parts.Add("from " + Format(from));
        }

        if (ToNs is { } to)
        {
            parts.Add("to " + Format(to));
        }

        if (Where is not null)
        {
            parts.Add("where tags " + string.Join(", ", Where.Tags));
        }

        return string.Join(" ", parts);
    }

    private static string Format(long ns) =>
        DateTimeOffset.UnixEpoch.AddTicks(ns / 100).ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>What a delete did: the rows it removed and the measurements it dropped whole.</summary>
public sealed record DeleteResult(long RowsDeleted, IReadOnlyList<string> MeasurementsDropped, bool NamespaceDropped)
{
    public static readonly DeleteResult Nothing = new(0, [], false);
}

/// <summary>The measurement or namespace a delete names does not exist.</summary>
public sealed class DeleteTargetNotFoundException(string message) : Exception(message);
