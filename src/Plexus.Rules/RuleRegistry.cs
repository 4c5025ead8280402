using System.Text.Json;
using Plexus.Core;
using Plexus.Geo;
using Plexus.Rules.Expressions;
using Plexus.Storage;
using Plexus.Storage.Schema;

namespace Plexus.Rules;

/// <summary>A rule as kept: its definition, whether it is paused, when it was made and changed.</summary>
public sealed record StoredRule(RuleDefinition Definition, bool Paused, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public string Name => Definition.Name;
}

/// <summary>
/// The rules: rows of <c>_plexus.rules</c> (the definition as JSON text), shown in SQL as <c>main.rules</c>. A rule is
/// checked before it is kept: its JSON, its measurement (it must exist), the names its expressions use (fields and
/// tags the measurement has, the device's facts) and their syntax; the refusal says which and why. The table is the
/// truth, a copy in memory answers the API and the engine; <see cref="Changed"/> tells the engine.
/// </summary>
public sealed class RuleRegistry : IDisposable
{
    public const string Table = "_plexus.rules";
    public const string View = "main.rules";

    private readonly MetadataConnection _connection;
    private readonly TimeProvider _time;
    private readonly Func<string, GeoShape?>? _geofences;
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, StoredRule> _rules = new(StringComparer.Ordinal);
    private int _disposed;

    private RuleRegistry(MetadataConnection connection, TimeProvider time, Func<string, GeoShape?>? geofences, int maxRules)
    {
        _connection = connection;
        _time = time;
        _geofences = geofences;
        MaxRules = maxRules;
    }

    /// <summary>The most rules one server keeps (<c>--rules-max</c>).</summary>
    public int MaxRules { get; }

    /// <summary>Raised after every change, outside the lock; the engine rebuilds its compiled set.</summary>
    public event Action? Changed;

    /// <summary>How much rules' windows may hold (checked when a rule is saved, and by the engine per device).</summary>
    public RuleLimits Limits { get; private init; } = RuleLimits.Default;

    public static RuleRegistry Open(PlexusStore store, Func<string, GeoShape?>? geofences = null, TimeProvider? time = null, int maxRules = 10_000, RuleLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxRules);
        var connection = store.OpenMetadataConnection();
        try
        {
            connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    name VARCHAR PRIMARY KEY, definition VARCHAR NOT NULL, paused BOOLEAN NOT NULL,
                    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)
                """);
            connection.Execute($"""
                CREATE OR REPLACE VIEW {View} AS
                SELECT name, json_extract_string(definition, '$.from') AS "from", json_extract_string(definition, '$.where') AS "where",
                       json_extract_string(definition, '$.severity') AS severity, paused, definition::JSON AS definition, created_at, updated_at
                FROM {Table}
                """);
            var registry = new RuleRegistry(connection, time ?? TimeProvider.System, geofences, maxRules) { Limits = limits ?? RuleLimits.Default };
            registry.Load();
            return registry;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public IReadOnlyList<StoredRule> List()
    {
        lock (_lock)
        {
            return [.. _rules.Values];
        }
    }

    public StoredRule? Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            return _rules.GetValueOrDefault(name);
        }
    }

    /// <summary>Checks and keeps a new rule; a name already taken is a conflict.</summary>
    public StoredRule Add(RuleDefinition definition) => Save(definition, replace: false).Rule;

    /// <summary>Creates or replaces <paramref name="definition"/>'s rule (a replaced rule keeps its paused state); <c>Created</c> says which.</summary>
    public (StoredRule Rule, bool Created) Put(RuleDefinition definition) => Save(definition, replace: true);

    public StoredRule SetPaused(string name, bool paused)
    {
        StoredRule rule;
        lock (_lock)
        {
            ThrowIfDisposed();
            var existing = _rules.GetValueOrDefault(name) ?? throw NotFound(name);
            rule = existing with { Paused = paused, UpdatedAt = Now() };
            _connection.Execute($"UPDATE {Table} SET paused = $2, updated_at = $3 WHERE name = $1", name, paused, rule.UpdatedAt.UtcDateTime);
            _rules[name] = rule;
        }

        Changed?.Invoke();
        return rule;
    }

    public bool Remove(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_rules.Remove(name))
            {
                return false;
            }

            _connection.Execute($"DELETE FROM {Table} WHERE name = $1", name);
        }

        Changed?.Invoke();
        return true;
    }

    /// <summary>
    /// Checks a rule against what the store holds: its measurement must exist, its expressions must compile and name
    /// only columns the measurement has (or the device's facts).
    /// </summary>
    public CompiledRule Check(RuleDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        IReadOnlyDictionary<string, RuleType>? columns;
        lock (_lock)
        {
            ThrowIfDisposed();
            columns = ColumnsOf(definition.Namespace, definition.Measurement);
        }

        if (columns is null)
        {
            throw RegistryException.Invalid("from", $"no measurement \"{definition.Measurement}\" in namespace \"{definition.Namespace}\"; write to it first or check the name (SELECT namespace, name FROM _plexus.measurements lists them)");
        }

        return CompiledRule.Compile(definition, new RuleCompileOptions { KnownColumns = columns, Geofences = _geofences, Limits = Limits });
    }

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

    /// <summary>The answer to a name no rule has.</summary>
    public static RegistryException NotFound(string name) => RegistryException.NotFound("name", $"no rule \"{name}\"");

    private (StoredRule Rule, bool Created) Save(RuleDefinition definition, bool replace)
    {
        ArgumentNullException.ThrowIfNull(definition);
        RuleJson.CheckName(definition.Name);
        Check(definition);
        StoredRule rule;
        bool created;
        lock (_lock)
        {
            ThrowIfDisposed();
            var existing = _rules.GetValueOrDefault(definition.Name);
            if (existing is not null && !replace)
            {
                throw RegistryException.Conflict("name", $"a rule \"{definition.Name}\" already exists; change it with PUT /api/v1/rules/{definition.Name} (plexus rules update) or remove it first");
            }

            if (existing is null && _rules.Count >= MaxRules)
            {
                throw RegistryException.Invalid("name", $"there are already {MaxRules} rules, the most this server keeps; remove some or raise --rules-max");
            }

            var now = Now();
            rule = new StoredRule(definition, existing?.Paused ?? false, existing?.CreatedAt ?? now, now);
            _connection.Execute(
                $"INSERT OR REPLACE INTO {Table} (name, definition, paused, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
                definition.Name, RuleJson.ToText(definition), rule.Paused, rule.CreatedAt.UtcDateTime, rule.UpdatedAt.UtcDateTime);
            _rules[definition.Name] = rule;
            created = existing is null;
        }

        Changed?.Invoke();
        return (rule, created);
    }

    private Dictionary<string, RuleType>? ColumnsOf(string ns, string measurement)
    {
        var id = _connection.Scalar($"SELECT min(id) FROM {SqlNames.InternalSchema}.measurements WHERE namespace = $1 AND lower(name) = lower($2)", ns, measurement);
        if (id is null)
        {
            return null;
        }

        int measurementId = Convert.ToInt32(id, System.Globalization.CultureInfo.InvariantCulture);
        var columns = new Dictionary<string, RuleType>(StringComparer.OrdinalIgnoreCase);
        _connection.Query(
            $"SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = $1 AND table_name IN ($2, $3) AND column_name NOT IN ($4, $5)",
            reader => columns[reader.GetString(0)] = reader.GetString(1) switch
            {
                "BOOLEAN" => RuleType.Boolean,
                "VARCHAR" => RuleType.Text,
                _ => RuleType.Number,
            },
            SqlNames.InternalSchema, SqlNames.SeriesTable(measurementId), SqlNames.DataTable(measurementId), SqlNames.SeriesIdColumn, SqlNames.TimeColumn);
        return columns;
    }

    private void Load()
    {
        _connection.Query($"SELECT name, definition, paused, created_at, updated_at FROM {Table}", reader =>
        {
            using var document = JsonDocument.Parse(reader.GetString(1));
            var definition = RuleJson.Parse(document.RootElement, reader.GetString(0));
            _rules[definition.Name] = new StoredRule(definition, reader.GetBoolean(2), AsUtc(reader.GetDateTime(3)), AsUtc(reader.GetDateTime(4)));
        });
    }

    private DateTimeOffset Now()
    {
        // Stored as TIMESTAMP (microseconds); trimming here keeps the API's answer equal to what is read back.
        var now = _time.GetUtcNow();
        return new DateTimeOffset(now.Ticks - (now.Ticks % 10), TimeSpan.Zero);
    }

    private static DateTimeOffset AsUtc(DateTime value) => new(DateTime.SpecifyKind(value, DateTimeKind.Utc));

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
