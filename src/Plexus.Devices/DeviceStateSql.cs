using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// The table macro <c>main.device_state_asof(t)</c> (docs/devices.md#state-as-of-a-moment): per device, whether it was
/// online, its reported properties, its last position and its registry metadata, all as they were at <c>t</c>.
/// </summary>
/// <remarks>
/// DuckDB checks a table macro's tables when it is created, and <c>main.state_history</c> exists only once a device
/// has reported something. Until then the macro reads an empty stand-in with the same columns, and it is created again
/// (<see cref="Refresh"/>) after the write that creates <c>state_history</c> (the ingest pipeline's schema reactions, while
/// <see cref="IsWaiting"/>). It reads
/// <c>main.device_positions</c> (created by the geo part at start) and <c>main.devices_asof</c> the same way.
/// </remarks>
public sealed class DeviceStateSql : IDisposable
{
    public const string MacroName = "device_state_asof";

    private const string EmptyHistory = "(SELECT CAST(NULL AS TIMESTAMP_NS) AS time, CAST(NULL AS VARCHAR) AS device, CAST(NULL AS VARCHAR) AS property, CAST(NULL AS VARCHAR) AS value WHERE false)";
    private const string EmptyPositions = "(SELECT CAST(NULL AS TIMESTAMP_NS) AS time, CAST(NULL AS VARCHAR) AS device, CAST(NULL AS DOUBLE) AS lat, CAST(NULL AS DOUBLE) AS lon WHERE false)";
    private const string EmptyDevices = "(SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS name, CAST(NULL AS VARCHAR) AS type, CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS tags, CAST(NULL AS VARCHAR) AS parent WHERE false)";


    private readonly MetadataConnection _connection;
    private readonly Lock _lock = new();
    private volatile bool _waiting = true;
    private int _disposed;

    private DeviceStateSql(MetadataConnection connection) => _connection = connection;

    /// <summary>Creates the macro with what exists now.</summary>
    public static DeviceStateSql Install(PlexusStore store)
    {
        ArgumentNullException.ThrowIfNull(store);
        var sql = new DeviceStateSql(store.OpenMetadataConnection());
        try
        {
            sql.Refresh();
            return sql;
        }
        catch
        {
            sql.Dispose();
            throw;
        }
    }

    /// <summary>True while the macro reads a stand-in for <c>state_history</c>.</summary>
    public bool IsWaiting => _waiting;


    /// <summary>(Re)creates the macro over the tables that exist now.</summary>
    public void Refresh()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            bool history = HasColumns("main", DeviceDataNames.StateHistory, "time", "device", "property", "value");
            bool positions = HasColumns("main", "device_positions", "time", "device", "lat", "lon");
            bool devices = Exists("devices_asof");
            _connection.Execute(MacroSql(
                history ? "main.state_history" : EmptyHistory,
                positions ? "main.device_positions" : EmptyPositions,
                devices ? "main.devices_asof(t)" : EmptyDevices));
            _waiting = !history;
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

    // One row per device known by t: registered then, or with state or a position up to then. Properties are the
    // latest value of each at or before t (state_history keeps changes only); "online" is its own column.
    internal static string MacroSql(string history, string positions, string devices) => $"""
        CREATE OR REPLACE MACRO main.{MacroName}(t) AS TABLE
        WITH latest AS (
            SELECT device, property, arg_max(value, time) AS value
            FROM {history} WHERE time <= CAST(t AS TIMESTAMP_NS)
            GROUP BY device, property),
        state AS (
            SELECT device,
                   coalesce(map_from_entries(list((property, value) ORDER BY property) FILTER (WHERE property <> '{DeviceDataNames.OnlineProperty}')), CAST(MAP() AS MAP(VARCHAR, VARCHAR))) AS properties,
                   max(CASE WHEN property = '{DeviceDataNames.OnlineProperty}' THEN value END) AS online
            FROM latest GROUP BY device),
        pos AS (
            SELECT device, arg_max(lat, time) AS lat, arg_max(lon, time) AS lon, max(time) AS position_time
            FROM {positions} WHERE time <= CAST(t AS TIMESTAMP_NS) AND lat IS NOT NULL AND lon IS NOT NULL
            GROUP BY device),
        reg AS (SELECT id, name, type, tags, parent FROM {devices}),
        ids AS (
            SELECT device FROM state UNION SELECT device FROM pos UNION SELECT id FROM reg)
        SELECT ids.device,
               coalesce(state.online = 'true', false) AS online,
               coalesce(state.properties, CAST(MAP() AS MAP(VARCHAR, VARCHAR))) AS properties,
               pos.lat, pos.lon, pos.position_time,
               reg.id IS NOT NULL AS registered, reg.name, reg.type, reg.tags, reg.parent
        FROM ids
        LEFT JOIN state ON state.device = ids.device
        LEFT JOIN pos ON pos.device = ids.device
        LEFT JOIN reg ON reg.id = ids.device
        WHERE ids.device IS NOT NULL
        ORDER BY ids.device
        """;

    private bool HasColumns(string schema, string table, params string[] columns) =>
        Count(
            "SELECT count(DISTINCT column_name) FROM duckdb_columns() WHERE schema_name = $1 AND table_name = $2 AND column_name IN ("
            + string.Join(", ", columns.Select(c => "'" + c + "'")) + ")",
            schema,
            table) == columns.Length;

    private bool Exists(string macro) =>
        Count("SELECT count(*) FROM duckdb_functions() WHERE schema_name = 'main' AND function_name = $1", macro) > 0;

    private long Count(string sql, params object?[] parameters) =>
        Convert.ToInt64(_connection.Scalar(sql, parameters), System.Globalization.CultureInfo.InvariantCulture);
}
