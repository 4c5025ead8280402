namespace Plexus.Query;

/// <summary>The statement would change data, schema or settings, which the query API does not allow.</summary>
public sealed class QueryRefusedException(string message) : Exception(message)
{
    public QueryRefusedException()
        : this("statement refused")
    {
    }

    public QueryRefusedException(string message, Exception inner)
        : this(message + ": " + inner.Message)
    {
    }
}

/// <summary>
/// The engine rejected the query (syntax, unknown table, type error); the message is the engine's, without its guesses
/// at internal catalog tables (<see cref="EngineSuggestions"/>).
/// </summary>
public sealed class QueryFailedException : Exception
{
    public QueryFailedException(string message)
        : base(EngineSuggestions.WithoutCatalogNames(message))
    {
    }

    public QueryFailedException(string message, Exception inner)
        : base(EngineSuggestions.WithoutCatalogNames(message), inner)
    {
    }

    public QueryFailedException()
    {
    }
}

/// <summary>The query ran past the configured timeout and was interrupted.</summary>
public sealed class QueryTimeoutException : Exception
{
    public QueryTimeoutException(TimeSpan timeout)
        : base($"query timed out after {timeout.TotalSeconds:0.###} s and was cancelled")
    {
    }

    public QueryTimeoutException()
    {
    }

    public QueryTimeoutException(string message)
        : base(message)
    {
    }

    public QueryTimeoutException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>Every query slot stayed taken; the client should try again after <see cref="RetryAfter"/>.</summary>
public sealed class QueryBusyException : Exception
{
    public QueryBusyException(string message, TimeSpan retryAfter)
        : base(message)
    {
        RetryAfter = retryAfter;
    }

    public QueryBusyException()
    {
    }

    public QueryBusyException(string message)
        : base(message)
    {
    }

    public QueryBusyException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public TimeSpan RetryAfter { get; } = TimeSpan.FromSeconds(1);
}
