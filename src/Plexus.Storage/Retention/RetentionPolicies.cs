using System.Globalization;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Retention;

/// <summary>How long a namespace's or a measurement's raw rows are kept; <see cref="Measurement"/> null for the whole namespace.</summary>
public sealed record RetentionPolicy(string Namespace, string? Measurement, TimeSpan Raw, DateTimeOffset UpdatedAt)
{
    /// <summary><c>namespace</c> or <c>namespace.measurement</c>, as the CLI and the HTTP API name it.</summary>
    public string Target => Measurement is null ? Namespace : Namespace + "." + Measurement;
}

/// <summary>A retention policy could not be set: what was wrong, for the person who asked.</summary>
public sealed class RetentionPolicyException(string message, string field) : Exception(message)
{
    public string Field { get; } = field;
}

/// <summary>
/// The retention policies (docs/storage.md#retention): rows of <c>_plexus.retention_policies</c>, one per namespace or
/// measurement, shown read-only in SQL as <c>main.retention_policies</c>, a name no measurement of <c>main</c> may take.
/// A measurement's own policy wins over its namespace's. <see cref="RetentionEnforcer"/> applies them.
/// </summary>
public sealed class RetentionPolicies : IDisposable
{
    public const string Table = SqlNames.InternalSchema + ".retention_policies";
    public const string ViewName = "retention_policies";

    /// <summary>Shortest retention accepted: a shorter one is more likely a mistaken unit than a wish.</summary>
    public static readonly TimeSpan MinRaw = TimeSpan.FromMinutes(1);

    /// <summary>Longest retention accepted (about 100 years); keeping everything is having no policy.</summary>
    public static readonly TimeSpan MaxRaw = TimeSpan.FromDays(36_500);

    private const int MaxMeasurementNameLength = 256;

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private int _disposed;

    private RetentionPolicies(MetadataConnection connection, TimeProvider time)
    {
        _connection = connection;
        _time = time;
    }

    public static RetentionPolicies Open(PlexusStore store, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            // '' stands for "the whole namespace" so that the pair can be the key (a key column cannot be NULL).
            connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    namespace VARCHAR NOT NULL,
                    measurement VARCHAR NOT NULL,
                    raw_seconds BIGINT NOT NULL,
                    updated_at TIMESTAMP NOT NULL,
                    PRIMARY KEY (namespace, measurement))
                """);
            connection.Execute($"""
                CREATE OR REPLACE VIEW main.{ViewName} AS
                SELECT namespace, NULLIF(measurement, '') AS measurement, to_seconds(raw_seconds) AS raw, raw_seconds, updated_at
                FROM {Table}
                """);
            return new RetentionPolicies(connection, time ?? TimeProvider.System);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Parses <paramref name="target"/> (<c>namespace</c> or <c>namespace.measurement</c>; the part before the first dot is
    /// the namespace).
    /// </summary>
    /// <exception cref="RetentionPolicyException">Not a valid target.</exception>
    public static (string Namespace, string? Measurement) ParseTarget(string target)
    {
        ArgumentNullException.ThrowIfNull(target);
        int dot = target.IndexOf('.', StringComparison.Ordinal);
        string nsText = dot < 0 ? target : target[..dot];
        string? measurement = dot < 0 ? null : target[(dot + 1)..];
        string ns = "";
        string? error = null;
        if (nsText.Length == 0 || nsText.Contains('/', StringComparison.Ordinal) || !Namespaces.TryNormalize(nsText, out ns, out error))
        {
            string why = nsText.Length == 0 ? "the namespace is empty" : error ?? $"namespace \"{Shorten(nsText)}\" may contain only letters, digits, '_' and '-'";
            throw new RetentionPolicyException($"{why}: name namespace or namespace.measurement, e.g. main.readings", "target");
        }

        if (measurement is { Length: 0 or > MaxMeasurementNameLength })
        {
            throw new RetentionPolicyException($"the measurement name after \"{ns}.\" must be 1 to {MaxMeasurementNameLength} characters", "target");
        }

        return (ns, measurement);
    }

    /// <summary>Parses a retention such as <c>30d</c>, <c>12h</c>, <c>90m</c>, <c>2w</c> (whole numbers of minutes, hours, days or weeks).</summary>
    /// <exception cref="RetentionPolicyException">Not such a duration, or outside <see cref="MinRaw"/> … <see cref="MaxRaw"/>.</exception>
    public static TimeSpan ParseDuration(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.Length is >= 2 and <= 12
            && long.TryParse(trimmed[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out long count)
            && char.ToLowerInvariant(trimmed[^1]) switch { 'm' => 1L, 'h' => 60L, 'd' => 1440L, 'w' => 10080L, _ => 0L } is var minutes and > 0
            && count <= MaxRaw.TotalMinutes / minutes)
        {
            var duration = TimeSpan.FromMinutes(count * minutes);
            if (duration < MinRaw)
            {
                throw new RetentionPolicyException($"raw: \"{trimmed}\" is shorter than {Format(MinRaw)}, the shortest retention", "raw");
            }

            return duration;
        }

        throw new RetentionPolicyException($"raw: \"{Shorten(text)}\" is not a retention such as 30d, 12h, 90m or 2w (whole minutes, hours, days or weeks, at most {Format(MaxRaw)})", "raw");
    }

    /// <summary>The shortest exact form: <c>30d</c>, <c>36h</c>, <c>90m</c>.</summary>
    public static string Format(TimeSpan duration)
    {
        long minutes = (long)duration.TotalMinutes;
        return minutes % 10080 == 0 ? $"{minutes / 10080}w"
            : minutes % 1440 == 0 ? $"{minutes / 1440}d"
            : minutes % 60 == 0 ? $"{minutes / 60}h"
            : $"{minutes}m";
    }

    /// <summary>Sets (or replaces) the policy of <paramref name="ns"/> or of one of its measurements; durable when this returns.</summary>
    public RetentionPolicy Set(string ns, string? measurement, TimeSpan raw)
    {
        if (raw < MinRaw || raw > MaxRaw)
        {
            throw new RetentionPolicyException($"raw must be from {Format(MinRaw)} to {Format(MaxRaw)}", "raw");
        }

        var now = _time.GetUtcNow();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _connection.Execute($"INSERT OR REPLACE INTO {Table} VALUES ($1, $2, $3, $4)", ns, measurement ?? "", (long)raw.TotalSeconds, now.UtcDateTime);
        }

        return new RetentionPolicy(ns, measurement, raw, now);
    }

    /// <summary>Removes the policy; false when there was none. Rows already deleted stay deleted.</summary>
    public bool Remove(string ns, string? measurement)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            bool found = _connection.Scalar($"SELECT 1 FROM {Table} WHERE namespace = $1 AND measurement = $2", ns, measurement ?? "") is not null;
            if (found)
            {
                _connection.Execute($"DELETE FROM {Table} WHERE namespace = $1 AND measurement = $2", ns, measurement ?? "");
            }

            return found;
        }
    }

    /// <summary>Every policy, by namespace then measurement (the namespace's own first).</summary>
    public IReadOnlyList<RetentionPolicy> List()
    {
        var policies = new List<RetentionPolicy>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _connection.Query($"SELECT namespace, measurement, raw_seconds, updated_at FROM {Table} ORDER BY namespace, measurement", reader =>
                policies.Add(new RetentionPolicy(
                    reader.GetString(0),
                    reader.GetString(1) is { Length: > 0 } measurement ? measurement : null,
                    TimeSpan.FromSeconds(reader.GetInt64(2)),
                    new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(3), DateTimeKind.Utc)))));
        }

        return policies;
    }

    /// <summary>The measurements the store holds in <paramref name="ns"/>, for the enforcer's namespace-wide policies.</summary>
    internal IReadOnlyList<string> MeasurementsOf(string ns)
    {
        var names = new List<string>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _connection.Query($"SELECT name FROM {SqlNames.InternalSchema}.measurements WHERE namespace = $1 ORDER BY id", reader => names.Add(reader.GetString(0)), ns);
        }

        return names;
    }

    private static string Shorten(string text) => text.Length > 40 ? text[..40] + "…" : text;

    public void Dispose()
    {
        lock (_lock)
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                _connection.Dispose();
            }
        }
    }
}
