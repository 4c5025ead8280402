using System.Text.RegularExpressions;
using Plexus.Query;
using Plexus.Storage;

namespace Plexus.PgWire;

/// <summary>The query service's errors as ErrorResponses: a SQLSTATE a client can act on and, where known, the position.</summary>
internal static partial class PgErrors
{
    public static PgException From(Exception error, string sql, bool cancelRequested)
    {
        switch (error)
        {
            case PgException pg:
                return pg;
            case QueryRefusedException refused:
                return new PgException(PgErrorCodes.InsufficientPrivilege, refused.Message + " (this PostgreSQL listener is read-only)");
            case QueryTimeoutException timeout:
                return new PgException(PgErrorCodes.QueryCanceled, "canceling statement due to statement timeout: " + timeout.Message + " (--query-timeout)");
            case QueryBusyException busy:
                return new PgException(PgErrorCodes.InsufficientResources, busy.Message);
            case StoreUnavailableException unavailable:
                return new PgException(PgErrorCodes.IoError, unavailable.Message);
            case OperationCanceledException:
                return new PgException(PgErrorCodes.QueryCanceled, cancelRequested ? "canceling statement due to user request" : "canceling statement: the connection is closing");
            case QueryFailedException failed:
                return new PgException(CodeOf(failed.Message), WithoutContext(failed.Message), PositionOf(failed.Message, sql));
            default:
                return new PgException(PgErrorCodes.Internal, error.Message);
        }
    }

    /// <summary>An answer that ended after its first rows, as the error that ends it.</summary>
    public static PgException FromOutcome(QueryOutcome outcome, bool cancelRequested, long maxRows, long maxBytes) => outcome.End switch
    {
        QueryEnd.RowLimit => new PgException(PgErrorCodes.ProgramLimitExceeded, $"the result has more than {maxRows} rows, the most one query may return (--query-max-rows); add a LIMIT or aggregate, or raise the limit", hint: "the rows sent before this error are not the whole result"),
        QueryEnd.ByteLimit => new PgException(PgErrorCodes.ProgramLimitExceeded, $"the result is larger than {maxBytes} bytes, the most one answer may hold (--query-max-bytes); select fewer columns or rows, or raise the limit", hint: "the rows sent before this error are not the whole result"),
        QueryEnd.Timeout => new PgException(PgErrorCodes.QueryCanceled, "canceling statement due to statement timeout (--query-timeout)"),
        QueryEnd.Cancelled => new PgException(PgErrorCodes.QueryCanceled, cancelRequested ? "canceling statement due to user request" : "canceling statement"),
        _ => new PgException(CodeOf(outcome.Error ?? ""), WithoutContext(outcome.Error ?? "the query failed")),
    };

    private static string CodeOf(string message) => message switch
    {
        _ when message.Contains("Parser Error", StringComparison.Ordinal) || message.Contains("syntax error", StringComparison.OrdinalIgnoreCase) => PgErrorCodes.SyntaxError,
        _ when message.Contains("Table with name", StringComparison.Ordinal) || message.Contains("Table Function with name", StringComparison.Ordinal) => PgErrorCodes.UndefinedTable,
        _ when message.Contains("Schema with name", StringComparison.Ordinal) || message.Contains("namespace \"", StringComparison.Ordinal) => PgErrorCodes.UndefinedSchema,
        _ when message.Contains("Referenced column", StringComparison.Ordinal) || message.Contains("not found in FROM clause", StringComparison.Ordinal) => PgErrorCodes.UndefinedColumn,
        _ when message.Contains("Function with name", StringComparison.Ordinal) || message.Contains("No function matches", StringComparison.Ordinal) => PgErrorCodes.UndefinedFunction,
        _ when message.Contains("Conversion Error", StringComparison.Ordinal) || message.Contains("Could not convert", StringComparison.Ordinal) => PgErrorCodes.InvalidTextRepresentation,
        _ when message.Contains("Out of Range", StringComparison.OrdinalIgnoreCase) => PgErrorCodes.NumericOutOfRange,
        _ when message.Contains("Division by zero", StringComparison.OrdinalIgnoreCase) => PgErrorCodes.DivisionByZero,
        _ when message.Contains("Binder Error", StringComparison.Ordinal) => PgErrorCodes.SyntaxOrAccess,
        _ when message.Contains("Invalid Input Error", StringComparison.Ordinal) => PgErrorCodes.DataException,
        _ => PgErrorCodes.Internal,
    };

    /// <summary>
    /// The engine's message without its "LINE 1: …" excerpt: PostgreSQL clients draw their own from the position, and
    /// two excerpts of the same line confuse more than they help.
    /// </summary>
    private static string WithoutContext(string message)
    {
        int line = message.IndexOf("\nLINE ", StringComparison.Ordinal);
        return (line < 0 ? message : message[..line]).TrimEnd();
    }

    /// <summary>The 1-based position of the token the engine names ("at or near "FORM""), 0 when unknown.</summary>
    private static int PositionOf(string message, string sql)
    {
        var near = NearToken().Match(message);
        if (near.Success)
        {
            int index = sql.IndexOf(near.Groups["token"].Value, StringComparison.OrdinalIgnoreCase);
            return index < 0 ? 0 : index + 1;
        }

        var name = NamedObject().Match(message);
        if (name.Success)
        {
            int index = sql.IndexOf(name.Groups["name"].Value, StringComparison.OrdinalIgnoreCase);
            return index < 0 ? 0 : index + 1;
        }

        return 0;
    }

    [GeneratedRegex("at or near \"(?<token>[^\"]+)\"")]
    private static partial Regex NearToken();

    [GeneratedRegex("(?:Table|column|Function) with name (?<name>[^ ]+) does not exist|Referenced column \"(?<name>[^\"]+)\"")]
    private static partial Regex NamedObject();
}
