namespace Plexus.Query;

/// <summary>A column of a query result: its name and its SQL type name (as DuckDB spells it).</summary>
public sealed record QueryColumn(string Name, string Type);

/// <summary>A finished query read in full: columns, rows (at most the configured limit) and whether rows were left out.</summary>
public sealed record QueryResult(IReadOnlyList<QueryColumn> Columns, IReadOnlyList<object?[]> Rows, bool Truncated);

/// <summary>How a streamed answer ended.</summary>
public enum QueryEnd
{
    /// <summary>Every row was sent.</summary>
    Complete,

    /// <summary>More rows than <c>--query-max-rows</c>; the rest were left out.</summary>
    RowLimit,

    /// <summary>The answer reached <c>--query-max-bytes</c>; the rest were left out.</summary>
    ByteLimit,

    /// <summary>The query ran past <c>--query-timeout</c> after its first rows were sent.</summary>
    Timeout,

    /// <summary>The engine failed after the first rows were sent (a cast error in a later row, say).</summary>
    Failed,

    /// <summary>The client went away.</summary>
    Cancelled,
}

/// <summary>What a streamed answer held: rows sent, bytes sent, and why it ended.</summary>
public sealed record QueryOutcome(long Rows, long Bytes, QueryEnd End, string? Error = null)
{
    /// <summary>True when the answer does not hold every row of the result.</summary>
    public bool Truncated => End != QueryEnd.Complete;
}

/// <summary>The formats <c>POST /api/v1/sql</c> answers in.</summary>
public enum QueryResultFormat
{
    Json,
    Csv,
}

/// <summary>What a query may read and where it starts.</summary>
/// <param name="Sql">One statement.</param>
/// <param name="Namespace">The namespace unqualified names resolve in; null is <c>main</c>.</param>
/// <param name="Namespaces">The namespaces the caller may read; null is every namespace.</param>
public sealed record QueryRequest(string Sql, string? Namespace = null, IReadOnlyCollection<string>? Namespaces = null);
