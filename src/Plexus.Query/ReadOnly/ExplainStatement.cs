namespace Plexus.Query.ReadOnly;

/// <summary>
/// An <c>EXPLAIN</c> a user sent, taken apart so that the statement it wraps can be checked like any other query,
/// and put back together from the checked parts only: what runs is <c>EXPLAIN</c>, optionally <c>ANALYZE</c> and a
/// <c>FORMAT</c> from a fixed list, followed by exactly the text that passed the check. A prefix this reader does
/// not understand is refused rather than guessed at.
/// </summary>
internal sealed record ExplainStatement(bool Analyze, string? Format, string Inner)
{
    private static readonly string[] Formats = ["text", "json", "html", "graphviz", "yaml"];

    /// <summary>The statement to run: the checked inner statement under the recognised options.</summary>
    public string ToSql()
    {
        if (Format is null)
        {
            return Analyze ? "EXPLAIN ANALYZE " + Inner : "EXPLAIN " + Inner;
        }

        return Analyze ? $"EXPLAIN (ANALYZE, FORMAT {Format}) {Inner}" : $"EXPLAIN (FORMAT {Format}) {Inner}";
    }

    /// <summary>
    /// True when <paramref name="sql"/> starts with the keyword EXPLAIN (after white space and comments); then either
    /// <paramref name="explain"/> is set or <paramref name="problem"/> says which part was not understood.
    /// </summary>
    public static bool TryParse(string sql, out ExplainStatement? explain, out string? problem)
    {
        explain = null;
        problem = null;
        int position = SkipSpace(sql, 0);
        if (!TryKeyword(sql, ref position, "EXPLAIN"))
        {
            return false;
        }

        bool analyze = false;
        string? format = null;
        position = SkipSpace(sql, position);
        if (TryKeyword(sql, ref position, "ANALYZE") || TryKeyword(sql, ref position, "ANALYSE"))
        {
            analyze = true;
        }
        else if (position < sql.Length && sql[position] == '(')
        {
            position++;
            while (true)
            {
                position = SkipSpace(sql, position);
                string word = Word(sql, ref position);
                if (word.Equals("ANALYZE", StringComparison.OrdinalIgnoreCase) || word.Equals("ANALYSE", StringComparison.OrdinalIgnoreCase))
                {
                    analyze = true;
                    int afterOption = SkipSpace(sql, position);
                    string value = Word(sql, ref afterOption);
                    if (value.Equals("true", StringComparison.OrdinalIgnoreCase) || value.Equals("on", StringComparison.OrdinalIgnoreCase))
                    {
                        position = afterOption;
                    }
                    else if (value.Equals("false", StringComparison.OrdinalIgnoreCase) || value.Equals("off", StringComparison.OrdinalIgnoreCase))
                    {
                        analyze = false;
                        position = afterOption;
                    }
                }
                else if (word.Equals("FORMAT", StringComparison.OrdinalIgnoreCase))
                {
                    position = SkipSpace(sql, position);
                    string value = Word(sql, ref position).ToLowerInvariant();
                    if (Array.IndexOf(Formats, value) < 0)
                    {
                        problem = $"EXPLAIN FORMAT \"{value}\" is not one of {string.Join(", ", Formats)}";
                        return true;
                    }

                    format = value;
                }
                else
                {
                    problem = word.Length == 0
                        ? "EXPLAIN's option list could not be read; use EXPLAIN, EXPLAIN ANALYZE or EXPLAIN (ANALYZE, FORMAT json)"
                        : $"EXPLAIN option \"{word}\" is not supported on the query API; use ANALYZE and FORMAT";
                    return true;
                }

                position = SkipSpace(sql, position);
                if (position < sql.Length && sql[position] == ',')
                {
                    position++;
                    continue;
                }

                if (position < sql.Length && sql[position] == ')')
                {
                    position++;
                    break;
                }

                problem = "EXPLAIN's option list is not closed with ')'";
                return true;
            }
        }

        string inner = sql[position..].Trim();
        if (inner.Length == 0)
        {
            problem = "EXPLAIN needs a statement to explain";
            return true;
        }

        explain = new ExplainStatement(analyze, format, inner);
        return true;
    }

    private static bool TryKeyword(string sql, ref int position, string keyword)
    {
        if (string.Compare(sql, position, keyword, 0, keyword.Length, StringComparison.OrdinalIgnoreCase) != 0)
        {
            return false;
        }

        int end = position + keyword.Length;
        if (end < sql.Length && IsWordChar(sql[end]))
        {
            return false;
        }

        position = end;
        return true;
    }

    private static string Word(string sql, ref int position)
    {
        int start = position;
        while (position < sql.Length && IsWordChar(sql[position]))
        {
            position++;
        }

        return sql[start..position];
    }

    private static bool IsWordChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';

    /// <summary>Skips white space, <c>-- line</c> and <c>/* block */</c> comments.</summary>
    private static int SkipSpace(string sql, int position)
    {
        while (position < sql.Length)
        {
            if (char.IsWhiteSpace(sql[position]))
            {
                position++;
            }
            else if (position + 1 < sql.Length && sql[position] == '-' && sql[position + 1] == '-')
            {
                int end = sql.IndexOf('\n', position);
                position = end < 0 ? sql.Length : end + 1;
            }
            else if (position + 1 < sql.Length && sql[position] == '/' && sql[position + 1] == '*')
            {
                int end = sql.IndexOf("*/", position + 2, StringComparison.Ordinal);
                position = end < 0 ? sql.Length : end + 2;
            }
            else
            {
                break;
            }
        }

        return position;
    }
}
