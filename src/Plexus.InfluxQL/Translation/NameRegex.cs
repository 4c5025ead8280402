using System.Text.RegularExpressions;

namespace Plexus.InfluxQL.Translation;

/// <summary>
/// Regexes over names (measurements in FROM and WITH MEASUREMENT, tag keys in WITH KEY and GROUP BY, field keys in
/// SELECT), matched here against the names the catalog lists. InfluxDB writes them in Go's RE2 syntax; .NET's
/// non-backtracking engine reads the same patterns in linear time, once RE2's <c>(?P&lt;name&gt;…)</c> groups are
/// renamed. Regexes over values (tags, string fields) run in the engine instead, with RE2 itself.
/// </summary>
internal static class NameRegex
{
    public static Regex Create(string pattern)
    {
        try
        {
            return new Regex(pattern.Replace("(?P<", "(?<", StringComparison.Ordinal), RegexOptions.NonBacktracking | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException error)
        {
            throw new StatementException($"/{pattern}/ is not a valid regex: {error.Message}");
        }
        catch (NotSupportedException error)
        {
            throw new StatementException($"/{pattern}/ cannot be used as a name filter: {error.Message}");
        }
    }
}
