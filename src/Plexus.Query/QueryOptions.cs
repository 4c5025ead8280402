namespace Plexus.Query;

public sealed class QueryOptions
{
    /// <summary>A query still running after this is interrupted and answered with a timeout error.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Rows returned at most; the result says it was truncated when there were more.</summary>
    public int MaxRows { get; init; } = 100_000;
}
