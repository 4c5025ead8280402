// One file on purpose (about 820 lines): the one table from DuckDB's types to PostgreSQL's (OIDs, sizes, text and
// binary encodings, arrays of each). A type added in one place and not another is a wire bug; kept together so a
// reader sees every encoding of a type side by side.
using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Plexus.Query;

namespace Plexus.PgWire.Protocol;

/// <summary>How a column's values are sent: PostgreSQL's type for them and the code that encodes them.</summary>
internal enum PgKind
{
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Json,
    Timestamp,
    TimestampTz,
    Date,
    Time,
    Interval,
    Uuid,
    Bytea,
    Array,
}

/// <summary>A result column as the wire describes it: name, PostgreSQL type OID and size, and how to encode it.</summary>
/// <param name="Exact">The engine's .NET type is the one the kind reads without boxing (a BIGINT for int8, say).</param>
internal sealed record PgColumn(string Name, PgKind Kind, bool Exact, PgKind ElementKind = PgKind.Text)
{
    /// <summary>
    /// Reads a list whose elements are values (numbers, times): as a list of nullables, since the engine refuses to
    /// hand a list holding NULL as the non-nullable list its column type names.
    /// </summary>
    public System.Reflection.MethodInfo? ListReader { get; init; }

    public int Oid => Kind == PgKind.Array ? PgTypes.ArrayOid(ElementKind) : PgTypes.Oid(Kind);

    public short Size => PgTypes.Size(Kind);

    /// <summary>A column of text values, for answers the wire layer makes itself (SHOW, the emulated catalog).</summary>
    public static PgColumn Text(string name) => new(name, PgKind.Text, true);
}

/// <summary>
/// PostgreSQL's type OIDs and value encodings (text and binary) for the types DuckDB returns. The binary layouts are
/// PostgreSQL's send functions: big-endian integers, timestamps as microseconds since 2000-01-01, numerics in base
/// 10000 digits, one-dimensional arrays with a header.
/// </summary>
internal static class PgTypes
{
    public const int TextOid = 25;
    public const int UnknownOid = 705;

    private static readonly System.Buffers.SearchValues<byte> ArrayQuoted = System.Buffers.SearchValues.Create("{}\",\\ \t\r\n"u8);

    private static readonly long Epoch2000Ticks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;
    private static readonly DateOnly Epoch2000Date = new(2000, 1, 1);

    public static int Oid(PgKind kind) => kind switch
    {
        PgKind.Bool => 16,
        PgKind.Bytea => 17,
        PgKind.Int8 => 20,
        PgKind.Int2 => 21,
        PgKind.Int4 => 23,
        PgKind.Text => 25,
        PgKind.Json => 114,
        PgKind.Float4 => 700,
        PgKind.Float8 => 701,
        PgKind.Date => 1082,
        PgKind.Time => 1083,
        PgKind.Timestamp => 1114,
        PgKind.TimestampTz => 1184,
        PgKind.Interval => 1186,
        PgKind.Numeric => 1700,
        PgKind.Uuid => 2950,
        _ => TextOid,
    };

    public static int ArrayOid(PgKind element) => element switch
    {
        PgKind.Bool => 1000,
        PgKind.Bytea => 1001,
        PgKind.Int2 => 1005,
        PgKind.Int4 => 1007,
        PgKind.Text => 1009,
        PgKind.Int8 => 1016,
        PgKind.Float4 => 1021,
        PgKind.Float8 => 1022,
        PgKind.Timestamp => 1115,
        PgKind.Date => 1182,
        PgKind.Time => 1183,
        PgKind.TimestampTz => 1185,
        PgKind.Interval => 1187,
        PgKind.Numeric => 1231,
        PgKind.Json => 199,
        PgKind.Uuid => 2951,
        _ => 1009,
    };

    public static short Size(PgKind kind) => kind switch
    {
        PgKind.Bool => 1,
        PgKind.Int2 => 2,
        PgKind.Int4 or PgKind.Float4 or PgKind.Date => 4,
        PgKind.Int8 or PgKind.Float8 or PgKind.Timestamp or PgKind.TimestampTz or PgKind.Time => 8,
        PgKind.Interval or PgKind.Uuid => 16,
        _ => -1,
    };

    /// <summary>The PostgreSQL type name of an OID, for messages and the emulated catalog.</summary>
    public static string Name(int oid) => oid switch
    {
        16 => "bool",
        17 => "bytea",
        20 => "int8",
        21 => "int2",
        23 => "int4",
        25 => "text",
        114 => "json",
        700 => "float4",
        701 => "float8",
        1043 => "varchar",
        1082 => "date",
        1083 => "time",
        1114 => "timestamp",
        1184 => "timestamptz",
        1186 => "interval",
        1700 => "numeric",
        2950 => "uuid",
        3802 => "jsonb",
        _ => "unknown",
    };

    /// <summary>The column as the wire sends it, from the engine's type name and the .NET type of its values.</summary>
    public static PgColumn ColumnFor(QueryColumn column, Type clrType)
    {
        var kind = KindOf(column.Type, clrType, out bool exact);
        if (kind != PgKind.Array)
        {
            return new PgColumn(column.Name, kind, exact);
        }

        var element = ElementType(clrType);
        var elementKind = element is null ? PgKind.Text : KindOf(ElementTypeName(column.Type), element, out _);

        // A list of lists (or of structs) has no one-dimensional array type: it goes as JSON.
        if (elementKind is PgKind.Array)
        {
            return new PgColumn(column.Name, PgKind.Json, false);
        }

        var nullable = element is { IsValueType: true } && Nullable.GetUnderlyingType(element) is null ? typeof(Nullable<>).MakeGenericType(element) : null;
        return new PgColumn(column.Name, PgKind.Array, false, elementKind)
        {
            ListReader = nullable is null ? null : typeof(QueryRow).GetMethod(nameof(QueryRow.GetFieldValue))!.MakeGenericMethod(typeof(List<>).MakeGenericType(nullable)),
        };
    }

    private static PgKind KindOf(string typeName, Type clrType, out bool exact)
    {
        exact = false;
        clrType = Nullable.GetUnderlyingType(clrType) ?? clrType;
        string name = typeName.ToUpperInvariant();
        switch (name)
        {
            case "DATE":
                return PgKind.Date;
            case "TIME":
                return PgKind.Time;
            case "INTERVAL":
                return PgKind.Interval;
            case "TIMESTAMPTZ" or "TIMESTAMP WITH TIME ZONE":
                return PgKind.TimestampTz;
            case "BLOB":
                return PgKind.Bytea;
            case "UUID":
                return PgKind.Uuid;
            case "JSON":
                return PgKind.Json;
            case "STRUCT" or "MAP" or "UNION":
                return PgKind.Json;
            case "BIT" or "VARINT" or "BIGNUM" or "TIMETZ" or "ENUM":
                return PgKind.Text;
        }

        if (name.StartsWith("LIST", StringComparison.Ordinal) || name.EndsWith("[]", StringComparison.Ordinal) || name.StartsWith("ARRAY", StringComparison.Ordinal))
        {
            return PgKind.Array;
        }

        if (name.StartsWith("DECIMAL", StringComparison.Ordinal))
        {
            return PgKind.Numeric;
        }

        switch (Type.GetTypeCode(clrType))
        {
            case TypeCode.Boolean:
                exact = true;
                return PgKind.Bool;
            case TypeCode.SByte or TypeCode.Byte:
                return PgKind.Int2;
            case TypeCode.Int16:
                exact = true;
                return PgKind.Int2;
            case TypeCode.UInt16:
                return PgKind.Int4;
            case TypeCode.Int32:
                exact = true;
                return PgKind.Int4;
            case TypeCode.UInt32:
                return PgKind.Int8;
            case TypeCode.Int64:
                exact = true;
                return PgKind.Int8;
            case TypeCode.UInt64 or TypeCode.Decimal:
                return PgKind.Numeric;
            case TypeCode.Single:
                exact = true;
                return PgKind.Float4;
            case TypeCode.Double:
                exact = true;
                return PgKind.Float8;
            case TypeCode.String:
                exact = true;
                return PgKind.Text;
            case TypeCode.DateTime:
                exact = name is "TIMESTAMP" or "TIMESTAMP_NS" or "TIMESTAMP_MS" or "TIMESTAMP_S";
                return PgKind.Timestamp;
        }

        if (clrType == typeof(BigInteger))
        {
            return PgKind.Numeric;
        }

        if (clrType == typeof(DateTimeOffset))
        {
            return PgKind.TimestampTz;
        }

        if (clrType == typeof(DateOnly))
        {
            return PgKind.Date;
        }

        if (clrType == typeof(TimeOnly))
        {
            return PgKind.Time;
        }

        if (clrType == typeof(TimeSpan))
        {
            return PgKind.Interval;
        }

        if (clrType == typeof(Guid))
        {
            return PgKind.Uuid;
        }

        if (clrType == typeof(byte[]) || typeof(Stream).IsAssignableFrom(clrType))
        {
            return PgKind.Bytea;
        }

        if (ElementType(clrType) is not null)
        {
            return PgKind.Array;
        }

        return typeof(IDictionary).IsAssignableFrom(clrType) ? PgKind.Json : PgKind.Text;
    }

    private static Type? ElementType(Type clrType)
    {
        if (clrType == typeof(string) || clrType == typeof(byte[]))
        {
            return null;
        }

        if (clrType.IsArray)
        {
            return clrType.GetElementType();
        }

        foreach (var contract in clrType.GetInterfaces().Prepend(clrType))
        {
            if (contract.IsGenericType && contract.GetGenericTypeDefinition() == typeof(IList<>))
            {
                return contract.GetGenericArguments()[0];
            }
        }

        return null;
    }

    private static string ElementTypeName(string listTypeName)
    {
        // DuckDB spells a list INTEGER[]; DuckDB.NET's name is LIST without the element, which leaves the .NET type.
        return listTypeName.EndsWith("[]", StringComparison.Ordinal) ? listTypeName[..^2] : "";
    }

    /// <summary>Writes the value of a column of the current row, its length first (-1 for NULL).</summary>
    public static void WriteValue(PgBuffer buffer, QueryRow row, int ordinal, PgColumn column, bool binary, PgBuffer scratch)
    {
        if (row.IsNull(ordinal))
        {
            buffer.WriteInt32(-1);
            return;
        }

        int at = buffer.StartLength();
        if (column.Exact)
        {
            WriteExact(buffer, row, ordinal, column.Kind, binary);
        }
        else if (column.Kind == PgKind.Interval)
        {
            var (months, days, micros) = row.GetInterval(ordinal);
            WriteInterval(buffer, months, days, micros, binary);
        }
        else
        {
            object value = column.ListReader is { } read ? read.Invoke(row, [ordinal])! : row.GetValue(ordinal);
            WriteObject(buffer, column.Kind, column.ElementKind, value, binary, scratch);
        }

        buffer.EndLength(at);
    }

    // The fast path: the common types read with their typed getters, nothing boxed.
    private static void WriteExact(PgBuffer buffer, QueryRow row, int ordinal, PgKind kind, bool binary)
    {
        switch (kind)
        {
            case PgKind.Bool:
                bool flag = row.GetBoolean(ordinal);
                if (binary)
                {
                    buffer.WriteByte(flag ? (byte)1 : (byte)0);
                }
                else
                {
                    buffer.WriteByte(flag ? (byte)'t' : (byte)'f');
                }

                break;
            case PgKind.Int2:
                WriteInteger(buffer, row.GetFieldValue<short>(ordinal), 2, binary);
                break;
            case PgKind.Int4:
                WriteInteger(buffer, row.GetFieldValue<int>(ordinal), 4, binary);
                break;
            case PgKind.Int8:
                WriteInteger(buffer, row.GetInt64(ordinal), 8, binary);
                break;
            case PgKind.Float4:
                WriteFloat4(buffer, row.GetFieldValue<float>(ordinal), binary);
                break;
            case PgKind.Float8:
                WriteFloat8(buffer, row.GetDouble(ordinal), binary);
                break;
            case PgKind.Timestamp:
                WriteTimestamp(buffer, row.GetFieldValue<DateTime>(ordinal), zone: false, binary);
                break;
            default:
                buffer.WriteUtf8(row.GetString(ordinal));
                break;
        }
    }

    /// <summary>Writes a boxed value (not its length) as <paramref name="kind"/>.</summary>
    public static void WriteObject(PgBuffer buffer, PgKind kind, PgKind elementKind, object value, bool binary, PgBuffer scratch)
    {
        switch (kind)
        {
            case PgKind.Bool:
                bool flag = Convert.ToBoolean(value, CultureInfo.InvariantCulture);
                buffer.WriteByte(binary ? (flag ? (byte)1 : (byte)0) : (flag ? (byte)'t' : (byte)'f'));
                break;
            case PgKind.Int2:
                WriteInteger(buffer, Convert.ToInt64(value, CultureInfo.InvariantCulture), 2, binary);
                break;
            case PgKind.Int4:
                WriteInteger(buffer, Convert.ToInt64(value, CultureInfo.InvariantCulture), 4, binary);
                break;
            case PgKind.Int8:
                WriteInteger(buffer, Convert.ToInt64(value, CultureInfo.InvariantCulture), 8, binary);
                break;
            case PgKind.Float4:
                WriteFloat4(buffer, Convert.ToSingle(value, CultureInfo.InvariantCulture), binary);
                break;
            case PgKind.Float8:
                WriteFloat8(buffer, Convert.ToDouble(value, CultureInfo.InvariantCulture), binary);
                break;
            case PgKind.Numeric:
                string digits = value is IFormattable formattable ? formattable.ToString(null, CultureInfo.InvariantCulture) : value.ToString() ?? "0";
                if (binary)
                {
                    WriteNumeric(buffer, digits);
                }
                else
                {
                    buffer.WriteUtf8(digits);
                }

                break;
            case PgKind.Timestamp or PgKind.TimestampTz:
                var time = value switch
                {
                    DateTimeOffset offset => offset.UtcDateTime,
                    DateTime dateTime => dateTime,
                    _ => DateTime.Parse(value.ToString() ?? "", CultureInfo.InvariantCulture),
                };
                WriteTimestamp(buffer, time, kind == PgKind.TimestampTz, binary);
                break;
            case PgKind.Date:
                var date = value switch
                {
                    DateOnly only => only,
                    DateTime dateTime => DateOnly.FromDateTime(dateTime),
                    _ => DateOnly.Parse(value.ToString() ?? "", CultureInfo.InvariantCulture),
                };
                if (binary)
                {
                    buffer.WriteInt32(date.DayNumber - Epoch2000Date.DayNumber);
                }
                else
                {
                    WriteFormatted(buffer, date, "yyyy-MM-dd");
                }

                break;
            case PgKind.Time:
                long timeTicks = value switch
                {
                    TimeOnly only => only.Ticks,
                    TimeSpan span => span.Ticks,
                    DateTime dateTime => dateTime.TimeOfDay.Ticks,
                    _ => 0,
                };
                if (binary)
                {
                    buffer.WriteInt64(timeTicks / 10);
                }
                else
                {
                    WriteFormatted(buffer, new TimeOnly(timeTicks), "HH:mm:ss.FFFFFF");
                }

                break;
            case PgKind.Interval:
                var interval = value is TimeSpan timeSpan ? timeSpan : TimeSpan.Zero;
                WriteInterval(buffer, 0, interval.Days, (interval.Ticks % TimeSpan.TicksPerDay) / 10, binary);
                break;
            case PgKind.Uuid:
                var guid = value is Guid g ? g : Guid.Parse(value.ToString() ?? "");
                if (binary)
                {
                    guid.TryWriteBytes(buffer.GetSpan(16), bigEndian: true, out _);
                    buffer.Advance(16);
                }
                else
                {
                    WriteFormatted(buffer, guid, "D");
                }

                break;
            case PgKind.Bytea:
                WriteBytea(buffer, value, binary);
                break;
            case PgKind.Array when value is IList list:
                if (binary)
                {
                    WriteBinaryArray(buffer, list, elementKind, scratch);
                }
                else
                {
                    WriteTextArray(buffer, list, elementKind, scratch);
                }

                break;
            case PgKind.Json:
                buffer.WriteUtf8(value is string json ? json : ToJson(value));
                break;
            default:
                buffer.WriteUtf8(value is string text ? text : QueryResultWriter.FormatScalar(value));
                break;
        }
    }

    private static void WriteInteger(PgBuffer buffer, long value, int size, bool binary)
    {
        if (!binary)
        {
            value.TryFormat(buffer.GetSpan(20), out int written, default, CultureInfo.InvariantCulture);
            buffer.Advance(written);
            return;
        }

        switch (size)
        {
            case 2:
                buffer.WriteInt16((short)value);
                break;
            case 4:
                buffer.WriteInt32((int)value);
                break;
            default:
                buffer.WriteInt64(value);
                break;
        }
    }

    private static void WriteFloat4(PgBuffer buffer, float value, bool binary)
    {
        if (binary)
        {
            buffer.WriteInt32(BitConverter.SingleToInt32Bits(value));
        }
        else if (float.IsFinite(value))
        {
            value.TryFormat(buffer.GetSpan(32), out int written, "R", CultureInfo.InvariantCulture);
            buffer.Advance(written);
        }
        else
        {
            buffer.WriteUtf8(float.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static void WriteFloat8(PgBuffer buffer, double value, bool binary)
    {
        if (binary)
        {
            buffer.WriteInt64(BitConverter.DoubleToInt64Bits(value));
        }
        else if (double.IsFinite(value))
        {
            value.TryFormat(buffer.GetSpan(32), out int written, "R", CultureInfo.InvariantCulture);
            buffer.Advance(written);
        }
        else
        {
            buffer.WriteUtf8(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }

    private static void WriteTimestamp(PgBuffer buffer, DateTime value, bool zone, bool binary)
    {
        if (zone && value.Kind == DateTimeKind.Local)
        {
            value = value.ToUniversalTime();
        }

        if (binary)
        {
            buffer.WriteInt64((value.Ticks - Epoch2000Ticks) / 10);
            return;
        }

        WriteFormatted(buffer, value, "yyyy-MM-dd HH:mm:ss.FFFFFF");
        if (zone)
        {
            buffer.Write("+00"u8);
        }
    }

    private static void WriteInterval(PgBuffer buffer, int months, int days, long micros, bool binary)
    {
        if (binary)
        {
            buffer.WriteInt64(micros);
            buffer.WriteInt32(days);
            buffer.WriteInt32(months);
            return;
        }

        // PostgreSQL's own output style: "1 year 2 mons 3 days 04:05:06.5".
        var text = new StringBuilder();
        if (months != 0)
        {
            int years = months / 12;
            int rest = months % 12;
            if (years != 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"{years} year{(Math.Abs(years) == 1 ? "" : "s")} ");
            }

            if (rest != 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"{rest} mon{(Math.Abs(rest) == 1 ? "" : "s")} ");
            }
        }

        if (days != 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{days} day{(Math.Abs(days) == 1 ? "" : "s")} ");
        }

        if (micros != 0 || text.Length == 0)
        {
            var clock = TimeSpan.FromTicks(Math.Abs(micros) * 10);
            text.Append(micros < 0 ? "-" : "");
            text.Append(CultureInfo.InvariantCulture, $"{(long)clock.TotalHours:00}:{clock.Minutes:00}:{clock.Seconds:00}");
            if (clock.Ticks % TimeSpan.TicksPerSecond != 0)
            {
                text.Append('.').Append((clock.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture).TrimEnd('0'));
            }
        }

        buffer.WriteUtf8(text.ToString().TrimEnd());
    }

    private static void WriteBytea(PgBuffer buffer, object value, bool binary)
    {
        byte[] bytes;
        if (value is byte[] array)
        {
            bytes = array;
        }
        else if (value is Stream stream)
        {
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            bytes = copy.ToArray();
        }
        else
        {
            bytes = Encoding.UTF8.GetBytes(value.ToString() ?? "");
        }

        if (binary)
        {
            buffer.Write(bytes);
            return;
        }

        buffer.Write("\\x"u8);
        var span = buffer.GetSpan(bytes.Length * 2);
        for (int i = 0; i < bytes.Length; i++)
        {
            span[2 * i] = (byte)"0123456789abcdef"[bytes[i] >> 4];
            span[(2 * i) + 1] = (byte)"0123456789abcdef"[bytes[i] & 0xF];
        }

        buffer.Advance(bytes.Length * 2);
    }

    private static void WriteBinaryArray(PgBuffer buffer, IList list, PgKind elementKind, PgBuffer scratch)
    {
        bool hasNull = false;
        foreach (object? item in list)
        {
            hasNull |= item is null;
        }

        buffer.WriteInt32(list.Count == 0 ? 0 : 1);
        buffer.WriteInt32(hasNull ? 1 : 0);
        buffer.WriteInt32(Oid(elementKind));
        if (list.Count == 0)
        {
            return;
        }

        buffer.WriteInt32(list.Count);
        buffer.WriteInt32(1);
        foreach (object? item in list)
        {
            if (item is null)
            {
                buffer.WriteInt32(-1);
                continue;
            }

            int at = buffer.StartLength();
            WriteObject(buffer, elementKind, PgKind.Text, item, binary: true, scratch);
            buffer.EndLength(at);
        }
    }

    private static void WriteTextArray(PgBuffer buffer, IList list, PgKind elementKind, PgBuffer scratch)
    {
        buffer.WriteByte((byte)'{');
        for (int i = 0; i < list.Count; i++)
        {
            if (i > 0)
            {
                buffer.WriteByte((byte)',');
            }

            if (list[i] is not { } item)
            {
                buffer.Write("NULL"u8);
                continue;
            }

            scratch.Clear();
            WriteObject(scratch, elementKind, PgKind.Text, item, binary: false, scratch: new PgBuffer(64));
            var text = scratch.Span;
            if (!NeedsArrayQuotes(text))
            {
                buffer.Write(text);
                continue;
            }

            buffer.WriteByte((byte)'"');
            foreach (byte b in text)
            {
                if (b is (byte)'"' or (byte)'\\')
                {
                    buffer.WriteByte((byte)'\\');
                }

                buffer.WriteByte(b);
            }

            buffer.WriteByte((byte)'"');
        }

        buffer.WriteByte((byte)'}');
    }

    private static bool NeedsArrayQuotes(ReadOnlySpan<byte> text) =>
        text.IsEmpty || text.IndexOfAny(ArrayQuoted) >= 0 || Ascii.EqualsIgnoreCase(text, "NULL"u8);

    /// <summary>PostgreSQL's binary numeric: digit count, weight, sign and display scale, then base-10000 digits.</summary>
    public static void WriteNumeric(PgBuffer buffer, string text)
    {
        if (text.Contains('E', StringComparison.OrdinalIgnoreCase) && decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out decimal parsed))
        {
            text = parsed.ToString(CultureInfo.InvariantCulture);
        }

        if (text is "NaN")
        {
            buffer.WriteInt16(0);
            buffer.WriteInt16(0);
            buffer.WriteInt16(unchecked((short)0xC000));
            buffer.WriteInt16(0);
            return;
        }

        bool negative = text.StartsWith('-');
        string unsigned = negative ? text[1..] : text;
        int dot = unsigned.IndexOf('.', StringComparison.Ordinal);
        string integer = (dot < 0 ? unsigned : unsigned[..dot]).TrimStart('0');
        string fraction = dot < 0 ? "" : unsigned[(dot + 1)..];
        int scale = fraction.Length;
        integer = integer.PadLeft((integer.Length + 3) / 4 * 4, '0');
        fraction = fraction.PadRight((fraction.Length + 3) / 4 * 4, '0');
        var groups = new List<short>();
        for (int i = 0; i < integer.Length; i += 4)
        {
            groups.Add(short.Parse(integer.AsSpan(i, 4), CultureInfo.InvariantCulture));
        }

        int weight = groups.Count - 1;
        for (int i = 0; i < fraction.Length; i += 4)
        {
            groups.Add(short.Parse(fraction.AsSpan(i, 4), CultureInfo.InvariantCulture));
        }

        int first = 0;
        while (first < groups.Count && groups[first] == 0)
        {
            first++;
            weight--;
        }

        int last = groups.Count;
        while (last > first && groups[last - 1] == 0)
        {
            last--;
        }

        if (first == last)
        {
            weight = 0;
        }

        buffer.WriteInt16((short)(last - first));
        buffer.WriteInt16((short)weight);
        buffer.WriteInt16(negative && first != last ? (short)0x4000 : (short)0);
        buffer.WriteInt16((short)scale);
        for (int i = first; i < last; i++)
        {
            buffer.WriteInt16(groups[i]);
        }
    }

    private static void WriteFormatted<T>(PgBuffer buffer, T value, string format)
        where T : IUtf8SpanFormattable
    {
        value.TryFormat(buffer.GetSpan(64), out int written, format, CultureInfo.InvariantCulture);
        buffer.Advance(written);
    }

    private static string ToJson(object value)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            QueryResultWriter.WriteValue(json, value);
        }

        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Reads a 2-byte big-endian integer: for the parameter decoders.</summary>
    public static short ReadInt16(ReadOnlySpan<byte> bytes) => BinaryPrimitives.ReadInt16BigEndian(bytes);
}
