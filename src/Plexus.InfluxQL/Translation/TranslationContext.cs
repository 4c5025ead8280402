using Plexus.InfluxQL.Syntax;
using Plexus.Storage.Schema;

namespace Plexus.InfluxQL.Translation;

/// <summary>What a translation may know: the databases the statement names (read beforehand), the time, the limits.</summary>
/// <param name="DefaultDatabase">The request's <c>db</c>, already a namespace name.</param>
/// <param name="NowNs"><c>now()</c>, in nanoseconds since the epoch: one value for the whole request.</param>
/// <param name="MaxBuckets">Most GROUP BY time() buckets per series that fill() may make (the row limit).</param>
public sealed record TranslationContext(string DefaultDatabase, IReadOnlyDictionary<string, InfluxDatabase> Databases, long NowNs, int MaxBuckets)
{
    /// <summary>The database <paramref name="name"/> names (the request's when null), which must exist.</summary>
    public InfluxDatabase Database(string? name)
    {
        string ns = Normalize(name, DefaultDatabase);
        if (!Databases.TryGetValue(ns, out var database) || !database.Exists)
        {
            throw new StatementException($"database not found: {name ?? ns}");
        }

        return database;
    }

    /// <summary>A database name of a statement (ON db, FROM "db"..) as a namespace; null means <paramref name="defaultDatabase"/>.</summary>
    public static string Normalize(string? name, string defaultDatabase)
    {
        if (name is null)
        {
            return defaultDatabase;
        }

        if (!Namespaces.TryNormalize(name, out string ns, out string? error))
        {
            throw new StatementException($"database not found: {name} ({error})");
        }

        return ns;
    }

    /// <summary>Every database <paramref name="statement"/> reads, so that they can be read before it is translated.</summary>
    public static IEnumerable<string> DatabasesOf(Statement statement, string defaultDatabase)
    {
        IEnumerable<string?> named = statement switch
        {
            SelectStatement select => select.Sources.Select(s => s.Database),
            ShowMeasurementsStatement show => [show.Database],
            ShowTagKeysStatement show => [show.Database, .. show.Sources.Select(s => s.Database)],
            ShowTagValuesStatement show => [show.Database, .. show.Sources.Select(s => s.Database)],
            ShowFieldKeysStatement show => [show.Database, .. show.Sources.Select(s => s.Database)],
            ShowSeriesStatement show => [show.Database, .. show.Sources.Select(s => s.Database)],
            ShowRetentionPoliciesStatement show => [show.Database],
            _ => [],
        };
        foreach (string? name in named.Distinct())
        {
            if (name is null)
            {
                yield return defaultDatabase;
            }
            else if (Namespaces.TryNormalize(name, out string ns, out _))
            {
                yield return ns;
            }
        }
    }

    /// <summary>The measurements <paramref name="sources"/> name, each once, in name order; a name that does not exist is skipped, as in InfluxDB.</summary>
    public IReadOnlyList<(InfluxDatabase Database, InfluxMeasurement Measurement)> Resolve(IReadOnlyList<MeasurementSource> sources, string? onDatabase)
    {
        var found = new List<(InfluxDatabase, InfluxMeasurement)>();
        var seen = new HashSet<(string, string)>();
        if (sources.Count == 0)
        {
            var database = Database(onDatabase);
            foreach (var measurement in database.Measurements)
            {
                found.Add((database, measurement));
            }

            return found;
        }

        foreach (var source in sources)
        {
            var database = Database(source.Database ?? onDatabase);
            if (source.Regex is not null)
            {
                var regex = NameRegex.Create(source.Regex);
                foreach (var measurement in database.Measurements)
                {
                    if (regex.IsMatch(measurement.Name) && seen.Add((database.Name, measurement.Name)))
                    {
                        found.Add((database, measurement));
                    }
                }
            }
            else if (database.Find(source.Name!) is { } measurement && seen.Add((database.Name, measurement.Name)))
            {
                found.Add((database, measurement));
            }
        }

        found.Sort((a, b) => a.Item1.Name == b.Item1.Name ? string.CompareOrdinal(a.Item2.Name, b.Item2.Name) : string.CompareOrdinal(a.Item1.Name, b.Item1.Name));
        return found;
    }
}
