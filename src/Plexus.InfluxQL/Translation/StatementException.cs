namespace Plexus.InfluxQL.Translation;

/// <summary>
/// A statement that parses but cannot be answered (an unknown database, a function Plexus lacks, a time range too
/// long for its buckets): InfluxDB answers these in the statement's result, <c>{"statement_id":0,"error":"…"}</c>,
/// with HTTP 200, and runs the other statements.
/// </summary>
public sealed class StatementException : Exception
{
    public StatementException(string message)
        : base(message)
    {
    }

    public StatementException()
    {
    }

    public StatementException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
