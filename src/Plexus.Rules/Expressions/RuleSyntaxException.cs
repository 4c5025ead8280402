namespace Plexus.Rules.Expressions;

/// <summary>
/// A rule expression Plexus cannot compile: the message names the problem and where it is ("unknown function
/// 'avg' at char 12 of where"), so that a person can find the spot. <see cref="Position"/> is 0-based.
/// </summary>
public sealed class RuleSyntaxException : Exception
{
    public RuleSyntaxException(int position, string problem)
        : base($"{problem} at char {position + 1}")
    {
        Position = position;
        Problem = problem;
    }

    public RuleSyntaxException()
    {
        Problem = string.Empty;
    }

    public RuleSyntaxException(string message)
        : base(message)
    {
        Problem = message;
    }

    public RuleSyntaxException(string message, Exception inner)
        : base(message, inner)
    {
        Problem = message;
    }

    /// <summary>Offset of the problem in the expression text (0-based).</summary>
    public int Position { get; }

    /// <summary>What is wrong, without the position.</summary>
    public string Problem { get; }
}
