using System.Text;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Deleting;

/// <summary>
/// The <c>--where</c> of a delete: a predicate over a measurement's tag columns in a small grammar of its own, parsed
/// here and turned into SQL with quoted identifiers and bound parameters, so that no character a user sends becomes
/// SQL text. Values are only ever string literals, because tags are strings.
/// </summary>
/// <remarks>
/// <code>
///  predicate  := or
///  or         := and ( OR and )*
///  and        := factor ( AND factor )*
///  factor     := '(' or ')' | tag ( '=' | '!=' | '&lt;&gt;' ) 'value' | tag [ NOT ] IN '(' 'value' ( ',' 'value' )* ')'
///  tag        := letter-or-underscore ( letter | digit | '_' | '-' | '.' )*  |  "double-quoted name" ("" inside)
///  value      := single-quoted text ('' inside)
/// </code>
/// Keywords ignore case. Everything else (functions, numbers, comparisons other than equality, comments, a second
/// statement) is refused with the position where it starts.
/// </remarks>
public abstract class TagPredicate
{
    /// <summary>Longest predicate text accepted.</summary>
    public const int MaxLength = 4096;

    /// <summary>Deepest nesting of parentheses accepted.</summary>
    public const int MaxDepth = 32;

    /// <summary>Most values in all comparisons and IN lists together (each becomes a bound parameter).</summary>
    public const int MaxValues = 1000;

    private protected TagPredicate()
    {
    }

    /// <summary>The tags the predicate names, each once, in order of first use.</summary>
    public IReadOnlyList<string> Tags
    {
        get
        {
            var tags = new List<string>();
            CollectTags(tags);
            return tags;
        }
    }

    /// <summary>Parses <paramref name="text"/>; false with a message naming what is wrong and where.</summary>
    public static bool TryParse(string text, out TagPredicate? predicate, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        predicate = null;
        if (text.Length > MaxLength)
        {
            error = $"the predicate is {text.Length} characters long; at most {MaxLength} are accepted";
            return false;
        }

        var parser = new Parser(text);
        try
        {
            var parsed = parser.ParseOr(0);
            parser.ExpectEnd();
            predicate = parsed;
            error = null;
            return true;
        }
        catch (FormatException refusal)
        {
            error = refusal.Message;
            return false;
        }
    }

    /// <summary>
    /// Appends the SQL of the predicate over the series table aliased <c>s</c>, adding each value to
    /// <paramref name="parameters"/> as <c>$n</c>. Tags are matched against <paramref name="measurement"/>'s columns by
    /// exact name; an unknown tag is an error naming the tags there are.
    /// </summary>
    internal void AppendSql(StringBuilder sql, List<object?> parameters, MeasurementSchema measurement) => Append(sql, parameters, measurement);

    private protected abstract void Append(StringBuilder sql, List<object?> parameters, MeasurementSchema measurement);

    private protected abstract void CollectTags(List<string> tags);

    private protected static string Column(string tag, MeasurementSchema measurement)
    {
        if (measurement.FindTag(Encoding.UTF8.GetBytes(tag)) is null)
        {
            string known = measurement.Tags.Count == 0 ? "it has no tags" : "its tags are " + string.Join(", ", measurement.Tags.Select(t => t.Name));
            string hint = measurement.FindField(Encoding.UTF8.GetBytes(tag)) is not null
                ? $" (\"{tag}\" is a field; --where filters on tags only)"
                : tag.Equals(SqlNames.TimeColumn, StringComparison.OrdinalIgnoreCase) ? " (use --from and --to for time)" : "";
            throw new DeletePredicateException($"unknown tag \"{tag}\" in measurement {measurement.Namespace}.{measurement.Name}{hint}; {known}");
        }

        return "s." + SqlNames.Quote(tag);
    }

    private static string Parameter(List<object?> parameters, string value)
    {
        parameters.Add(value);
        return "$" + parameters.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed class Comparison(string tag, bool negated, IReadOnlyList<string> values) : TagPredicate
    {
        private protected override void Append(StringBuilder sql, List<object?> parameters, MeasurementSchema measurement)
        {
            string column = Column(tag, measurement);
            if (values.Count == 1)
            {
                // A series without the tag holds NULL there: "tag != 'x'" includes it, as it would read to a person.
                sql.Append(negated ? $"({column} IS DISTINCT FROM {Parameter(parameters, values[0])})" : $"{column} = {Parameter(parameters, values[0])}");
                return;
            }

            sql.Append(negated ? $"({column} IS NULL OR {column} NOT IN (" : $"{column} IN (");
            for (int i = 0; i < values.Count; i++)
            {
                sql.Append(i == 0 ? "" : ", ").Append(Parameter(parameters, values[i]));
            }

            sql.Append(negated ? "))" : ")");
        }

        private protected override void CollectTags(List<string> tags)
        {
            if (!tags.Contains(tag))
            {
                tags.Add(tag);
            }
        }
    }

    private sealed class Junction(bool and, TagPredicate left, TagPredicate right) : TagPredicate
    {
        private protected override void Append(StringBuilder sql, List<object?> parameters, MeasurementSchema measurement)
        {
            sql.Append('(');
            left.Append(sql, parameters, measurement);
            sql.Append(and ? " AND " : " OR ");
            right.Append(sql, parameters, measurement);
            sql.Append(')');
        }

        private protected override void CollectTags(List<string> tags)
        {
            left.CollectTags(tags);
            right.CollectTags(tags);
        }
    }

    private sealed class Parser(string text)
    {
        private int _at;
        private int _values;

        public TagPredicate ParseOr(int depth)
        {
            var left = ParseAnd(depth);
            while (TryKeyword("OR"))
            {
                left = new Junction(and: false, left, ParseAnd(depth));
            }

            return left;
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (_at < text.Length)
            {
                throw Refuse(text[_at] == ')' ? "a ')' without its '('" : "AND, OR or the end of the predicate");
            }
        }

        private TagPredicate ParseAnd(int depth)
        {
            var left = ParseFactor(depth);
            while (TryKeyword("AND"))
            {
                left = new Junction(and: true, left, ParseFactor(depth));
            }

            return left;
        }

        private TagPredicate ParseFactor(int depth)
        {
            SkipSpace();
            if (TryChar('('))
            {
                if (depth + 1 > MaxDepth)
                {
                    throw new FormatException($"parentheses nest deeper than {MaxDepth} levels at position {_at}");
                }

                var inner = ParseOr(depth + 1);
                SkipSpace();
                if (!TryChar(')'))
                {
                    throw Refuse("')'");
                }

                return inner;
            }

            string tag = ParseTag();
            SkipSpace();
            if (TryChar('='))
            {
                return new Comparison(tag, negated: false, [ParseValue()]);
            }

            if (TryChar('!') || TryChar('<'))
            {
                char second = text[_at - 1] == '!' ? '=' : '>';
                if (!TryChar(second))
                {
                    throw Refuse("'=', '!=', '<>', IN or NOT IN after the tag");
                }

                return new Comparison(tag, negated: true, [ParseValue()]);
            }

            bool negated = TryKeyword("NOT");
            if (!TryKeyword("IN"))
            {
                throw Refuse(negated ? "IN after NOT" : $"'=', '!=', '<>', IN or NOT IN after tag \"{tag}\"");
            }

            SkipSpace();
            if (!TryChar('('))
            {
                throw Refuse("'(' to open the IN list");
            }

            var values = new List<string> { ParseValue() };
            SkipSpace();
            while (TryChar(','))
            {
                values.Add(ParseValue());
                SkipSpace();
            }

            if (!TryChar(')'))
            {
                throw Refuse("',' or ')' in the IN list");
            }

            return new Comparison(tag, negated, values);
        }

        private string ParseTag()
        {
            SkipSpace();
            if (TryChar('"'))
            {
                var name = new StringBuilder();
                while (true)
                {
                    if (_at >= text.Length)
                    {
                        throw new FormatException("a tag name in double quotes is not closed");
                    }

                    char c = text[_at++];
                    if (c == '"')
                    {
                        if (_at < text.Length && text[_at] == '"')
                        {
                            name.Append('"');
                            _at++;
                            continue;
                        }

                        break;
                    }

                    name.Append(c);
                }

                if (name.Length == 0)
                {
                    throw new FormatException($"an empty tag name at position {_at - 2}");
                }

                return name.ToString();
            }

            int start = _at;
            if (_at < text.Length && (char.IsAsciiLetter(text[_at]) || text[_at] == '_'))
            {
                _at++;
                while (_at < text.Length && (char.IsAsciiLetterOrDigit(text[_at]) || text[_at] is '_' or '-' or '.'))
                {
                    _at++;
                }
            }

            if (_at == start)
            {
                throw Refuse("a tag name (letters, digits, '_', '-', '.'; or any name in double quotes)");
            }

            string tag = text[start.._at];
            if (IsKeyword(tag))
            {
                _at = start;
                throw Refuse($"a tag name, not the keyword {tag.ToUpperInvariant()} (put a tag of that name in double quotes)");
            }

            return tag;
        }

        private string ParseValue()
        {
            SkipSpace();
            if (!TryChar('\''))
            {
                throw Refuse("a value in single quotes, e.g. 'truck_1'");
            }

            if (++_values > MaxValues)
            {
                throw new FormatException($"the predicate compares more than {MaxValues} values; split the delete");
            }

            var value = new StringBuilder();
            while (true)
            {
                if (_at >= text.Length)
                {
                    throw new FormatException("a value in single quotes is not closed (write a quote inside a value as '')");
                }

                char c = text[_at++];
                if (c == '\'')
                {
                    if (_at < text.Length && text[_at] == '\'')
                    {
                        value.Append('\'');
                        _at++;
                        continue;
                    }

                    return value.ToString();
                }

                value.Append(c);
            }
        }

        private static bool IsKeyword(string word) =>
            word.Equals("AND", StringComparison.OrdinalIgnoreCase) || word.Equals("OR", StringComparison.OrdinalIgnoreCase)
            || word.Equals("NOT", StringComparison.OrdinalIgnoreCase) || word.Equals("IN", StringComparison.OrdinalIgnoreCase);

        private bool TryKeyword(string keyword)
        {
            SkipSpace();
            if (_at + keyword.Length > text.Length || !text.AsSpan(_at, keyword.Length).Equals(keyword, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            int end = _at + keyword.Length;
            if (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] is '_' or '-' or '.'))
            {
                return false;
            }

            _at = end;
            return true;
        }

        private bool TryChar(char c)
        {
            if (_at < text.Length && text[_at] == c)
            {
                _at++;
                return true;
            }

            return false;
        }

        private void SkipSpace()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at]))
            {
                _at++;
            }
        }

        private FormatException Refuse(string expected)
        {
            if (_at >= text.Length)
            {
                return new FormatException($"the predicate ends where {expected} was expected");
            }

            string found = text.Substring(_at, Math.Min(20, text.Length - _at));
            return new FormatException($"expected {expected} at position {_at}, found \"{found}{(text.Length - _at > 20 ? "…" : "")}\"");
        }
    }
}

/// <summary>A delete's predicate names a tag the measurement does not have, or cannot be applied to it.</summary>
public sealed class DeletePredicateException(string message) : Exception(message);
