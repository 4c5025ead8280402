namespace Plexus.InfluxQL.Syntax;

/// <summary>
/// The query text is not InfluxQL Plexus reads: the message says what was found, what was expected and where, in
/// InfluxDB's words ("found FORM, expected FROM at line 1, char 15"), so that a person can find the spot.
/// </summary>
public sealed class InfluxQLSyntaxException : Exception
{
    public InfluxQLSyntaxException(string text, int position, string problem)
        : base($"{problem} at {Where(text, position)}")
    {
        Position = position;
    }

    public InfluxQLSyntaxException()
    {
    }

    public InfluxQLSyntaxException(string message)
        : base(message)
    {
    }

    public InfluxQLSyntaxException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Offset of the problem in the query text (0-based).</summary>
    public int Position { get; }

    /// <summary>"line 1, char 15": both 1-based, as InfluxDB counts them.</summary>
    public static string Where(string text, int position)
    {
        ArgumentNullException.ThrowIfNull(text);
        position = Math.Clamp(position, 0, text.Length);
        int line = 1;
        int lineStart = 0;
        for (int i = 0; i < position; i++)
        {
            if (text[i] == '\n')
            {
                line++;
                lineStart = i + 1;
            }
        }

        return $"line {line}, char {position - lineStart + 1}";
    }
}
