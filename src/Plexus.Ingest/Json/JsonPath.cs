using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Plexus.Ingest.Json;

/// <summary>
/// Cold path: the JSONPath of a token, found by reading the document again up to the token's offset. The hot
/// path only keeps offsets; this runs once per rejected message.
/// </summary>
internal static class JsonPath
{
    /// <summary>
    /// The path of the token that starts at <paramref name="tokenStart"/>, e.g. <c>$[2].engine.temp</c>; for a
    /// property name, the path of its member. Names that are not plain identifiers use brackets: <c>$['a b']</c>.
    /// </summary>
    public static string To(ReadOnlySpan<byte> json, JsonReaderOptions options, int tokenStart)
    {
        var frames = new List<Frame>();
        var reader = new Utf8JsonReader(json, options);
        try
        {
            while (reader.Read())
            {
                int start = (int)reader.TokenStartIndex;
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        frames[^1] = frames[^1] with { Name = NameOf(ref reader) };
                        if (start == tokenStart)
                        {
                            return Format(frames);
                        }

                        break;

                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        Advance(frames);
                        if (start == tokenStart)
                        {
                            return Format(frames);
                        }

                        frames.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, -1, null));
                        break;

                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.RemoveAt(frames.Count - 1);
                        break;

                    default:
                        Advance(frames);
                        if (start == tokenStart)
                        {
                            return Format(frames);
                        }

                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Unreachable: the decoder read this far without error. Fall back to where we got.
        }

        return Format(frames);
    }

    private static void Advance(List<Frame> frames)
    {
        if (frames.Count > 0 && frames[^1].IsArray)
        {
            frames[^1] = frames[^1] with { Index = frames[^1].Index + 1 };
        }
    }

    private static string NameOf(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString() ?? "";
        }
        catch (InvalidOperationException)
        {
            // Invalid UTF-8 or an unpaired surrogate: show the name as written.
            return Encoding.UTF8.GetString(reader.ValueSpan);
        }
    }

    private static string Format(List<Frame> frames)
    {
        var path = new StringBuilder("$");
        foreach (Frame frame in frames)
        {
            if (frame.IsArray)
            {
                path.Append(CultureInfo.InvariantCulture, $"[{frame.Index}]");
            }
            else if (frame.Name is not null)
            {
                AppendName(path, frame.Name);
            }
        }

        return path.ToString();
    }

    private static void AppendName(StringBuilder path, string name)
    {
        if (IsIdentifier(name))
        {
            path.Append('.').Append(name);
            return;
        }

        path.Append("['");
        foreach (char c in name)
        {
            if (c is '\'' or '\\')
            {
                path.Append('\\').Append(c);
            }
            else if (char.IsControl(c))
            {
                path.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
            }
            else
            {
                path.Append(c);
            }
        }

        path.Append("']");
    }

    private static bool IsIdentifier(string name)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]))
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    private readonly record struct Frame(bool IsArray, int Index, string? Name);
}
