using System.Globalization;
using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;

namespace Plexus.Ingest.Tests.TestSupport;

/// <summary>A decoded field, rendered in a canonical, unambiguous text form so that points compare as strings.</summary>
public sealed record DecodedField(string Key, FieldType Type, object Value)
{
    public override string ToString() => $"{Json(Key)}:{Type.Name()}={Render(Type, Value)}";

    internal static string Render(FieldType type, object value) => type switch
    {
        FieldType.Float => ((double)value).ToString("R", CultureInfo.InvariantCulture),
        FieldType.String => Json((string)value),
        FieldType.Boolean => (bool)value ? "true" : "false",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };

    internal static string Json(string text) => JsonSerializer.Serialize(text);
}

/// <summary>A decoded point copied out of a <see cref="PointBatch"/>.</summary>
public sealed record DecodedPoint(string Measurement, IReadOnlyList<(string Key, string Value)> Tags, IReadOnlyList<DecodedField> Fields, long Timestamp, int Line)
{
    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"L{Line} {DecodedField.Json(Measurement)}");
        foreach ((string key, string value) in Tags)
        {
            text.Append(CultureInfo.InvariantCulture, $",{DecodedField.Json(key)}={DecodedField.Json(value)}");
        }

        text.Append(' ').AppendJoin(",", Fields).Append(CultureInfo.InvariantCulture, $" {Timestamp}");
        return text.ToString();
    }

    public static List<DecodedPoint> From(PointBatch batch)
    {
        var points = new List<DecodedPoint>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            ref readonly PointEntry point = ref batch[i];
            var tags = new List<(string, string)>();
            foreach (TagEntry tag in batch.Tags(point))
            {
                tags.Add((Utf8(batch, tag.Key), Utf8(batch, tag.Value)));
            }

            var fields = new List<DecodedField>();
            foreach (FieldEntry field in batch.Fields(point))
            {
                object value = field.Type switch
                {
                    FieldType.Float => field.FloatValue,
                    FieldType.Integer => field.IntegerValue,
                    FieldType.UInteger => field.UIntegerValue,
                    FieldType.Boolean => field.BooleanValue,
                    _ => Utf8(batch, field.Text),
                };
                fields.Add(new DecodedField(Utf8(batch, field.Key), field.Type, value));
            }

            points.Add(new DecodedPoint(Utf8(batch, point.Measurement), tags, fields, point.Timestamp, point.LineNumber));
        }

        return points;
    }

    private static string Utf8(PointBatch batch, TextSlice slice) => Encoding.UTF8.GetString(batch.Text(slice));
}

/// <summary>Everything one parse produced, in comparable form.</summary>
public sealed record DecodeResult(IReadOnlyList<DecodedPoint> Points, IReadOnlyList<LineError> Errors, int ErrorCount, int Lines)
{
    public IReadOnlyList<string> PointTexts => [.. Points.Select(p => p.ToString())];

    public IReadOnlyList<string> ErrorTexts => [.. Errors.Select(e => e.ToString())];

    public DecodedPoint Single()
    {
        Assert.True(Errors.Count == 0, $"unexpected errors: {string.Join("; ", ErrorTexts)}");
        return Assert.Single(Points);
    }

    public LineError SingleError()
    {
        Assert.True(Points.Count == 0, $"unexpected points: {string.Join("; ", PointTexts)}");
        return Assert.Single(Errors);
    }

    /// <summary>Asserts the same points (with line numbers), the same errors and the same line count.</summary>
    public void AssertSameAs(DecodeResult other)
    {
        Assert.Equal(other.PointTexts, PointTexts);
        Assert.Equal(other.ErrorTexts, ErrorTexts);
        Assert.Equal(other.ErrorCount, ErrorCount);
        Assert.Equal(other.Lines, Lines);
    }
}

public static class Decode
{
    /// <summary>An arbitrary server time, 2023-11-14T22:13:20.123456789Z, for lines without a timestamp.</summary>
    public const long DefaultTime = 1_700_000_000_123_456_789;

    public static DecodeResult Parse(string text, TimePrecision precision = TimePrecision.Nanoseconds, long defaultTime = DefaultTime, int firstLine = 1)
        => Parse(Encoding.UTF8.GetBytes(text), precision, defaultTime, firstLine);

    /// <summary>
    /// Parses twice into the same batch and error sink, resetting in between, and checks both runs agree: a
    /// batch is reused across requests, so state left behind by one parse must not leak into the next.
    /// </summary>
    public static DecodeResult Parse(byte[] input, TimePrecision precision = TimePrecision.Nanoseconds, long defaultTime = DefaultTime, int firstLine = 1)
    {
        var options = new LineProtocolOptions(precision, defaultTime);
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();

        int lines = LineProtocolParser.Parse(input, firstLine, options, batch, errors);
        DecodeResult first = Snapshot(batch, errors, lines);

        batch.Reset();
        errors.Reset();
        lines = LineProtocolParser.Parse(input, firstLine, options, batch, errors);
        DecodeResult second = Snapshot(batch, errors, lines);

        second.AssertSameAs(first);
        return first;
    }

    public static DecodeResult Snapshot(PointBatch batch, LineErrorSink errors, int lines)
        => new(DecodedPoint.From(batch), [.. errors.Errors], errors.Count, lines);
}
