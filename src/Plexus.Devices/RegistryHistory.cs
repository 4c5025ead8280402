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

    /// <summary>
    /// <see cref="Record"/> for many rows, a few hundred per statement: a bulk registration costs a handful of
    /// statements instead of two per row (each of which scans the history for the row to close).
    /// </summary>
    public static void RecordMany(MetadataConnection connection, string table, IReadOnlyList<(string Id, string? Name, string? Type, string TagsJson, string? Parent, DateTime At)> rows)
    {
        const int RowsPerStatement = 200;
        for (int first = 0; first < rows.Count; first += RowsPerStatement)
        {
            int count = Math.Min(RowsPerStatement, rows.Count - first);
            var close = new System.Text.StringBuilder($"UPDATE {table} SET valid_to = $1 WHERE valid_to IS NULL AND id IN (");
            var closeParameters = new object?[count + 1];
            closeParameters[0] = rows[first].At;
            var insert = new System.Text.StringBuilder($"INSERT INTO {table} (id, name, type, tags, parent, valid_from, valid_to) VALUES ");
            var insertParameters = new object?[count * 6];
            for (int i = 0; i < count; i++)
            {
                var row = rows[first + i];
                close.Append(i == 0 ? "$" : ", $").Append(i + 2);
                closeParameters[i + 1] = row.Id;
                int p = i * 6;
                insert.Append(i == 0 ? "(" : ", (").Append('$').Append(p + 1).Append(", $").Append(p + 2).Append(", $").Append(p + 3)
                    .Append(", $").Append(p + 4).Append(", $").Append(p + 5).Append(", $").Append(p + 6).Append(", NULL)");
                (insertParameters[p], insertParameters[p + 1], insertParameters[p + 2], insertParameters[p + 3], insertParameters[p + 4], insertParameters[p + 5]) =
                    (row.Id, row.Name, row.Type, row.TagsJson, row.Parent, row.At);
            }

            connection.Execute(close.Append(')').ToString(), closeParameters);
            connection.Execute(insert.ToString(), insertParameters);
        }
    }

    public static void Close(MetadataConnection connection, string table, string id, DateTime at) =>
        connection.Execute($"UPDATE {table} SET valid_to = $2 WHERE id = $1 AND valid_to IS NULL", id, at);
}
