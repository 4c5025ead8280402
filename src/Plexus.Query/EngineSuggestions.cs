using System.Text.RegularExpressions;

namespace Plexus.Query;

/// <summary>
/// The engine's "Did you mean …?" picks the closest name among every table it knows, its own catalog included, so a
/// mistyped measurement got <c>Did you mean "pg_enum"?</c>. A guess at an internal table sends the person the wrong
/// way: it is replaced by where to find the names that exist. Guesses at the person's own tables stay.
/// </summary>
public static partial class EngineSuggestions
{
    public const string ListTablesHint = "SHOW TABLES lists the measurements of the namespace, SHOW ALL TABLES those of every namespace";

    public static string WithoutCatalogNames(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return DidYouMean().Replace(message, match => IsCatalogName(match.Groups["name"].Value) ? ListTablesHint : match.Value);
    }

    /// <summary>Names of the engine's own catalog and of Plexus's internal schema, never a person's data.</summary>
    public static bool IsCatalogName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string bare = name.Replace("\"", "", StringComparison.Ordinal);
        int dot = bare.LastIndexOf('.');
        string schema = dot < 0 ? "" : bare[..dot];
        string table = dot < 0 ? bare : bare[(dot + 1)..];
        return schema.EndsWith("pg_catalog", StringComparison.OrdinalIgnoreCase)
            || schema.EndsWith("information_schema", StringComparison.OrdinalIgnoreCase)
            || schema.EndsWith("_plexus", StringComparison.OrdinalIgnoreCase)
            || table.StartsWith("pg_", StringComparison.OrdinalIgnoreCase)
            || table.StartsWith("duckdb_", StringComparison.OrdinalIgnoreCase)
            || table.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)
            || table.StartsWith("_plexus", StringComparison.OrdinalIgnoreCase)
            || table.Equals("information_schema", StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("""Did you mean "(?<name>[^"\n]*(?:"\."[^"\n]*)*)"\??""", RegexOptions.CultureInvariant)]
    private static partial Regex DidYouMean();
}
