using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Ingest.Json;

namespace Plexus.Ingest.Import;

/// <summary>
/// Decodes one line of a JSON-lines import into a point of one measurement (docs/export-import.md#json-lines):
/// <c>{"time": "2026-01-02T03:04:05.123456789Z" | Unix ns, "tags": {"name": "value"}, "fields": {"name": value}}</c>.
/// A number with a fraction or an exponent is a float, one without an integer (unsigned past the signed range),
/// <c>{"unsigned": N}</c> an unsigned integer; true and false are booleans, a string a string; null is no value.
/// </summary>
public sealed class JsonLinesPointDecoder(string measurement)
{
    private readonly byte[] _measurement = Encoding.UTF8.GetBytes(measurement);

    /// <summary>Adds the line's point to <paramref name="batch"/>; false with an error naming the line and member, nothing added.</summary>
    public bool TryDecode(ReadOnlySpan<byte> line, int lineNumber, PointBatch batch, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 4 });
        long? time = null;
        batch.BeginPoint(_measurement, lineNumber);
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return Fail(batch, IngestErrorKind.Type, "$", lineNumber, "each line must be one JSON object: {\"time\": …, \"tags\": {…}, \"fields\": {…}}", out error);
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                string member = reader.GetString()!;
                reader.Read();
                switch (member)
                {
                    case "time":
                        if (!TryTime(ref reader, out long parsed))
                        {
                            return Fail(batch, IngestErrorKind.Syntax, "$.time", lineNumber, "the time is neither RFC 3339 (\"2026-01-02T03:04:05.123456789Z\") nor Unix nanoseconds", out error);
                        }

                        time = parsed;
                        break;
                    case "tags":
                        if (!TryMembers(ref reader, batch, tags: true, lineNumber, out error))
                        {
                            batch.AbortPoint();
                            return false;
                        }

                        break;
                    case "fields":
                        if (!TryMembers(ref reader, batch, tags: false, lineNumber, out error))
                        {
                            batch.AbortPoint();
                            return false;
                        }

                        break;
                    default:
                        return Fail(batch, IngestErrorKind.Unsupported, "$." + member, lineNumber, $"unknown member \"{CsvPointDecoder.Shorten(member)}\"; a line has time, tags and fields", out error);
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return Fail(batch, IngestErrorKind.Syntax, "$", lineNumber, "text after the object; one object per line", out error);
            }
        }
        catch (JsonException invalid)
        {
            return Fail(batch, IngestErrorKind.Syntax, "$", lineNumber, "not valid JSON: " + invalid.Message, out error);
        }

        if (time is null)
        {
            return Fail(batch, IngestErrorKind.Missing, "$.time", lineNumber, "the line has no time", out error);
        }

        if (batch.PendingFieldCount == 0)
        {
            return Fail(batch, IngestErrorKind.Missing, "$.fields", lineNumber, "the line has no field value", out error);
        }

        batch.EndPoint(time.Value);
        error = default;
        return true;
    }

    private static bool TryTime(ref Utf8JsonReader reader, out long time)
    {
        time = 0;
        return reader.TokenType switch
        {
            JsonTokenType.String => JsonTimestamps.TryParseIso8601(reader.ValueSpan, out time) == TimeParseStatus.Ok && !reader.ValueIsEscaped,
            JsonTokenType.Number => reader.TryGetInt64(out time),
            _ => false,
        };
    }

    private static bool TryMembers(ref Utf8JsonReader reader, PointBatch batch, bool tags, int line, out IngestError error)
    {
        string group = tags ? "tags" : "fields";
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            error = new IngestError(IngestErrorKind.Type, "$." + group, line, $"{group} must be an object of names and values");
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            string path = $"$.{group}.{CsvPointDecoder.Shorten(name)}";
            reader.Read();
            if (reader.TokenType == JsonTokenType.Null)
            {
                continue;
            }

            var key = batch.AppendText(Encoding.UTF8.GetBytes(name));
            if (tags)
            {
                if (reader.TokenType != JsonTokenType.String)
                {
                    error = new IngestError(IngestErrorKind.Type, path, line, "a tag's value must be a string");
                    return false;
                }

                string value = reader.GetString()!;
                if (value.Length > 0)
                {
                    batch.AddTag(key, batch.AppendText(Encoding.UTF8.GetBytes(value)));
                }

                continue;
            }

            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    batch.AddString(key, batch.AppendText(Encoding.UTF8.GetBytes(reader.GetString()!)));
                    break;
                case JsonTokenType.True or JsonTokenType.False:
                    batch.AddBoolean(key, reader.GetBoolean());
                    break;
                case JsonTokenType.Number when reader.ValueSpan.IndexOfAny(".eE"u8) >= 0:
                    double number = reader.GetDouble();
                    if (!double.IsFinite(number))
                    {
                        error = new IngestError(IngestErrorKind.Range, path, line, "the number is out of a float's range");
                        return false;
                    }

                    batch.AddFloat(key, number);
                    break;
                case JsonTokenType.Number when reader.TryGetInt64(out long integer):
                    batch.AddInteger(key, integer);
                    break;
                case JsonTokenType.Number when reader.TryGetUInt64(out ulong unsigned):
                    batch.AddUInteger(key, unsigned);
                    break;
                case JsonTokenType.StartObject when TryUnsigned(ref reader, out ulong unsigned):
                    batch.AddUInteger(key, unsigned);
                    break;
                default:
                    error = new IngestError(IngestErrorKind.Type, path, line, "a field's value must be a number, true, false, a string or {\"unsigned\": N}");
                    return false;
            }
        }

        error = default;
        return true;
    }

    private static bool TryUnsigned(ref Utf8JsonReader reader, out ulong value)
    {
        value = 0;
        return reader.Read() && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("unsigned"u8)
            && reader.Read() && reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out value)
            && reader.Read() && reader.TokenType == JsonTokenType.EndObject;
    }

    private static bool Fail(PointBatch batch, IngestErrorKind kind, string path, int line, string reason, out IngestError error)
    {
        batch.AbortPoint();
        error = new IngestError(kind, path, line, reason);
        return false;
    }
}
