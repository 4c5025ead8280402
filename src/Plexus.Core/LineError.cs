using System.Globalization;
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

    /// <summary>
    /// An error for a point that decoded but was refused later (by a guard or the store), when the request's bytes are
    /// gone: the point written back as a line-protocol line, cut like <see cref="Excerpt"/>, so that the person reading
    /// the error sees which line it was and not only its measurement. A cold path: it runs only for refused points.
    /// </summary>
    public static LineError ForPoint(PointBatch batch, in PointEntry point, string reason)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var line = new StringBuilder(64);
        Append(line, batch.Text(point.Measurement), ", ");
        foreach (ref readonly var tag in batch.Tags(point))
        {
            line.Append(',');
            Append(line, batch.Text(tag.Key), ",= ");
            line.Append('=');
            Append(line, batch.Text(tag.Value), ",= ");
            if (line.Length > MaxTextLength)
            {
                break;
            }
        }

        char separator = ' ';
        foreach (ref readonly var field in batch.Fields(point))
        {
            line.Append(separator);
            separator = ',';
            Append(line, batch.Text(field.Key), ",= ");
            line.Append('=');
            switch (field.Type)
            {
                case FieldType.Float:
                    line.Append(field.FloatValue.ToString("R", CultureInfo.InvariantCulture));
                    break;
                case FieldType.Integer:
                    line.Append(field.IntegerValue.ToString(CultureInfo.InvariantCulture)).Append('i');
                    break;
                case FieldType.UInteger:
                    line.Append(field.UIntegerValue.ToString(CultureInfo.InvariantCulture)).Append('u');
                    break;
                case FieldType.Boolean:
                    line.Append(field.BooleanValue ? "true" : "false");
                    break;
                default:
                    line.Append('"');
                    Append(line, batch.Text(field.Text), "\"\\");
                    line.Append('"');
                    break;
            }

            if (line.Length > MaxTextLength)
            {
                break;
            }
        }

        line.Append(' ').Append(point.Timestamp.ToString(CultureInfo.InvariantCulture));
        string text = line.Length <= MaxTextLength ? line.ToString() : string.Concat(line.ToString(0, MaxTextLength), "…");
        return new LineError(point.LineNumber, text, reason);
    }

    /// <summary>Appends UTF-8 text with line protocol's backslash before each of <paramref name="escaped"/>.</summary>
    private static void Append(StringBuilder line, ReadOnlySpan<byte> utf8, string escaped)
    {
        foreach (char c in Encoding.UTF8.GetString(utf8))
        {
            if (escaped.Contains(c, StringComparison.Ordinal))
            {
                line.Append('\\');
            }

            line.Append(c);
        }
    }

    public override string ToString() => $"line {Line}: {Reason}: {Text}";
}
