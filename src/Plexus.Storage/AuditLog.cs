using Plexus.Storage.Schema;

namespace Plexus.Storage;

/// <summary>
/// One administrative action, or an attempt at one: who (<c>admin</c>, an API token's name or <c>device:&lt;id&gt;</c>),
/// what (action such as <c>device.remove</c>, the kind and id of its target, a short detail that never holds a secret),
/// when, from which address, and how it ended (<see cref="Outcome"/> <c>ok</c>, or the API's error code such as
/// <c>not_found</c>, with the HTTP <see cref="Status"/>; null for what did not come over HTTP).
/// </summary>
public sealed record AuditEntry(
    DateTimeOffset Time,
    string Principal,
    string Action,
    string TargetKind,
    string? TargetId,
    string? Detail,
    string? Address,
    string Outcome,
    int? Status)
{
    /// <summary>Filled in by the store: the order entries were recorded in.</summary>
    public long Id { get; init; }
}

/// <summary>
/// The audit log of administrative actions: rows of <c>_plexus.audit_log</c>, each committed (and so in DuckDB's synced
/// write-ahead log) before the request that made it is answered, shown read-only in SQL as <c>main.audit_log</c>.
/// Rows are only ever added.
/// </summary>
public sealed class AuditLog : IDisposable
{
    public const string Table = SqlNames.InternalSchema + ".audit_log";
    public const string ViewName = "audit_log";
    public const int MaxDetailLength = 500;
    public const int MaxTargetLength = 200;

    private const string Columns = "id, time, principal, action, target_kind, target_id, detail, address, outcome, status";

    private readonly MetadataConnection _connection;
    private readonly Lock _lock = new();
    private int _disposed;

    private AuditLog(MetadataConnection connection) => _connection = connection;

    public static AuditLog Open(PlexusStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            connection.Execute($"CREATE SEQUENCE IF NOT EXISTS {Table}_id");
            connection.Execute($"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    id BIGINT NOT NULL DEFAULT nextval('{Table}_id'),
                    time TIMESTAMP NOT NULL,
                    principal VARCHAR NOT NULL,
                    action VARCHAR NOT NULL,
                    target_kind VARCHAR NOT NULL,
                    target_id VARCHAR,
                    detail VARCHAR,
                    address VARCHAR,
                    outcome VARCHAR NOT NULL,
                    status INTEGER)
                """);
            connection.Execute($"CREATE OR REPLACE VIEW main.{ViewName} AS SELECT {Columns} FROM {Table}");
            return new AuditLog(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Adds the entry in its own transaction; when this returns it is durable.</summary>
    public void Record(AuditEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        string? detail = Truncate(entry.Detail, MaxDetailLength);
        string? target = Truncate(entry.TargetId, MaxTargetLength);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _connection.Execute(
                $"INSERT INTO {Table} (time, principal, action, target_kind, target_id, detail, address, outcome, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                entry.Time.UtcDateTime, entry.Principal, entry.Action, entry.TargetKind, target, detail, entry.Address, entry.Outcome, entry.Status);
        }
    }

    /// <summary>
    /// Entries in the order they were recorded: from <paramref name="since"/> on (the first <paramref name="limit"/>), or
    /// without it the latest <paramref name="limit"/>.
    /// </summary>
    public IReadOnlyList<AuditEntry> Read(DateTimeOffset? since, int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        string sql = since is null
            ? $"SELECT * FROM (SELECT {Columns} FROM {Table} ORDER BY id DESC LIMIT {limit}) ORDER BY id"
            : $"SELECT {Columns} FROM {Table} WHERE time >= $1 ORDER BY id LIMIT {limit}";
        var entries = new List<AuditEntry>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed != 0, this);
            _connection.Query(sql, reader =>
            {
                entries.Add(new AuditEntry(
                    new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc)),
                    reader.GetString(2),
                    reader.GetString(3),
                    reader.GetString(4),
                    reader.IsDBNull(5) ? null : reader.GetString(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6),
                    reader.IsDBNull(7) ? null : reader.GetString(7),
                    reader.GetString(8),
                    reader.IsDBNull(9) ? null : reader.GetInt32(9))
                { Id = reader.GetInt64(0) });
            }, since is { } from ? [from.UtcDateTime] : []);
        }

        return entries;
    }

    private static string? Truncate(string? text, int max) => text is { Length: > 0 } && text.Length > max ? text[..(max - 1)] + "…" : text;

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
