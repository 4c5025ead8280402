namespace Plexus.Devices;

/// <summary>
/// The SQL face of assets, hierarchy and history, in namespace <c>main</c>: the views <c>assets</c>,
/// <c>asset_ancestors</c>, <c>device_ancestors</c>, <c>device_history</c>, <c>asset_history</c> and the table macros
/// <c>devices_asof(t)</c>, <c>assets_asof(t)</c>, <c>device_ancestors_asof(t)</c>. docs/sql.md shows them in use.
/// </summary>
/// <remarks>
/// Ancestry is a recursive CTE over one "node" relation holding devices and assets (they share one id space, so a
/// parent id names one node). The registries refuse cycles; the depth limit only keeps a database edited by hand
/// from looping.
/// </remarks>
internal static class RelationsSql
{
    public const int MaxDepth = 64;

    /// <summary>The view names this creates in <c>main</c>; measurements of these names are refused there.</summary>
    public static readonly string[] ViewNames = ["assets", "asset_ancestors", "device_ancestors", "device_history", "asset_history"];

    private const string Tags = "CAST(json(tags) AS MAP(VARCHAR, VARCHAR)) AS tags";

    public static void Create(Plexus.Storage.MetadataConnection connection)
    {
        foreach (string sql in Statements())
        {
            connection.Execute(sql);
        }
    }

    private static IEnumerable<string> Statements()
    {
        yield return $"""
            CREATE OR REPLACE VIEW main.assets AS
            SELECT id, name, type, {Tags}, parent, created_at, updated_at FROM {AssetRegistry.TableName}
            """;
        yield return $"""
            CREATE OR REPLACE VIEW main.device_history AS
            SELECT id, name, type, {Tags}, parent, valid_from, valid_to FROM {RegistryHistory.DeviceTable}
            """;
        yield return $"""
            CREATE OR REPLACE VIEW main.asset_history AS
            SELECT id, name, type, {Tags}, parent, valid_from, valid_to FROM {RegistryHistory.AssetTable}
            """;

        // Half-open validity: the version valid at t started at or before t and had not ended by t.
        yield return """
            CREATE OR REPLACE MACRO main.devices_asof(t) AS TABLE
            SELECT id, name, type, tags, parent, valid_from, valid_to FROM main.device_history
            WHERE valid_from <= CAST(t AS TIMESTAMP) AND (valid_to IS NULL OR CAST(t AS TIMESTAMP) < valid_to)
            """;
        yield return """
            CREATE OR REPLACE MACRO main.assets_asof(t) AS TABLE
            SELECT id, name, type, tags, parent, valid_from, valid_to FROM main.asset_history
            WHERE valid_from <= CAST(t AS TIMESTAMP) AND (valid_to IS NULL OR CAST(t AS TIMESTAMP) < valid_to)
            """;

        yield return "CREATE OR REPLACE VIEW main.asset_ancestors AS " + AssetAncestors($"{AssetRegistry.TableName}");
        yield return "CREATE OR REPLACE VIEW main.device_ancestors AS " + DeviceAncestors($"{DeviceRegistry.TableName}", $"{AssetRegistry.TableName}");
        yield return "CREATE OR REPLACE MACRO main.device_ancestors_asof(t) AS TABLE " + DeviceAncestors("main.devices_asof(t)", "main.assets_asof(t)");
        yield return "CREATE OR REPLACE MACRO main.asset_ancestors_asof(t) AS TABLE " + AssetAncestors("main.assets_asof(t)");
    }

    private static string AssetAncestors(string assets) => $"""
        WITH RECURSIVE walk(asset_id, ancestor_id, depth) AS (
            SELECT id, parent, 1 FROM {assets} WHERE parent IS NOT NULL
            UNION ALL
            SELECT w.asset_id, a.parent, w.depth + 1
            FROM walk w JOIN {assets} a ON a.id = w.ancestor_id
            WHERE a.parent IS NOT NULL AND w.depth < {MaxDepth})
        SELECT w.asset_id, w.ancestor_id, a.type AS ancestor_type, a.name AS ancestor_name, w.depth
        FROM walk w JOIN {assets} a ON a.id = w.ancestor_id
        """;

    private static string DeviceAncestors(string devices, string assets) => $"""
        WITH RECURSIVE nodes AS (
            SELECT id, parent, 'device' AS kind, type, name FROM {devices}
            UNION ALL
            SELECT id, parent, 'asset' AS kind, type, name FROM {assets}),
        walk(device_id, ancestor_id, depth) AS (
            SELECT id, parent, 1 FROM {devices} WHERE parent IS NOT NULL
            UNION ALL
            SELECT w.device_id, n.parent, w.depth + 1
            FROM walk w JOIN nodes n ON n.id = w.ancestor_id
            WHERE n.parent IS NOT NULL AND w.depth < {MaxDepth})
        SELECT w.device_id, w.ancestor_id, n.kind AS ancestor_kind, n.type AS ancestor_type, n.name AS ancestor_name, w.depth
        FROM walk w JOIN nodes n ON n.id = w.ancestor_id
        """;
}
