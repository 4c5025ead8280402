using System.Text;

namespace Plexus.Core;

/// <summary>
/// Why one line (or point) of a request was not stored: its 1-based line number, the offending text cut to
/// a readable length, and a reason a person can act on.
/// </summary>
public sealed record LineError(int Line, string Text, string Reason)
{
    public const int MaxTextLength = 120;

    /// <summary>Makes the quoted text for an error: invalid UTF-8 is replaced, long lines are cut with an ellipsis.</summary>
    public static string Excerpt(ReadOnlySpan<byte> line)
    {
        if (line.Length > MaxTextLength * 4)
        {
            line = line[..(MaxTextLength * 4)];
        }

        string text = Encoding.UTF8.GetString(line);
        return text.Length <= MaxTextLength ? text : string.Concat(text.AsSpan(0, MaxTextLength), "…");
    }

    public override string ToString() => $"line {Line}: {Reason}: {Text}";
}
