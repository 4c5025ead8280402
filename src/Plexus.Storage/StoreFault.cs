using DuckDB.NET.Data;
using DuckDB.NET.Native;

namespace Plexus.Storage;

/// <summary>
/// Why the store cannot write right now: <see cref="Reason"/> in words for clients and operators (never a server
/// path), and whether only a restart ends it. Health checks report it; refused writes and queries quote it.
/// </summary>
public sealed record StoreFault(string Reason, bool RestartRequired)
{
    // Linux errno values that .NET puts in IOException.HResult, and the Windows HRESULTs for a full disk.
    private const int NoSpaceErrno = 28;
    private const int QuotaExceededErrno = 122;
    private const int WindowsDiskFull = unchecked((int)0x80070070);
    private const int WindowsHandleDiskFull = unchecked((int)0x80070027);

    /// <summary>One sentence: what is wrong, what is refused, and what ends it.</summary>
    public string Describe() => RestartRequired
        ? $"the store cannot write: {Reason}; writes are refused until the server is restarted"
        : $"the store cannot write: {Reason}; writes are refused until that is fixed, then the store recovers by itself";

    /// <summary>The fault a failure of the store's own files or of a DuckDB commit stands for.</summary>
    internal static StoreFault Of(Exception error, bool restartRequired = false)
    {
        string reason = IsDiskFull(error) ? "the disk that holds the data folder is full"
            : IsIo(error) ? "reading or writing the data folder fails (an I/O error)"
            : "the database refuses to commit";
        return new StoreFault(reason, restartRequired || IsFatal(error));
    }

    /// <summary>
    /// True when <paramref name="error"/> comes from the disk (full, failing, read-only), not from the data or the
    /// statement. For code that runs DuckDB statements of its own (queries): such an error is a 503 for the client,
    /// and its message, which names server files, belongs in the log only.
    /// </summary>
    public static bool IsIo(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is IOException or UnauthorizedAccessException
                || (e is DuckDBException duck && (duck.ErrorType is DuckDBErrorType.Io or DuckDBErrorType.Fatal || IsDuckDbIoMessage(duck.Message))))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsDiskFull(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if ((e is IOException && e.HResult is NoSpaceErrno or QuotaExceededErrno or WindowsDiskFull or WindowsHandleDiskFull)
                || (e is DuckDBException && (e.Message.Contains("No space left on device", StringComparison.Ordinal) || e.Message.Contains("Disk quota exceeded", StringComparison.Ordinal))))
            {
                return true;
            }
        }

        return false;
    }

    // DuckDB reports a failed WAL write inside a "TransactionContext Error: Failed to commit" with the OS's text.
    private static bool IsDuckDbIoMessage(string message) =>
        message.Contains("Could not write file", StringComparison.Ordinal)
        || message.Contains("Could not read from file", StringComparison.Ordinal)
        || message.Contains("Could not fsync", StringComparison.Ordinal)
        || message.Contains("No space left on device", StringComparison.Ordinal)
        || message.Contains("Input/output error", StringComparison.Ordinal);

    // After a fatal error DuckDB refuses every further statement of the database until it is reopened.
    private static bool IsFatal(Exception error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is DuckDBException duck && (duck.ErrorType == DuckDBErrorType.Fatal || duck.Message.Contains("database has been invalidated", StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }
}
