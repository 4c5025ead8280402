using System.Text;

namespace Plexus.Storage.Schema;

/// <summary>Quoting of identifiers and literals for the SQL the store generates from user-chosen names.</summary>
public static class SqlNames
{
    /// <summary>Schema that holds the physical tables; users query the views in their namespace instead.</summary>
    public const string InternalSchema = "_plexus";

    public const string SeriesIdColumn = "_series_id";
    public const string TimeColumn = "time";

    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    public static string SeriesTable(int measurementId) => $"s{measurementId}";

    public static string DataTable(int measurementId) => $"d{measurementId}";

    public static string Qualified(string table) => $"{InternalSchema}.{table}";

    public static string Utf8(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
