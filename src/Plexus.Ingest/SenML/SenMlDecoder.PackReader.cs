// One file on purpose (about 600 lines): one pass over a SenML pack that resolves base values record by record, in
// JSON and CBOR alike; the record state the pass carries is shared by every member's reader. Hot path, allocation-free.
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Plexus.Core;
using Plexus.Ingest.Json;

namespace Plexus.Ingest.SenML;

// Pass 1 of the decoder (see the design note on SenMlDecoder): read every record of the pack, apply the base values
// and check it, into a pooled SenMlRecord[]. Nothing here writes points.
public static partial class SenMlDecoder
{
    private enum Label : byte
    {
        Unknown,
        BaseName,
        BaseTime,
        BaseUnit,
        BaseValue,
        BaseSum,
        BaseVersion,
        Name,
        Unit,
        Value,
        StringValue,
        BooleanValue,
        DataValue,
        Sum,
        Time,
        UpdateTime,
    }

    /// <summary>The base values in force: set by a record, they apply to it and to every record after it.</summary>
    private struct BaseValues
    {
        public SenMlString Name;
        public SenMlString Unit;
        public long Time;
        public double Value;
        public double Sum;
        public long Version;
    }

    /// <summary>What one record says, before the base values are applied.</summary>
    private struct RecordFields
    {
        public SenMlString BaseName;
        public SenMlString BaseUnit;
        public SenMlString Name;
        public SenMlString Unit;
        public SenMlString StringValue;
        public SenMlString DataValue;
        public long BaseTime;
        public long Time;
        public long Version;
        public double BaseValue;
        public double BaseSum;
        public double Value;
        public double Sum;
        public bool HasBaseTime;
        public bool HasBaseValue;
        public bool HasBaseSum;
        public bool HasVersion;
        public bool HasValue;
        public bool HasBoolean;
        public bool Boolean;
        public bool HasSum;
        public bool HasTime;
    }

    private ref struct PackReader
    {
        private readonly ReadOnlySpan<byte> _json;
        private readonly PointBatch _batch;
        private readonly string? _deviceId;
        private readonly long _receiveTime;
        private BaseValues _base;
        private IngestError _error;

        public PackReader(ReadOnlySpan<byte> json, scoped in SenMlOptions options, PointBatch batch)
        {
            _json = json;
            _batch = batch;
            _deviceId = options.DeviceId;
            _receiveTime = options.ReceiveTime;
            _base.Name = SenMlString.None;
            _base.Unit = SenMlString.None;
        }

        public bool Read(ref SenMlRecord[] records, out int count, out IngestError error)
        {
            count = 0;
            var reader = new Utf8JsonReader(_json);
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                error = new IngestError(IngestErrorKind.Type, "$", 0, $"a SenML pack is a JSON array of records, found {JsonText.Describe(reader.TokenType)}");
                return false;
            }

            while (true)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    break;
                }

                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    error = new IngestError(IngestErrorKind.Type, Path(count), 0, $"expected a record (an object), found {JsonText.Describe(reader.TokenType)}");
                    return false;
                }

                if (count == records.Length)
                {
                    Grow(ref records);
                }

                if (!ReadRecord(ref reader, count, out records[count]))
                {
                    error = _error;
                    return false;
                }

                count++;
            }

            bool more = reader.Read();
            Debug.Assert(!more, "a final-block reader throws on a second top-level value");
            error = default;
            return true;
        }

        private static void Grow(ref SenMlRecord[] records)
        {
            SenMlRecord[] larger = ArrayPool<SenMlRecord>.Shared.Rent(records.Length * 2);
            records.AsSpan().CopyTo(larger);
            ArrayPool<SenMlRecord>.Shared.Return(records);
            records = larger;
        }

        private bool ReadRecord(ref Utf8JsonReader reader, int index, out SenMlRecord record)
        {
            record = default;
            var fields = new RecordFields
            {
                BaseName = SenMlString.None,
                BaseUnit = SenMlString.None,
                Name = SenMlString.None,
                Unit = SenMlString.None,
                StringValue = SenMlString.None,
                DataValue = SenMlString.None,
            };

            while (true)
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    break;
                }

                if (!ReadField(ref reader, index, ref fields))
                {
                    return false;
                }
            }

            return ApplyBaseValues(index, fields) && Resolve(index, fields, out record);
        }

        private bool ReadField(ref Utf8JsonReader reader, int index, ref RecordFields fields)
        {
            int labelToken = (int)reader.TokenStartIndex;
            Label label = Identify(ref reader, out bool mustUnderstand);
            if (label == Label.Unknown)
            {
                if (mustUnderstand)
                {
                    return Fail(
                        IngestErrorKind.Unsupported,
                        Path(index),
                        $"label {JsonText.QuoteToken(_json.Slice(labelToken, reader.ValueSpan.Length + 2))} ends with '_', so it must be understood, and it is not a label of RFC 8428 (§4.4)");
                }

                // Extensions without '_' are ignored, as the RFC asks.
                reader.Read();
                reader.Skip();
                return true;
            }

            string name = LabelName(label);
            reader.Read();
            switch (label)
            {
                case Label.BaseName:
                    return ReadString(ref reader, index, name, out fields.BaseName, out _);
                case Label.BaseUnit:
                    return ReadUnit(ref reader, index, name, out fields.BaseUnit);
                case Label.Name:
                    return ReadString(ref reader, index, name, out fields.Name, out _);
                case Label.Unit:
                    return ReadUnit(ref reader, index, name, out fields.Unit);
                case Label.StringValue:
                    return ReadString(ref reader, index, name, out fields.StringValue, out _);
                case Label.DataValue:
                    if (!ReadString(ref reader, index, name, out fields.DataValue, out ReadOnlySpan<byte> data))
                    {
                        return false;
                    }

                    return SenMlNames.IsBase64(data)
                        || Fail(IngestErrorKind.Syntax, Path(index, name), $"{JsonText.Quote(data)} is not base64 (RFC 8428 §4.3 uses the URL-safe alphabet, without padding)");
                case Label.BooleanValue:
                    if (reader.TokenType is not (JsonTokenType.True or JsonTokenType.False))
                    {
                        return WrongType(ref reader, index, name, "true or false");
                    }

                    fields.HasBoolean = true;
                    fields.Boolean = reader.TokenType == JsonTokenType.True;
                    return true;
                case Label.BaseTime:
                    fields.HasBaseTime = true;
                    return ReadSeconds(ref reader, index, name, out fields.BaseTime);
                case Label.Time:
                    fields.HasTime = true;
                    return ReadSeconds(ref reader, index, name, out fields.Time);
                case Label.BaseValue:
                    fields.HasBaseValue = true;
                    return ReadNumber(ref reader, index, name, out fields.BaseValue);
                case Label.BaseSum:
                    fields.HasBaseSum = true;
                    return ReadNumber(ref reader, index, name, out fields.BaseSum);
                case Label.Value:
                    fields.HasValue = true;
                    return ReadNumber(ref reader, index, name, out fields.Value);
                case Label.Sum:
                    fields.HasSum = true;
                    return ReadNumber(ref reader, index, name, out fields.Sum);
                case Label.UpdateTime:
                    // Checked, not stored: Plexus tracks whether a device is online by other means.
                    return ReadNumber(ref reader, index, name, out _);
                default:
                    Debug.Assert(label == Label.BaseVersion, "every label is handled");
                    fields.HasVersion = true;
                    return ReadVersion(ref reader, index, name, out fields.Version);
            }
        }

        private bool ApplyBaseValues(int index, in RecordFields fields)
        {
            if (fields.HasVersion)
            {
                if (_base.Version != 0 && _base.Version != fields.Version)
                {
                    return Fail(
                        IngestErrorKind.Syntax,
                        Path(index, "bver"),
                        string.Create(CultureInfo.InvariantCulture, $"version {fields.Version} differs from version {_base.Version} earlier in the pack; all records of a pack have one version"));
                }

                _base.Version = fields.Version;
            }

            if (fields.BaseName.IsPresent)
            {
                _base.Name = fields.BaseName;
            }

            if (fields.BaseUnit.IsPresent)
            {
                _base.Unit = fields.BaseUnit;
            }

            if (fields.HasBaseTime)
            {
                _base.Time = fields.BaseTime;
            }

            if (fields.HasBaseValue)
            {
                _base.Value = fields.BaseValue;
            }

            if (fields.HasBaseSum)
            {
                _base.Sum = fields.BaseSum;
            }

            return true;
        }

        /// <summary>RFC 8428 §4.6: name = bn + n, time = bt + t, value = bv + v, sum = bs + s, unit = u or bu.</summary>
        private bool Resolve(int index, in RecordFields fields, out SenMlRecord record)
        {
            record = default;
            int values = (fields.HasValue ? 1 : 0) + (fields.StringValue.IsPresent ? 1 : 0) + (fields.HasBoolean ? 1 : 0) + (fields.DataValue.IsPresent ? 1 : 0);
            if (values > 1)
            {
                return Fail(IngestErrorKind.Syntax, Path(index), $"the record has {values} values ({ValueLabels(fields)}); a record carries exactly one of v, vs, vb or vd");
            }

            if (values == 0 && !fields.HasSum)
            {
                return Fail(IngestErrorKind.Missing, Path(index), "the record has no value: give one of v, vs, vb or vd, or a sum s");
            }

            record.Index = index;
            record.BaseName = _base.Name;
            record.Name = fields.Name;
            record.Unit = fields.Unit.IsNonEmpty ? fields.Unit : _base.Unit.IsNonEmpty ? _base.Unit : SenMlString.None;
            if (!ResolveName(index, fields, ref record))
            {
                return false;
            }

            // Time: relative to the receive time below 2^28 s, absolute (since the epoch) from there on.
            if (!JsonTimestamps.TryAdd(_base.Time, fields.HasTime ? fields.Time : 0, out long time)
                || (time < RelativeTimeLimitNanoseconds && !JsonTimestamps.TryAdd(_receiveTime, time, out time)))
            {
                return Fail(IngestErrorKind.Range, Path(index), $"the resolved time (bt + t, relative to the receive time below 2^28 s) is outside the supported range ({JsonTimestamps.SupportedRange})");
            }

            record.Time = time;
            if (fields.HasValue)
            {
                record.Kind = SenMlValueKind.Number;
                record.Value = _base.Value + fields.Value;
                if (!double.IsFinite(record.Value))
                {
                    return Fail(IngestErrorKind.Range, Path(index, "v"), "bv + v is outside the 64-bit floating-point range");
                }
            }
            else if (fields.HasBoolean)
            {
                record.Kind = SenMlValueKind.Boolean;
                record.Value = fields.Boolean ? 1 : 0;
            }
            else if (fields.StringValue.IsPresent)
            {
                record.Kind = SenMlValueKind.String;
                record.Text = fields.StringValue;
            }
            else if (fields.DataValue.IsPresent)
            {
                record.Kind = SenMlValueKind.Data;
                record.Text = fields.DataValue;
            }

            if (fields.HasSum)
            {
                record.HasSum = true;
                record.Sum = _base.Sum + fields.Sum;
                if (!double.IsFinite(record.Sum))
                {
                    return Fail(IngestErrorKind.Range, Path(index, "s"), "bs + s is outside the 64-bit floating-point range");
                }
            }

            return true;
        }

        private bool ResolveName(int index, in RecordFields fields, ref SenMlRecord record)
        {
            // Scratch at the arena's free end: bn + n, then the unit (the field name when the name is only the device's).
            Span<byte> scratch = _batch.ReserveText(record.BaseName.Length + record.Name.Length + record.Unit.Length);
            int nameLength = CopyName(_json, record, scratch);
            ReadOnlySpan<byte> name = scratch[..nameLength];
            if (name.IsEmpty)
            {
                return Fail(IngestErrorKind.Missing, NamePath(index, fields), "the record has no name: give n, or a base name bn in this or an earlier record");
            }

            int invalid = SenMlNames.FirstInvalid(name);
            if (invalid >= 0)
            {
                return Fail(IngestErrorKind.Name, NamePath(index, fields), $"name {JsonText.Quote(name)} contains {Character(name, invalid)}; SenML names may only use A-Z a-z 0-9 - : . / _ (RFC 8428 §4.5.1)");
            }

            if (!SenMlNames.StartsWell(name))
            {
                return Fail(IngestErrorKind.Name, NamePath(index, fields), $"name {JsonText.Quote(name)} must start with a letter or a digit (RFC 8428 §4.5.1)");
            }

            record.PrefixLength = SenMlNames.DevicePrefixLength(name, _deviceId);
            ReadOnlySpan<byte> fieldName;
            if (record.PrefixLength < name.Length)
            {
                record.Naming = SenMlNaming.Name;
                fieldName = name[record.PrefixLength..];
            }
            else if (record.Unit.IsPresent)
            {
                record.Naming = SenMlNaming.Unit;
                fieldName = scratch.Slice(nameLength, Copy(_json, record.Unit, scratch[nameLength..]));
            }
            else
            {
                record.Naming = SenMlNaming.Value;
                return true;
            }

            if (fieldName.Length is 4 or 6)
            {
                if (Ascii.EqualsIgnoreCase(fieldName, "time"u8))
                {
                    return Fail(IngestErrorKind.Name, NamePath(index, fields), $"the field name {JsonText.Quote(fieldName)} is reserved for the time column; rename the sensor");
                }

                if (Ascii.EqualsIgnoreCase(fieldName, JsonText.DeviceTagKey))
                {
                    return Fail(IngestErrorKind.Name, NamePath(index, fields), $"the field name {JsonText.Quote(fieldName)} is reserved for the device tag; rename the sensor");
                }
            }

            return true;
        }

        private bool ReadString(ref Utf8JsonReader reader, int index, string label, out SenMlString value, out ReadOnlySpan<byte> text)
        {
            value = SenMlString.None;
            text = default;
            if (reader.TokenType != JsonTokenType.String)
            {
                return WrongType(ref reader, index, label, "a string");
            }

            Span<byte> scratch = reader.ValueIsEscaped ? _batch.ReserveText(reader.ValueSpan.Length) : default;
            if (!JsonText.TryReadString(ref reader, scratch, out text))
            {
                return Fail(IngestErrorKind.Syntax, Path(index, label), "the string is not valid UTF-8 or has an escaped unpaired surrogate");
            }

            value = new SenMlString((int)reader.TokenStartIndex + 1, reader.ValueSpan.Length, reader.ValueIsEscaped);
            return true;
        }

        private bool ReadUnit(ref Utf8JsonReader reader, int index, string label, out SenMlString value)
        {
            if (!ReadString(ref reader, index, label, out value, out ReadOnlySpan<byte> text))
            {
                return false;
            }

            return !JsonText.HasControl(text) || Fail(IngestErrorKind.Name, Path(index, label), "units cannot contain control characters");
        }

        private bool ReadNumber(ref Utf8JsonReader reader, int index, string label, out double value)
        {
            value = 0;
            if (reader.TokenType != JsonTokenType.Number)
            {
                return WrongType(ref reader, index, label, "a number");
            }

            return (reader.TryGetDouble(out value) && double.IsFinite(value))
                || Fail(IngestErrorKind.Range, Path(index, label), $"{Token(ref reader)} is outside the 64-bit floating-point range");
        }

        private bool ReadSeconds(ref Utf8JsonReader reader, int index, string label, out long nanoseconds)
        {
            nanoseconds = 0;
            if (reader.TokenType != JsonTokenType.Number)
            {
                return WrongType(ref reader, index, label, "a number of seconds");
            }

            return JsonTimestamps.TryParseScaled(reader.ValueSpan, 9, out nanoseconds) == TimeParseStatus.Ok
                || Fail(IngestErrorKind.Range, Path(index, label), $"{Token(ref reader)} seconds is outside the supported range ({JsonTimestamps.SupportedRange})");
        }

        private bool ReadVersion(ref Utf8JsonReader reader, int index, string label, out long version)
        {
            version = 0;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out version) || version < 1)
            {
                return Fail(IngestErrorKind.Type, Path(index, label), $"expected a positive integer version, found {Token(ref reader)}");
            }

            return version <= SupportedVersion
                || Fail(IngestErrorKind.Unsupported, Path(index, label), string.Create(CultureInfo.InvariantCulture, $"SenML version {version} is newer than the supported version {SupportedVersion}"));
        }

        private Label Identify(ref Utf8JsonReader reader, out bool mustUnderstand)
        {
            ReadOnlySpan<byte> label = reader.ValueSpan;
            if (reader.ValueIsEscaped)
            {
                // Rare: labels are short ASCII words. Unescape into scratch; an invalid one is simply unknown.
                Span<byte> scratch = _batch.ReserveText(label.Length);
                label = JsonText.TryCopyString(ref reader, scratch, out int written) ? scratch[..written] : default;
            }

            mustUnderstand = label.Length > 0 && label[^1] == (byte)'_';
            return label.Length switch
            {
                1 => label[0] switch
                {
                    (byte)'n' => Label.Name,
                    (byte)'u' => Label.Unit,
                    (byte)'v' => Label.Value,
                    (byte)'s' => Label.Sum,
                    (byte)'t' => Label.Time,
                    _ => Label.Unknown,
                },
                2 when label.SequenceEqual("bn"u8) => Label.BaseName,
                2 when label.SequenceEqual("bt"u8) => Label.BaseTime,
                2 when label.SequenceEqual("bu"u8) => Label.BaseUnit,
                2 when label.SequenceEqual("bv"u8) => Label.BaseValue,
                2 when label.SequenceEqual("bs"u8) => Label.BaseSum,
                2 when label.SequenceEqual("vs"u8) => Label.StringValue,
                2 when label.SequenceEqual("vb"u8) => Label.BooleanValue,
                2 when label.SequenceEqual("vd"u8) => Label.DataValue,
                2 when label.SequenceEqual("ut"u8) => Label.UpdateTime,
                4 when label.SequenceEqual("bver"u8) => Label.BaseVersion,
                _ => Label.Unknown,
            };
        }

        private static string LabelName(Label label) => label switch
        {
            Label.BaseName => "bn",
            Label.BaseTime => "bt",
            Label.BaseUnit => "bu",
            Label.BaseValue => "bv",
            Label.BaseSum => "bs",
            Label.BaseVersion => "bver",
            Label.Name => "n",
            Label.Unit => "u",
            Label.Value => "v",
            Label.StringValue => "vs",
            Label.BooleanValue => "vb",
            Label.DataValue => "vd",
            Label.Sum => "s",
            Label.Time => "t",
            _ => "ut",
        };

        // ---- cold path ----------------------------------------------------------------------------------------------

        private bool WrongType(ref Utf8JsonReader reader, int index, string label, string expected)
            => Fail(IngestErrorKind.Type, Path(index, label), $"expected {expected}, found {JsonText.Describe(reader.TokenType)}");

        [MethodImpl(MethodImplOptions.NoInlining)]
        private bool Fail(IngestErrorKind kind, string path, string reason)
        {
            _error = new IngestError(kind, path, 0, reason);
            return false;
        }

        private readonly string Token(ref Utf8JsonReader reader)
            => JsonText.QuoteToken(_json.Slice((int)reader.TokenStartIndex, reader.ValueSpan.Length + (reader.TokenType == JsonTokenType.String ? 2 : 0)));

        /// <summary>Where a name error points: the record's <c>n</c> if it has one, else the record (its bn may come from an earlier one).</summary>
        private static string NamePath(int index, in RecordFields fields) => fields.Name.IsPresent ? Path(index, "n") : Path(index);

        private static string Path(int index) => string.Create(CultureInfo.InvariantCulture, $"$[{index}]");

        private static string Path(int index, string label) => string.Create(CultureInfo.InvariantCulture, $"$[{index}].{label}");

        private static string ValueLabels(in RecordFields fields)
        {
            var labels = new List<string>(4);
            if (fields.HasValue)
            {
                labels.Add("v");
            }

            if (fields.StringValue.IsPresent)
            {
                labels.Add("vs");
            }

            if (fields.HasBoolean)
            {
                labels.Add("vb");
            }

            if (fields.DataValue.IsPresent)
            {
                labels.Add("vd");
            }

            return labels.Count == 2 ? $"{labels[0]} and {labels[1]}" : string.Join(", ", labels);
        }

        private static string Character(ReadOnlySpan<byte> name, int offset)
        {
            byte b = name[offset];
            if (b >= 0x20 && b < 0x7F)
            {
                return $"'{(char)b}'";
            }

            // Non-ASCII: show the whole character.
            return System.Text.Rune.DecodeFromUtf8(name[offset..], out System.Text.Rune rune, out _) == OperationStatus.Done && !System.Text.Rune.IsControl(rune)
                ? $"'{rune}'"
                : string.Create(CultureInfo.InvariantCulture, $"byte 0x{b:X2}");
        }
    }
}
