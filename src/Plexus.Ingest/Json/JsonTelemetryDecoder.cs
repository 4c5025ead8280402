using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Plexus.Core;

namespace Plexus.Ingest.Json;

/// <summary>
/// Decodes one JSON telemetry message (an object of fields, or an array of such objects) into points of a
/// <see cref="PointBatch"/>. Pure: no I/O, no clock, no exceptions for bad input, and no allocation for good
/// messages once the batch has grown. The mapping rules are in docs/ingest/json.md.
/// </summary>
/// <remarks>
/// Design note: a message is one unit. Either all of its points are added or none is, so a device that
/// retries a rejected message never duplicates the part that was accepted. A batch can only take back the
/// point being built (<see cref="PointBatch.AbortPoint"/>), so:
/// <code>
///   {...}            one point: decoded straight into the batch, ended only after the last byte was read
///   [{...}, {...}]   several points: a first pass checks the whole message without writing (a copy of the
///                    reader is an independent cursor), a second pass writes; the second cannot fail
/// </code>
/// Errors carry the offending token's offset; the JSON path in the message is found by reading the payload
/// again, on the cold path only.
/// </remarks>
public static class JsonTelemetryDecoder
{
    /// <summary>
    /// Decodes <paramref name="payload"/> into <paramref name="batch"/>. On failure nothing of the message is
    /// left in the batch (points it held before are kept) and <paramref name="error"/> names the JSON path and
    /// the reason, e.g. <c>$[2].engine.temp: arrays are not supported as field values; ...</c>.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> payload, in JsonTelemetryOptions options, PointBatch batch, out IngestError error)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (options.MaxDepth is < 1 or > JsonTelemetryOptions.MaxSupportedDepth)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxDepth, $"MaxDepth must be between 1 and {JsonTelemetryOptions.MaxSupportedDepth}.");
        }

        if (!JsonText.TryCheckNames(options.Measurement, options.DeviceId, out error))
        {
            return false;
        }

        int bom = JsonText.BomLength(payload);
        ReadOnlySpan<byte> json = payload[bom..];

        // One level for the array of points and one of slack, so that the decoder's own depth check (with a
        // better message) always comes before the reader's.
        var readerOptions = new JsonReaderOptions { MaxDepth = options.MaxDepth + 2 };
        BatchMark before = batch.Mark();
        JsonTelemetryError failure;
        try
        {
            failure = Decode(json, readerOptions, options, batch);
        }
        catch (JsonException exception)
        {
            batch.AbortPoint();
            Debug.Assert(batch.Mark() == before, "a rejected message leaves nothing in the batch");
            error = JsonText.InvalidJson(json, bom, exception);
            return false;
        }

        if (failure.Kind != JsonTelemetryErrorKind.None)
        {
            batch.AbortPoint();
            Debug.Assert(batch.Mark() == before, "a rejected message leaves nothing in the batch");
            error = JsonTelemetryErrorText.Describe(json, readerOptions, failure, options.MaxDepth);
            return false;
        }

        error = default;
        return true;
    }

    private static JsonTelemetryError Decode(ReadOnlySpan<byte> json, JsonReaderOptions readerOptions, in JsonTelemetryOptions options, PointBatch batch)
    {
        var reader = new Utf8JsonReader(json, readerOptions);
        reader.Read();
        return reader.TokenType switch
        {
            JsonTokenType.StartObject => DecodeObject(ref reader, json, options, batch),
            JsonTokenType.StartArray => DecodeArray(ref reader, json, options, batch),
            _ => JsonTelemetryError.At(JsonTelemetryErrorKind.NotObjectOrArray, ref reader),
        };
    }

    /// <summary>One point: decoded straight into the batch, and ended only once nothing can fail any more.</summary>
    private static JsonTelemetryError DecodeObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, in JsonTelemetryOptions options, PointBatch batch)
    {
        var point = new PointDecoder(json, options, batch, write: true);
        if (!point.Read(ref reader, lineNumber: 1, out long timestamp, out JsonTelemetryError failure))
        {
            return failure;
        }

        // Trailing bytes throw here, while the point can still be aborted.
        ExpectEnd(ref reader);
        batch.EndPoint(timestamp);
        return default;
    }

    /// <summary>Several points: checked whole on a copy of the reader (an independent cursor), then written.</summary>
    private static JsonTelemetryError DecodeArray(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, in JsonTelemetryOptions options, PointBatch batch)
    {
        Utf8JsonReader check = reader;
        JsonTelemetryError failure = ReadArray(ref check, json, options, batch, write: false);
        if (failure.Kind != JsonTelemetryErrorKind.None)
        {
            return failure;
        }

        failure = ReadArray(ref reader, json, options, batch, write: true);
        Debug.Assert(failure.Kind == JsonTelemetryErrorKind.None, "the check pass accepts exactly what the write pass accepts");
        return failure;
    }

    private static JsonTelemetryError ReadArray(ref Utf8JsonReader reader, ReadOnlySpan<byte> json, in JsonTelemetryOptions options, PointBatch batch, bool write)
    {
        int index = 0;
        while (true)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.EndArray)
            {
                break;
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return JsonTelemetryError.At(JsonTelemetryErrorKind.ElementNotObject, ref reader);
            }

            var point = new PointDecoder(json, options, batch, write);
            if (!point.Read(ref reader, lineNumber: index + 1, out long timestamp, out JsonTelemetryError failure))
            {
                return failure;
            }

            if (write)
            {
                batch.EndPoint(timestamp);
            }

            index++;
        }

        ExpectEnd(ref reader);
        return default;
    }

    /// <summary>After the top-level value: white space only. The reader throws on anything else.</summary>
    private static void ExpectEnd(ref Utf8JsonReader reader)
    {
        bool more = reader.Read();
        Debug.Assert(!more, "a final-block reader throws on a second top-level value");
    }

    /// <summary>Reads one point's object. With <c>write</c> false it checks everything and writes nothing.</summary>
    private ref struct PointDecoder
    {
        private const byte NoTimestamp = 0;
        private const byte TsMember = 1;
        private const byte TimeMember = 2;

        private readonly ReadOnlySpan<byte> _json;
        private readonly PointBatch _batch;
        private readonly string _measurement;
        private readonly string? _deviceId;
        private readonly long _defaultTimestamp;
        private readonly int _maxDepth;
        private readonly bool _integers;
        private readonly bool _write;
        private int _fieldCount;
        private byte _timestampMember;
        private long _timestamp;
        private JsonTelemetryError _error;

        public PointDecoder(ReadOnlySpan<byte> json, scoped in JsonTelemetryOptions options, PointBatch batch, bool write)
        {
            _json = json;
            _batch = batch;
            _measurement = options.Measurement;
            _deviceId = options.DeviceId;
            _defaultTimestamp = options.DefaultTimestamp;
            _maxDepth = options.MaxDepth;
            _integers = options.IntegersAsIntegers;
            _write = write;
        }

        public bool Read(ref Utf8JsonReader reader, int lineNumber, out long timestamp, out JsonTelemetryError error)
        {
            Debug.Assert(reader.TokenType == JsonTokenType.StartObject, "a point starts at its object");
            JsonTelemetryError objectToken = JsonTelemetryError.At(JsonTelemetryErrorKind.NoFields, ref reader);
            if (_write)
            {
                JsonText.BeginDevicePoint(_batch, _measurement, _deviceId, lineNumber);
            }

            _timestamp = _defaultTimestamp;
            if (!ReadMembers(ref reader, prefix: default, depth: 1))
            {
                timestamp = 0;
                error = _error;
                return false;
            }

            if (_fieldCount == 0)
            {
                timestamp = 0;
                error = objectToken;
                return false;
            }

            if (_write)
            {
                PendingFieldDeduplication.KeepLastOfEachKey(_batch);
            }

            timestamp = _timestamp;
            error = default;
            return true;
        }

        /// <summary>Reads members up to the end of the current object; nested objects recurse with a longer prefix.</summary>
        private bool ReadMembers(ref Utf8JsonReader reader, TextSlice prefix, int depth)
        {
            while (true)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    return true;
                }

                Debug.Assert(reader.TokenType == JsonTokenType.PropertyName, "objects hold members");
                int nameStart = (int)reader.TokenStartIndex;
                int nameLength = reader.ValueSpan.Length;
                bool nameEscaped = reader.ValueIsEscaped;

                if (!CheckName(ref reader, depth, out byte timestampMember))
                {
                    return false;
                }

                if (timestampMember != NoTimestamp)
                {
                    reader.Read();
                    if (!ReadTimestamp(ref reader, timestampMember, nameStart))
                    {
                        return false;
                    }

                    continue;
                }

                reader.Read();
                switch (reader.TokenType)
                {
                    case JsonTokenType.Null:
                        // As if the member were absent: no field, and an earlier value of the same name stays.
                        break;

                    case JsonTokenType.True or JsonTokenType.False:
                        _fieldCount++;
                        if (_write)
                        {
                            _batch.AddBoolean(WriteKey(prefix, nameStart, nameLength, nameEscaped), reader.TokenType == JsonTokenType.True);
                        }

                        break;

                    case JsonTokenType.Number:
                        if (!AddNumber(ref reader, prefix, nameStart, nameLength, nameEscaped))
                        {
                            return false;
                        }

                        break;

                    case JsonTokenType.String:
                        if (!AddString(ref reader, prefix, nameStart, nameLength, nameEscaped))
                        {
                            return false;
                        }

                        break;

                    case JsonTokenType.StartObject:
                        if (depth == _maxDepth)
                        {
                            return Fail(JsonTelemetryErrorKind.TooDeep, ref reader);
                        }

                        TextSlice childPrefix = _write ? WriteKey(prefix, nameStart, nameLength, nameEscaped) : default;
                        if (!ReadMembers(ref reader, childPrefix, depth + 1))
                        {
                            return false;
                        }

                        break;

                    default:
                        Debug.Assert(reader.TokenType == JsonTokenType.StartArray, "the remaining value token");
                        return Fail(JsonTelemetryErrorKind.ArrayValue, ref reader);
                }
            }
        }

        /// <summary>
        /// Checks a member name; at the top level, also tells whether it is <c>ts</c> or <c>time</c> (exactly,
        /// after unescaping), the timestamp rather than a field.
        /// </summary>
        private bool CheckName(ref Utf8JsonReader reader, int depth, out byte timestampMember)
        {
            timestampMember = NoTimestamp;
            // Unescaping needs room; the arena's free end is scratch space until something is committed.
            Span<byte> scratch = reader.ValueIsEscaped ? _batch.ReserveText(reader.ValueSpan.Length) : default;
            if (!JsonText.TryReadString(ref reader, scratch, out ReadOnlySpan<byte> name))
            {
                return Fail(JsonTelemetryErrorKind.InvalidString, ref reader);
            }

            if (name.IsEmpty)
            {
                return Fail(JsonTelemetryErrorKind.EmptyName, ref reader);
            }

            if (JsonText.HasControl(name))
            {
                return Fail(JsonTelemetryErrorKind.ControlCharacterInName, ref reader);
            }

            if (depth > 1)
            {
                return true;
            }

            if (name.SequenceEqual("ts"u8))
            {
                timestampMember = TsMember;
                return true;
            }

            if (name.SequenceEqual("time"u8))
            {
                timestampMember = TimeMember;
                return true;
            }

            // Storage folds case when it matches names to columns, so "Time" would collide with the time column.
            if (name.Length is 4 or 6)
            {
                if (Ascii.EqualsIgnoreCase(name, "time"u8))
                {
                    return Fail(JsonTelemetryErrorKind.ReservedTimeName, ref reader);
                }

                if (Ascii.EqualsIgnoreCase(name, JsonText.DeviceTagKey))
                {
                    return Fail(JsonTelemetryErrorKind.ReservedDeviceName, ref reader);
                }
            }

            return true;
        }

        private bool AddNumber(ref Utf8JsonReader reader, TextSlice prefix, int nameStart, int nameLength, bool nameEscaped)
        {
            if (_integers && reader.TryGetInt64(out long integer))
            {
                _fieldCount++;
                if (_write)
                {
                    _batch.AddInteger(WriteKey(prefix, nameStart, nameLength, nameEscaped), integer);
                }

                return true;
            }

            // 1e400 reads as infinity.
            if (!reader.TryGetDouble(out double number) || !double.IsFinite(number))
            {
                return Fail(JsonTelemetryErrorKind.NumberOutOfRange, ref reader);
            }

            _fieldCount++;
            if (_write)
            {
                _batch.AddFloat(WriteKey(prefix, nameStart, nameLength, nameEscaped), number);
            }

            return true;
        }

        private bool AddString(ref Utf8JsonReader reader, TextSlice prefix, int nameStart, int nameLength, bool nameEscaped)
        {
            ReadOnlySpan<byte> raw = reader.ValueSpan;
            if (!_write)
            {
                Span<byte> scratch = reader.ValueIsEscaped ? _batch.ReserveText(raw.Length) : default;
                if (!JsonText.TryReadString(ref reader, scratch, out _))
                {
                    return Fail(JsonTelemetryErrorKind.InvalidString, ref reader);
                }

                _fieldCount++;
                return true;
            }

            TextSlice key = WriteKey(prefix, nameStart, nameLength, nameEscaped);
            TextSlice value;
            if (!reader.ValueIsEscaped)
            {
                if (!Utf8.IsValid(raw))
                {
                    return Fail(JsonTelemetryErrorKind.InvalidString, ref reader);
                }

                value = _batch.AppendText(raw);
            }
            else
            {
                // Unescaping only ever shortens, so the raw length is enough room.
                Span<byte> destination = _batch.ReserveText(raw.Length);
                if (!JsonText.TryCopyString(ref reader, destination, out int written))
                {
                    return Fail(JsonTelemetryErrorKind.InvalidString, ref reader);
                }

                value = _batch.CommitText(written);
            }

            _fieldCount++;
            _batch.AddString(key, value);
            return true;
        }

        private bool ReadTimestamp(ref Utf8JsonReader reader, byte member, int nameStart)
        {
            if (reader.TokenType == JsonTokenType.Null)
            {
                return true;
            }

            if (_timestampMember != NoTimestamp && _timestampMember != member)
            {
                _error = new JsonTelemetryError(JsonTelemetryErrorKind.TwoTimestamps, nameStart, 0, JsonTokenType.PropertyName);
                return false;
            }

            _timestampMember = member;
            TimeParseStatus status;
            long nanoseconds;
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    status = JsonTimestamps.TryParseScaled(reader.ValueSpan, 6, out nanoseconds);
                    break;
                case JsonTokenType.String:
                    status = ParseIso8601(ref reader, out nanoseconds);
                    break;
                default:
                    return Fail(JsonTelemetryErrorKind.TimestampType, ref reader);
            }

            if (status != TimeParseStatus.Ok)
            {
                return Fail(
                    status switch
                    {
                        TimeParseStatus.NoOffset => JsonTelemetryErrorKind.TimestampNoOffset,
                        TimeParseStatus.InvalidDate => JsonTelemetryErrorKind.TimestampInvalidDate,
                        TimeParseStatus.TooManyFractionDigits => JsonTelemetryErrorKind.TimestampFractionDigits,
                        TimeParseStatus.OutOfRange => JsonTelemetryErrorKind.TimestampOutOfRange,
                        _ => JsonTelemetryErrorKind.TimestampNotTime,
                    },
                    ref reader);
            }

            _timestamp = nanoseconds;
            return true;
        }

        private static TimeParseStatus ParseIso8601(ref Utf8JsonReader reader, out long nanoseconds)
        {
            const int MaxLength = 96;
            if (!reader.ValueIsEscaped)
            {
                return JsonTimestamps.TryParseIso8601(reader.ValueSpan, out nanoseconds);
            }

            nanoseconds = 0;
            Span<byte> unescaped = stackalloc byte[MaxLength];
            return reader.ValueSpan.Length <= MaxLength && JsonText.TryCopyString(ref reader, unescaped, out int written)
                ? JsonTimestamps.TryParseIso8601(unescaped[..written], out nanoseconds)
                : TimeParseStatus.Invalid;
        }

        /// <summary>Writes <c>prefix_name</c> (or just the name at the top level) into the arena.</summary>
        private readonly TextSlice WriteKey(TextSlice prefix, int nameStart, int nameLength, bool nameEscaped)
        {
            Span<byte> destination = _batch.ReserveText(prefix.Length + 1 + nameLength);
            int written = 0;
            if (!prefix.IsEmpty)
            {
                // After ReserveText: growing the arena moves it, and the prefix with it.
                _batch.Text(prefix).CopyTo(destination);
                written = prefix.Length;
                destination[written++] = (byte)'_';
            }

            written += JsonText.CopyUnescaped(_json, nameStart + 1, nameLength, nameEscaped, destination[written..]);
            return _batch.CommitText(written);
        }

        private bool Fail(JsonTelemetryErrorKind kind, ref Utf8JsonReader reader)
        {
            _error = JsonTelemetryError.At(kind, ref reader);
            return false;
        }
    }
}
