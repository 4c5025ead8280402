namespace Plexus.PgWire;

/// <summary>SQLSTATE codes the listener answers with (PostgreSQL's appendix A).</summary>
internal static class PgErrorCodes
{
    public const string SyntaxError = "42601";
    public const string UndefinedTable = "42P01";
    public const string UndefinedColumn = "42703";
    public const string UndefinedFunction = "42883";
    public const string UndefinedSchema = "3F000";
    public const string InvalidCatalogName = "3D000";
    public const string InsufficientPrivilege = "42501";
    public const string SyntaxOrAccess = "42000";
    public const string QueryCanceled = "57014";
    public const string InvalidPassword = "28P01";
    public const string InvalidAuthorization = "28000";
    public const string ProtocolViolation = "08P01";
    public const string FeatureNotSupported = "0A000";
    public const string InvalidBinaryRepresentation = "22P03";
    public const string InvalidTextRepresentation = "22P02";
    public const string NumericOutOfRange = "22003";
    public const string DivisionByZero = "22012";
    public const string DataException = "22000";
    public const string InvalidParameterValue = "22023";
    public const string ProgramLimitExceeded = "54000";
    public const string TooManyConnections = "53300";
    public const string InsufficientResources = "53000";
    public const string IoError = "58030";
    public const string InvalidSqlStatementName = "26000";
    public const string InvalidCursorName = "34000";
    public const string InFailedTransaction = "25P02";
    public const string CantChangeRuntimeParam = "55P02";
    public const string Internal = "XX000";
}

/// <summary>An error the client gets as an ErrorResponse with a SQLSTATE; <see cref="Position"/> is 1-based in the statement, 0 unknown.</summary>
internal sealed class PgException(string code, string message, int position = 0, string? hint = null) : Exception(message)
{
    public string Code { get; } = code;

    public int Position { get; } = position;

    public string? Hint { get; } = hint;
}

/// <summary>The client broke the protocol (framing, order, sizes): the connection ends after one ErrorResponse.</summary>
internal sealed class PgProtocolException(string message, string code = PgErrorCodes.ProtocolViolation) : Exception(message)
{
    public string Code { get; } = code;
}
