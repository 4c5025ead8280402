using System.Globalization;
using System.Text;

namespace Plexus.Core.Tests;

/// <summary>Points of a batch as text (<c>L3 cpu,host=a v:float=1 5</c>), so that batches compare as lists of strings.</summary>
internal static class BatchText
{
    public static List<string> Of(PointBatch batch)
    {
        var points = new List<string>(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            points.Add(Of(batch, i));
        }

        return points;
    }

    public static string Of(PointBatch batch, int index)
    {
        ref readonly PointEntry point = ref batch[index];
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"L{point.LineNumber} {Utf8(batch, point.Measurement)}");
        foreach (TagEntry tag in batch.Tags(point))
        {
            text.Append(CultureInfo.InvariantCulture, $",{Utf8(batch, tag.Key)}={Utf8(batch, tag.Value)}");
        }

        text.Append(' ');
        bool first = true;
        foreach (FieldEntry field in batch.Fields(point))
        {
            text.Append(first ? "" : ",").Append(CultureInfo.InvariantCulture, $"{Utf8(batch, field.Key)}:{field.Type.Name()}=");
            text.Append(field.Type switch
            {
                FieldType.Float => field.FloatValue.ToString("R", CultureInfo.InvariantCulture),
                FieldType.Integer => field.IntegerValue.ToString(CultureInfo.InvariantCulture),
                FieldType.UInteger => field.UIntegerValue.ToString(CultureInfo.InvariantCulture),
                FieldType.Boolean => field.BooleanValue ? "true" : "false",
                _ => "\"" + Utf8(batch, field.Text) + "\"",
            });
            first = false;
        }

        return text.Append(CultureInfo.InvariantCulture, $" {point.Timestamp}").ToString();
    }

    /// <summary>Adds one point: <paramref name="tags"/> as key=value pairs, fields as key=value with the value's CLR type choosing the field type.</summary>
    public static void Add(PointBatch batch, string measurement, int line, long timestamp, (string Key, string Value)[] tags, params (string Key, object Value)[] fields)
    {
        batch.BeginPoint(Encoding.UTF8.GetBytes(measurement), line);
        foreach ((string key, string value) in tags)
        {
            batch.AddTag(batch.AppendText(Encoding.UTF8.GetBytes(key)), batch.AppendText(Encoding.UTF8.GetBytes(value)));
        }

        foreach ((string key, object value) in fields)
        {
            TextSlice name = batch.AppendText(Encoding.UTF8.GetBytes(key));
            switch (value)
            {
                case double number:
                    batch.AddFloat(name, number);
                    break;
                case long integer:
                    batch.AddInteger(name, integer);
                    break;
                case ulong unsigned:
                    batch.AddUInteger(name, unsigned);
                    break;
                case bool flag:
                    batch.AddBoolean(name, flag);
                    break;
                default:
                    batch.AddString(name, batch.AppendText(Encoding.UTF8.GetBytes((string)value)));
                    break;
            }
        }

        batch.EndPoint(timestamp);
    }

    private static string Utf8(PointBatch batch, TextSlice slice) => Encoding.UTF8.GetString(batch.Text(slice));
}
