namespace Plexus.Storage.Schema;

/// <summary>
/// Namespaces are what InfluxDB calls databases or buckets; each is a SQL schema. Names are folded to lower
/// case because SQL identifiers are case-insensitive: `db=Fleet` and `db=fleet` are one namespace.
/// </summary>
public static class Namespaces
{
    public const string Default = "main";

    private static readonly HashSet<string> Reserved = new(StringComparer.OrdinalIgnoreCase)
    {
        SqlNames.InternalSchema, "information_schema", "pg_catalog", "temp", "system", "memory",
    };

    /// <summary>
    /// Turns a `db` or `bucket` parameter into a namespace: empty means <see cref="Default"/>; an InfluxDB 1.x
    /// retention-policy suffix (`mydb/autogen`, `mydb.autogen` is not one) is dropped.
    /// </summary>
    public static bool TryNormalize(string? requested, out string name, out string? error)
    {
        error = null;
        name = Default;
        if (string.IsNullOrEmpty(requested))
        {
            return true;
        }

        int slash = requested.IndexOf('/', StringComparison.Ordinal);
        string candidate = slash >= 0 ? requested[..slash] : requested;
        if (candidate.Length == 0)
        {
            name = Default;
            return true;
        }

        if (candidate.Length > 64)
        {
            error = $"namespace \"{candidate[..64]}…\" is longer than 64 characters";
            return false;
        }

        foreach (char c in candidate)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                error = $"namespace \"{candidate}\" may contain only letters, digits, '_' and '-'";
                return false;
            }
        }

        if (Reserved.Contains(candidate))
        {
            error = $"namespace \"{candidate}\" is reserved";
            return false;
        }

        name = candidate.ToLowerInvariant();
        return true;
    }
}
