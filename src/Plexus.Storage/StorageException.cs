namespace Plexus.Storage;

/// <summary>The store could not do what was asked for a reason that is not the client's fault (I/O, engine error).</summary>
public class StorageException : Exception
{
    public StorageException(string message)
        : base(message)
    {
    }

    public StorageException(string message, Exception? inner)
        : base(message, inner)
    {
    }

    public StorageException()
    {
    }
}

/// <summary>
/// The store cannot serve this right now, and the request may be retried as it is: it cannot write to its data
/// folder (a full disk, an I/O error) or it has acknowledged writes that it cannot get into the database, so a
/// query would answer without them. Nothing of a refused write was stored. The message is for clients: it says
/// what is wrong and names no server path (the inner exception, which may, goes to the server log only).
/// </summary>
public sealed class StoreUnavailableException : StorageException
{
    public StoreUnavailableException(string message, TimeSpan retryAfter, Exception? inner = null)
        : base(message, inner)
    {
        RetryAfter = retryAfter;
    }

    public StoreUnavailableException(string message)
        : this(message, DefaultRetryAfter)
    {
    }

    public StoreUnavailableException(string message, Exception inner)
        : this(message, DefaultRetryAfter, inner)
    {
    }

    public StoreUnavailableException()
        : this("the store is unavailable")
    {
    }

    /// <summary>The store retries a failed apply and checks a failed disk once a second.</summary>
    public static TimeSpan DefaultRetryAfter { get; } = TimeSpan.FromSeconds(1);

    /// <summary>When trying again makes sense (an HTTP Retry-After).</summary>
    public TimeSpan RetryAfter { get; }
}
