using System.Text;
using DuckDB.NET.Data;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Plexus.Core;
using Plexus.Storage;
using Plexus.Storage.Schema;
using Plexus.Storage.Writing;

namespace Plexus.Devices;

/// <summary>
/// Links measurement rows to devices: the device key is the value of the namespace's device tag
/// (<see cref="DeviceTagMap"/>). Keeps three SQL objects in namespace <c>main</c> up to date:
/// <list type="bullet">
/// <item><c>devices</c>: the registry plus one <c>registered = false</c> row per key value seen in a measurement but not
/// registered;</item>
/// <item><c>device_links</c>: which measurement's which column holds the device key;</item>
/// <item>table macros <c>with_device('ns.measurement')</c> (current metadata and ancestry) and
/// <c>with_device_asof('ns.measurement')</c> (metadata valid at each row's time).</item>
/// </list>
/// </summary>
/// <remarks>
/// Design note: the unregistered keys come from the series tables (one row per tag set, so small), but which series
/// tables carry the key column is only known once data arrives, and the store's writer knows nothing of devices. So
/// the <c>devices</c> view is regenerated from the catalog: at start, and after writes that created a measurement or a
/// column (<see cref="StoreWriter.SchemaVersion"/> moved; at most every <see cref="RefreshInterval"/>, off the write
/// path: a write only compares a number and sets a flag). Regeneration is one small catalog
/// query, and DDL only when the set of linked measurements changed. A key column that first appears is therefore
/// visible in <c>devices</c> within about <see cref="RefreshInterval"/> of its commit; the macros read the
/// measurement and the registry themselves and need no refresh.
/// </remarks>
public sealed class DeviceLinks : IDisposable
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>The names this creates in <c>main</c>; measurements of these names are refused there.</summary>
    public static readonly string[] ViewNames = ["devices", "device_links"];

    private readonly MetadataConnection _connection;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private string _linksKey = "\0";
    private readonly StoreWriter _writer;
    private readonly TimeProvider _time;
    private long _refreshedSchemaVersion = -1;
    private int _scheduled;
    private int _disposed;

    private DeviceLinks(MetadataConnection connection, StoreWriter writer, DeviceTagMap tags, ILogger logger, TimeProvider time)
    {
        _connection = connection;
        _writer = writer;
        _time = time;
        Tags = tags;
        _logger = logger;
    }

    public DeviceTagMap Tags { get; }

    /// <summary>Creates the macros and the views for what is stored now. Open after <see cref="DeviceRegistry"/> and <see cref="AssetRegistry"/>.</summary>
    /// <param name="time">The clock <see cref="RefreshInterval"/> is measured on (the real one when null).</param>
    public static DeviceLinks Open(PlexusStore store, DeviceTagMap? tags = null, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        var connection = store.OpenMetadataConnection();
        try
        {
            var links = new DeviceLinks(connection, store.Writer, tags ?? DeviceTagMap.Standard, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Plexus.Devices"), time ?? TimeProvider.System);
            links.CreateMacros();
            links.RefreshForSchema();
            return links;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Called after a durable write that changed the schema: which measurements carry a device key changes only with the
    /// schema, so only then are the views regenerated (off the caller's thread).
    /// </summary>
    public void SchemaChanged()
    {
        if (_writer.SchemaVersion != Volatile.Read(ref _refreshedSchemaVersion))
        {
            ScheduleRefresh();
        }
    }

    /// <summary>Regenerates <c>devices</c> and <c>device_links</c> if the linked measurements changed; true if it did.</summary>
    public bool Refresh()
    {
        lock (_lock)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            var links = FindLinks();
            string key = string.Join('\n', links.Select(l => $"{l.Id}\t{l.Column}"));
            if (key == _linksKey)
            {
                return false;
            }

            _connection.Execute(DevicesViewSql(links));
            _connection.Execute(LinksViewSql(links));
            _linksKey = key;
            return true;
        }
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

    /// <summary>Refreshes and remembers the schema it saw, read first so that a change during the refresh is not missed.</summary>
    private void RefreshForSchema()
    {
        long version = _writer.SchemaVersion;
        Refresh();
        Volatile.Write(ref _refreshedSchemaVersion, version);
    }

    private void ScheduleRefresh()
    {
        if (Volatile.Read(ref _disposed) != 0 || Interlocked.CompareExchange(ref _scheduled, 1, 0) != 0)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                // A test that drives the server's clock by hand advances it past the interval to see the refresh.
                await Task.Delay(RefreshInterval, _time);
                Volatile.Write(ref _scheduled, 0);
                RefreshForSchema();
            }
            catch (Exception error) when (error is DuckDBException or ObjectDisposedException or InvalidOperationException)
            {
                Volatile.Write(ref _scheduled, 0);
                _logger.LogWarning(error, "Refreshing the devices view failed; it is retried after the next write");
            }
        });
    }

    private List<Link> FindLinks()
    {
        var links = new List<Link>();
        _connection.Query(
            $"""
                SELECT m.id, m.namespace, m.name, c.column_name
                FROM {SqlNames.InternalSchema}.measurements m
                JOIN duckdb_columns() c ON c.schema_name = '{SqlNames.InternalSchema}' AND c.table_name = 's' || m.id
                WHERE c.column_name <> '{SqlNames.SeriesIdColumn}'
                ORDER BY m.id
                """,
            reader =>
            {
                string ns = reader.GetString(1);
                string column = reader.GetString(3);

                // SQL names ignore case, and the store refuses two tag keys that differ only in case.
                if (string.Equals(column, Tags.TagFor(ns), StringComparison.OrdinalIgnoreCase) &&
                    !(ns == ReservedMeasurements.Namespace && ReservedMeasurements.IsReservedName(reader.GetString(2))))
                {
                    links.Add(new Link(reader.GetInt32(0), ns, reader.GetString(2), column));
                }
            });

        return links;
    }

    private static string DevicesViewSql(List<Link> links)
    {
        var sql = new StringBuilder($"""
            CREATE OR REPLACE VIEW main.devices AS
            SELECT id, name, type, CAST(json(tags) AS MAP(VARCHAR, VARCHAR)) AS tags, parent, created_at, updated_at, true AS registered, {DeviceRegistry.MeasurementsSql}
            FROM {DeviceRegistry.TableName}
            """);
        if (links.Count > 0)
        {
            sql.Append("""

                UNION ALL
                SELECT id, NULL::VARCHAR, NULL::VARCHAR, MAP {}::MAP(VARCHAR, VARCHAR), NULL::VARCHAR, NULL::TIMESTAMP, NULL::TIMESTAMP, false, NULL::VARCHAR[]
                FROM (
                """);
            sql.AppendJoin("\n    UNION\n", links.Select(l => $"    SELECT {SqlNames.Quote(l.Column)} AS id FROM {SqlNames.Qualified(SqlNames.SeriesTable(l.Id))}"));
            sql.Append($"""

                ) keys
                WHERE id IS NOT NULL AND id NOT IN (SELECT id FROM {DeviceRegistry.TableName})
                """);
        }

        return sql.ToString();
    }

    private static string LinksViewSql(List<Link> links) => links.Count == 0
        ? "CREATE OR REPLACE VIEW main.device_links AS SELECT NULL::VARCHAR AS namespace, NULL::VARCHAR AS measurement, NULL::VARCHAR AS key_column WHERE false"
        : "CREATE OR REPLACE VIEW main.device_links AS SELECT * FROM (VALUES " +
          string.Join(", ", links.Select(l => $"({SqlNames.Literal(l.Namespace)}, {SqlNames.Literal(l.Measurement)}, {SqlNames.Literal(l.Column)})")) +
          ") AS links(namespace, measurement, key_column)";

    /// <summary>
    /// The key column is picked at bind time with <c>COLUMNS(lambda)</c> from the table name's namespace (or the
    /// current schema for an unqualified name), so one macro serves every measurement; <c>key :=</c> overrides it.
    /// </summary>
    private void CreateMacros()
    {
        var keyTag = new StringBuilder(SqlNames.Literal(Tags.Default));
        if (Tags.ByNamespace.Count > 0)
        {
            keyTag.Clear().Append("CASE lower(CASE WHEN contains(tbl, '.') THEN trim(split_part(tbl, '.', 1), '\"') ELSE current_schema() END)");
            foreach (var (ns, tag) in Tags.ByNamespace.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                keyTag.Append($" WHEN {SqlNames.Literal(ns)} THEN {SqlNames.Literal(tag)}");
            }

            keyTag.Append($" ELSE {SqlNames.Literal(Tags.Default)} END");
        }
        string measurement = $"SELECT *, CAST(COLUMNS(c -> lower(c) = lower(coalesce(key, {keyTag}))) AS VARCHAR) AS _device_key FROM query_table(tbl)";

        _connection.Execute($"""
            CREATE OR REPLACE MACRO main.with_device(tbl, key := NULL) AS TABLE
            WITH m AS ({measurement}),
            lineage AS (
                SELECT device_id,
                       list(ancestor_id ORDER BY depth) AS ancestors,
                       map(list(ancestor_type ORDER BY depth) FILTER (WHERE first_of_type), list(ancestor_id ORDER BY depth) FILTER (WHERE first_of_type)) AS assets
                FROM (
                    SELECT *, ancestor_kind = 'asset' AND ancestor_type IS NOT NULL
                              AND row_number() OVER (PARTITION BY device_id, ancestor_kind, ancestor_type ORDER BY depth) = 1 AS first_of_type
                    FROM main.device_ancestors)
                GROUP BY device_id)
            SELECT m.* EXCLUDE (_device_key), m._device_key AS device_id, d.name AS device_name, d.type AS device_type, d.tags AS device_tags,
                   d.parent AS device_parent, CASE WHEN m._device_key IS NOT NULL THEN d.id IS NOT NULL END AS device_registered,
                   l.ancestors AS device_ancestors, l.assets AS device_assets
            FROM m LEFT JOIN (SELECT * FROM main.devices WHERE registered) d ON d.id = m._device_key LEFT JOIN lineage l ON l.device_id = m._device_key
            """);

        // ASOF picks the newest version that started at or before the row; a version that had already ended (the
        // device was removed) gives NULLs.
        _connection.Execute($"""
            CREATE OR REPLACE MACRO main.with_device_asof(tbl, key := NULL) AS TABLE
            WITH m AS ({measurement}),
            j AS (
                SELECT m.*, h.name AS _h_name, h.type AS _h_type, h.tags AS _h_tags, h.parent AS _h_parent, h.valid_from AS _h_from,
                       h.valid_from IS NOT NULL AND (h.valid_to IS NULL OR m.time < h.valid_to) AS _h_live
                FROM m ASOF LEFT JOIN main.device_history h ON h.id = m._device_key AND m.time >= h.valid_from)
            SELECT j.* EXCLUDE (_device_key, _h_name, _h_type, _h_tags, _h_parent, _h_from, _h_live), j._device_key AS device_id,
                   CASE WHEN _h_live THEN _h_name END AS device_name, CASE WHEN _h_live THEN _h_type END AS device_type,
                   CASE WHEN _h_live THEN _h_tags END AS device_tags, CASE WHEN _h_live THEN _h_parent END AS device_parent,
                   CASE WHEN _h_live THEN _h_from END AS device_valid_from
            FROM j
            """);
    }


    private sealed record Link(int Id, string Namespace, string Measurement, string Column);
}
