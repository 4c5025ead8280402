using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Plexus.PgWire.Protocol;

namespace Plexus.PgWire.Sql;

/// <summary>
/// Turns a bound parameter into a SQL literal that replaces its <c>$n</c>: the statement the engine checks and runs is
/// then one whole statement, checked like any other. Strings become standard literals (quotes doubled, which is the
/// whole of their escaping with standard_conforming_strings on); typed values get a CAST to the type the client named.
/// </summary>
internal static class PgParameters
{
    private static readonly DateTime Epoch2000 = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>The literal, or throws <see cref="PgException"/> (22P03, 0A000) for a value it cannot read.</summary>
    public static string Literal(int typeOid, short format, byte[]? value)
    {
        if (value is null)
        {
            return SqlType(typeOid) is { } nullType ? $"CAST(NULL AS {nullType})" : "NULL";
        }

        if (format == 0)
        {
            return TextLiteral(typeOid, Encoding.UTF8.GetString(value));
        }

        var bytes = value.AsSpan();
        return typeOid switch
        {
            16 when bytes.Length == 1 => bytes[0] != 0 ? "TRUE" : "FALSE",
            21 when bytes.Length == 2 => Number(BinaryPrimitives.ReadInt16BigEndian(bytes)),
            23 when bytes.Length == 4 => Number(BinaryPrimitives.ReadInt32BigEndian(bytes)),
            20 when bytes.Length == 8 => Number(BinaryPrimitives.ReadInt64BigEndian(bytes)),
            700 when bytes.Length == 4 => Float(BinaryPrimitives.ReadSingleBigEndian(bytes), "REAL"),
            701 when bytes.Length == 8 => Float(BinaryPrimitives.ReadDoubleBigEndian(bytes), "DOUBLE"),
            1700 => Numeric(bytes),
            25 or 1043 or 19 or 705 or 1042 or 0 => Quote(Encoding.UTF8.GetString(bytes)),
            114 => $"CAST({Quote(Encoding.UTF8.GetString(bytes))} AS JSON)",
            3802 when bytes.Length >= 1 && bytes[0] == 1 => $"CAST({Quote(Encoding.UTF8.GetString(bytes[1..]))} AS JSON)",
            1082 when bytes.Length == 4 => $"DATE '{DateOnly.FromDayNumber(new DateOnly(2000, 1, 1).DayNumber + BinaryPrimitives.ReadInt32BigEndian(bytes)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)}'",
            1114 when bytes.Length == 8 => $"TIMESTAMP '{Timestamp(BinaryPrimitives.ReadInt64BigEndian(bytes))}'",
            1184 when bytes.Length == 8 => $"TIMESTAMPTZ '{Timestamp(BinaryPrimitives.ReadInt64BigEndian(bytes))}+00'",
            1083 when bytes.Length == 8 => $"TIME '{new TimeOnly(BinaryPrimitives.ReadInt64BigEndian(bytes) * 10).ToString("HH:mm:ss.FFFFFF", CultureInfo.InvariantCulture)}'",
            1186 when bytes.Length == 16 => Interval(BinaryPrimitives.ReadInt64BigEndian(bytes), BinaryPrimitives.ReadInt32BigEndian(bytes[8..]), BinaryPrimitives.ReadInt32BigEndian(bytes[12..])),
            2950 when bytes.Length == 16 => $"UUID '{new Guid(bytes, bigEndian: true):D}'",
            17 => $"CAST('{Hex(bytes)}' AS BLOB)",
            _ => throw new PgException(PgErrorCodes.InvalidBinaryRepresentation, $"a binary parameter of type {PgTypes.Name(typeOid)} (OID {typeOid}) is not supported; send it in text format"),
        };
    }

    private static string TextLiteral(int typeOid, string text)
    {
        if (typeOid is 21 or 23 or 20 or 1700 && decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out _) && !text.Contains('e', StringComparison.OrdinalIgnoreCase))
        {
            return "(" + text.Trim() + ")";
        }

        return SqlType(typeOid) is { } type ? $"CAST({Quote(text)} AS {type})" : Quote(text);
    }

    /// <summary>The engine's name for a parameter type the client named; null leaves the literal untyped.</summary>
    public static string? SqlType(int typeOid) => typeOid switch
    {
        16 => "BOOLEAN",
        21 => "SMALLINT",
        23 => "INTEGER",
        20 => "BIGINT",
        700 => "REAL",
        701 => "DOUBLE",
        1700 => "DECIMAL(38,10)",
        25 or 1043 or 1042 or 19 => "VARCHAR",
        114 or 3802 => "JSON",
        1082 => "DATE",
        1083 => "TIME",
        1114 => "TIMESTAMP",
        1184 => "TIMESTAMPTZ",
        1186 => "INTERVAL",
        2950 => "UUID",
        17 => "BLOB",
        1000 => "BOOLEAN[]",
        1005 => "SMALLINT[]",
        1007 => "INTEGER[]",
        1016 => "BIGINT[]",
        1021 => "REAL[]",
        1022 => "DOUBLE[]",
        1009 or 1015 => "VARCHAR[]",
        _ => null,
    };

    public static string Quote(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    private static string Number(long value) => value < 0 ? "(" + value.ToString(CultureInfo.InvariantCulture) + ")" : value.ToString(CultureInfo.InvariantCulture);

    private static string Float(double value, string type) => double.IsFinite(value)
        ? $"CAST({value.ToString("R", CultureInfo.InvariantCulture)} AS {type})"
        : $"CAST('{(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity")}' AS {type})";

    private static string Timestamp(long micros) => Epoch2000.AddTicks(micros * 10).ToString("yyyy-MM-dd HH:mm:ss.FFFFFF", CultureInfo.InvariantCulture);

    private static string Interval(long micros, int days, int months) =>
        $"(INTERVAL {months} MONTH + INTERVAL {days} DAY + INTERVAL {micros} MICROSECOND)".Replace("INTERVAL -", "-INTERVAL ", StringComparison.Ordinal);

    private static string Hex(ReadOnlySpan<byte> bytes)
    {
        var text = new StringBuilder(bytes.Length * 4);
        foreach (byte b in bytes)
        {
            text.Append("\\x").Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }

        return text.ToString();
    }

    private static string Numeric(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 8)
        {
            throw new PgException(PgErrorCodes.InvalidBinaryRepresentation, "a binary numeric parameter is shorter than its 8-byte header");
        }

        int count = BinaryPrimitives.ReadInt16BigEndian(bytes);
        int weight = BinaryPrimitives.ReadInt16BigEndian(bytes[2..]);
        ushort sign = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
        int scale = BinaryPrimitives.ReadInt16BigEndian(bytes[6..]);
        if (bytes.Length != 8 + (2 * count) || sign is not (0 or 0x4000 or 0xC000))
        {
            throw new PgException(PgErrorCodes.InvalidBinaryRepresentation, "a binary numeric parameter is malformed");
        }

        if (sign == 0xC000)
        {
            return "CAST('NaN' AS DOUBLE)";
        }

        var integer = new StringBuilder();
        var fraction = new StringBuilder();
        for (int i = 0; i < count; i++)
        {
            string group = BinaryPrimitives.ReadInt16BigEndian(bytes[(8 + (2 * i))..]).ToString("0000", CultureInfo.InvariantCulture);
            (i <= weight ? integer : fraction).Append(group);
        }

        for (int i = count; i <= weight; i++)
        {
            integer.Append("0000");
        }

        if (weight < -1)
        {
            fraction.Insert(0, new string('0', 4 * (-1 - weight)));
        }

        string whole = integer.ToString().TrimStart('0');
        string digits = (whole.Length == 0 ? "0" : whole) + (scale > 0 ? "." + fraction.ToString().PadRight(scale, '0')[..scale] : "");
        return "(" + (sign == 0x4000 ? "-" : "") + digits + ")";
    }
}
