namespace Plexus.Storage;

/// <summary>The store could not do what was asked for a reason that is not the client's fault (I/O, engine error).</summary>
public class StorageException : Exception
{
    public StorageException(string message)
        : base(message)
    {
    }

    public StorageException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public StorageException()
    {
    }
}
