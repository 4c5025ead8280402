using System.Text;

namespace Plexus.PgWire.Sql;

/// <summary>
/// The little of SQL's lexical structure the wire layer needs: where strings, quoted names, comments and dollar-quoted
/// bodies are, so that a semicolon, a <c>$1</c> or a function name is only seen in code. Nothing is parsed beyond that;
/// the engine parses every statement itself.
/// </summary>
internal static class SqlText
{
    /// <summary>Splits a simple-query string into statements at semicolons outside strings and comments; empty ones are dropped.</summary>
    public static List<string> Split(string sql)
    {
        var statements = new List<string>();
        int start = 0;
        Scan(sql, (kind, position, _) =>
        {
            if (kind == Token.Semicolon)
            {
                Add(sql[start..position]);
                start = position + 1;
            }
        });
        Add(sql[start..]);
        return statements;

        void Add(string statement)
        {
            if (!IsBlank(statement))
            {
                statements.Add(statement.Trim());
            }
        }
    }

    /// <summary>True when the text holds only white space and comments.</summary>
    public static bool IsBlank(string sql)
    {
        bool code = false;
        Scan(sql, (kind, position, length) => code |= kind is not Token.Comment && !string.IsNullOrWhiteSpace(sql.Substring(position, length)));
        return !code;
    }

    /// <summary>The highest parameter number (<c>$n</c>) the statement uses.</summary>
    public static int ParameterCount(string sql)
    {
        int highest = 0;
        Scan(sql, (kind, position, length) =>
        {
            if (kind == Token.Parameter && int.TryParse(sql.AsSpan(position + 1, length - 1), out int number))
            {
                highest = Math.Max(highest, number);
            }
        });
        return highest;
    }

    /// <summary>Replaces each <c>$n</c> with <paramref name="literals"/>[n-1], a SQL literal made by <see cref="PgParameters"/>.</summary>
    public static string Bind(string sql, IReadOnlyList<string> literals)
    {
        if (literals.Count == 0)
        {
            return sql;
        }

        var text = new StringBuilder(sql.Length + 32);
        int copied = 0;
        Scan(sql, (kind, position, length) =>
        {
            if (kind == Token.Parameter && int.TryParse(sql.AsSpan(position + 1, length - 1), out int number) && number >= 1 && number <= literals.Count)
            {
                text.Append(sql, copied, position - copied).Append(literals[number - 1]);
                copied = position + length;
            }
        });
        return text.Append(sql, copied, sql.Length - copied).ToString();
    }

    /// <summary>The statement's text with strings, quoted names and comments blanked out: for matching keywords.</summary>
    public static string CodeOnly(string sql)
    {
        var chars = sql.ToCharArray();
        Scan(sql, (kind, position, length) =>
        {
            if (kind is Token.Quoted or Token.Comment)
            {
                for (int i = position; i < position + length; i++)
                {
                    chars[i] = ' ';
                }
            }
        });
        return new string(chars);
    }

    public enum Token
    {
        Code,
        Quoted,
        Comment,
        Parameter,
        Semicolon,
    }

    /// <summary>Calls <paramref name="visit"/> with each token's kind, start and length, in order.</summary>
    public static void Scan(string sql, Action<Token, int, int> visit)
    {
        int i = 0;
        int codeStart = 0;
        while (i < sql.Length)
        {
            char c = sql[i];
            int end = -1;
            var kind = Token.Code;
            if (c == '\'')
            {
                bool escapes = i > 0 && (sql[i - 1] is 'e' or 'E') && (i < 2 || !IsIdentifierChar(sql[i - 2]));
                end = EndOfQuoted(sql, i, '\'', escapes);
                kind = Token.Quoted;
            }
            else if (c == '"')
            {
                end = EndOfQuoted(sql, i, '"', escapes: false);
                kind = Token.Quoted;
            }
            else if (c == '-' && i + 1 < sql.Length && sql[i + 1] == '-')
            {
                int newline = sql.IndexOf('\n', i);
                end = newline < 0 ? sql.Length : newline + 1;
                kind = Token.Comment;
            }
            else if (c == '/' && i + 1 < sql.Length && sql[i + 1] == '*')
            {
                int close = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                end = close < 0 ? sql.Length : close + 2;
                kind = Token.Comment;
            }
            else if (c == '$' && (i == 0 || !IsIdentifierChar(sql[i - 1])))
            {
                if (i + 1 < sql.Length && char.IsAsciiDigit(sql[i + 1]))
                {
                    end = i + 1;
                    while (end < sql.Length && char.IsAsciiDigit(sql[end]))
                    {
                        end++;
                    }

                    kind = Token.Parameter;
                }
                else if (DollarTag(sql, i) is { } tag)
                {
                    int close = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                    end = close < 0 ? sql.Length : close + tag.Length;
                    kind = Token.Quoted;
                }
            }
            else if (c == ';')
            {
                end = i + 1;
                kind = Token.Semicolon;
            }

            if (end < 0)
            {
                i++;
                continue;
            }

            if (i > codeStart)
            {
                visit(Token.Code, codeStart, i - codeStart);
            }

            visit(kind, i, end - i);
            i = end;
            codeStart = end;
        }

        if (sql.Length > codeStart)
        {
            visit(Token.Code, codeStart, sql.Length - codeStart);
        }
    }

    private static int EndOfQuoted(string sql, int start, char quote, bool escapes)
    {
        int i = start + 1;
        while (i < sql.Length)
        {
            if (escapes && sql[i] == '\\')
            {
                i += 2;
                continue;
            }

            if (sql[i] == quote)
            {
                if (i + 1 < sql.Length && sql[i + 1] == quote)
                {
                    i += 2;
                    continue;
                }

                return i + 1;
            }

            i++;
        }

        return sql.Length;
    }

    private static string? DollarTag(string sql, int start)
    {
        int i = start + 1;
        while (i < sql.Length && (char.IsAsciiLetter(sql[i]) || sql[i] == '_' || (i > start + 1 && char.IsAsciiDigit(sql[i]))))
        {
            i++;
        }

        return i < sql.Length && sql[i] == '$' ? sql[start..(i + 1)] : null;
    }

    private static bool IsIdentifierChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '$' || c > 127;
}
