using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// Versioned metadata: every change of a device's or asset's name, type, tags or parent closes the open
/// row of its history table (<c>valid_to</c>) and opens a new one (<c>valid_from</c>); a removal only closes it.
/// Intervals are half-open, <c>[valid_from, valid_to)</c>, so exactly one version is valid at any instant the entity
/// existed, and none outside.
/// </summary>
internal static class RegistryHistory
{
    public const string DeviceTable = "_plexus.device_history";
    public const string AssetTable = "_plexus.asset_history";

    public static string CreateSql(string table) => $"""
        CREATE TABLE IF NOT EXISTS {table} (
            id VARCHAR NOT NULL,
            name VARCHAR,
            type VARCHAR,
            tags VARCHAR NOT NULL,
            parent VARCHAR,
            valid_from TIMESTAMP NOT NULL,
            valid_to TIMESTAMP)
        """;

    /// <summary>
    /// Entities registered before history was kept get one open version from their creation time; what they looked
    /// like before their last update is not known.
    /// </summary>
    public static string BackfillSql(string table, string source) => $"""
        INSERT INTO {table} (id, name, type, tags, parent, valid_from, valid_to)
        SELECT s.id, s.name, s.type, s.tags, s.parent, s.created_at, NULL
        FROM {source} s
        WHERE NOT EXISTS (SELECT 1 FROM {table} h WHERE h.id = s.id)
        """;

    public static void Record(MetadataConnection connection, string table, string id, string? name, string? type, string tagsJson, string? parent, DateTime at)
    {
        Close(connection, table, id, at);
        connection.Execute($"INSERT INTO {table} (id, name, type, tags, parent, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6, NULL)", id, name, type, tagsJson, parent, at);
    }

    public static void Close(MetadataConnection connection, string table, string id, DateTime at) =>
        connection.Execute($"UPDATE {table} SET valid_to = $2 WHERE id = $1 AND valid_to IS NULL", id, at);
}
