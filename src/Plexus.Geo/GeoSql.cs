using System.Collections.Concurrent;
using DuckDB.NET.Data;
using DuckDB.NET.Data.DataChunk.Reader;
using Plexus.Storage;

namespace Plexus.Geo;

/// <summary>
/// Installs the geo SQL objects into a store's database: the C# scalar function <c>geo_in_polygon</c>, the
/// macros <c>geo_distance_m</c>, <c>geo_within_m</c>, <c>geo_in_bbox</c> and <c>inside_geofence</c>, the table macros
/// <c>geo_distance_travelled</c> and <c>geo_stops</c>, and the geofence table and view (docs/geo.md).
/// </summary>
/// <remarks>
/// Why this mix:
/// <list type="bullet">
/// <item>The DuckDB spatial extension cannot be loaded (external access and extension autoinstall are off).</item>
/// <item>Arithmetic on numbers (haversine, box tests) is a SQL macro: DuckDB inlines it and evaluates it vectorized,
/// folds constants, and it needs no managed code. Macros live in <c>main</c> and persist in the file; DuckDB
/// resolves a name not found in the current schema in <c>main</c>, so they work after <c>USE fleet</c> (a request
/// with a default namespace) too.</item>
/// <item>Point-in-polygon needs the GeoJSON parsed once, not per row: a C# scalar function (DuckDB.NET 1.5
/// <c>RegisterScalarFunction</c>) keeps parsed shapes in a cache keyed by the text. It is registered in DuckDB's
/// system catalog of the database instance, so every connection (the query service opens one per request) sees
/// it; it is not persisted, so it is registered again at every open.</item>
/// <item>Table macros are bound when they are created; they read through <c>query_table(source)</c>, which is bound
/// when called, so that any relation with the columns can be the source. The default, <c>device_positions</c>, is the
/// view of <see cref="PositionSourceRegistry"/>: <c>main.positions</c> and every declared position source.</item>
/// </list>
/// </remarks>
public static class GeoSql
{
    public const string GeofenceTable = "_plexus.geofences";
    public const string GeofenceView = "main.geofences";

    private const int MaxCachedShapes = 1024;

    private static readonly ConcurrentDictionary<string, GeoPolygons> ShapeCache = new(StringComparer.Ordinal);

    /// <summary>The SQL of every macro, in creation order.</summary>
    public static readonly IReadOnlyList<string> Macros =
    [
        // Rounding can push the haversine term a hair above 1 for antipodal points, and asin(>1) is an error.
        // Not least(1, h): DuckDB's least() skips NULLs, so a NULL coordinate would give a distance.
        """
        CREATE OR REPLACE MACRO main.geo_haversine_clamp(h) AS CASE WHEN h > 1 THEN 1.0 ELSE h END
        """,
        $"""
        CREATE OR REPLACE MACRO main.geo_distance_m(lat1, lon1, lat2, lon2) AS
            2 * {GeoMath.EarthRadiusM.ToString(System.Globalization.CultureInfo.InvariantCulture)} * asin(sqrt(geo_haversine_clamp(
                pow(sin(radians(lat2 - lat1) / 2), 2)
                + cos(radians(lat1)) * cos(radians(lat2)) * pow(sin(radians(lon2 - lon1) / 2), 2))))
        """,
        """
        CREATE OR REPLACE MACRO main.geo_within_m(lat1, lon1, lat2, lon2, radius_m) AS
            geo_distance_m(lat1, lon1, lat2, lon2) <= radius_m
        """,
        """
        CREATE OR REPLACE MACRO main.geo_in_bbox(lat, lon, min_lat, min_lon, max_lat, max_lon) AS
            lat BETWEEN min_lat AND max_lat
            AND CASE WHEN min_lon <= max_lon THEN lon BETWEEN min_lon AND max_lon
                     ELSE lon >= min_lon OR lon <= max_lon END
        """,
        """
        CREATE OR REPLACE MACRO main.inside_geofence(lat, lon, fence_name) AS geo_geofence_contains(lat, lon, fence_name)
        """,
        """
        CREATE OR REPLACE MACRO main.geo_distance_travelled(from_time := NULL, to_time := NULL, source := 'device_positions') AS TABLE
        WITH p AS (
            SELECT device, time, lat, lon FROM query_table(source)
            WHERE lat IS NOT NULL AND lon IS NOT NULL
              AND (from_time IS NULL OR time >= from_time) AND (to_time IS NULL OR time < to_time)),
        steps AS (
            SELECT device, time, geo_distance_m(lag(lat) OVER w, lag(lon) OVER w, lat, lon) AS step_m
            FROM p WINDOW w AS (PARTITION BY device ORDER BY time))
        SELECT device, count(*) AS positions, min(time) AS first_time, max(time) AS last_time,
               coalesce(sum(step_m), 0) AS distance_m
        FROM steps GROUP BY device ORDER BY device
        """,
        """
        CREATE OR REPLACE MACRO main.geo_stops(radius_m, min_duration, from_time := NULL, to_time := NULL, source := 'device_positions') AS TABLE
        WITH p AS (
            SELECT device, time, lat, lon FROM query_table(source)
            WHERE lat IS NOT NULL AND lon IS NOT NULL
              AND (from_time IS NULL OR time >= from_time) AND (to_time IS NULL OR time < to_time)),
        steps AS (
            SELECT device, time, lat, lon, geo_distance_m(lag(lat) OVER w, lag(lon) OVER w, lat, lon) AS step_m
            FROM p WINDOW w AS (PARTITION BY device ORDER BY time)),
        runs AS (
            SELECT device, time, lat, lon,
                   sum(CASE WHEN step_m IS NULL OR step_m > radius_m THEN 1 ELSE 0 END)
                       OVER (PARTITION BY device ORDER BY time ROWS UNBOUNDED PRECEDING) AS run_id
            FROM steps),
        stays AS (
            SELECT device, run_id, min(time) AS start_time, max(time) AS end_time, count(*) AS positions,
                   avg(lat) AS c_lat, avg(lon) AS c_lon
            FROM runs GROUP BY device, run_id
            HAVING max(time) - min(time) >= min_duration)
        SELECT s.device, s.start_time, s.end_time, s.end_time - s.start_time AS duration,
               s.c_lat AS lat, s.c_lon AS lon, s.positions,
               max(geo_distance_m(r.lat, r.lon, s.c_lat, s.c_lon)) AS spread_m
        FROM stays s JOIN runs r USING (device, run_id)
        GROUP BY ALL
        ORDER BY s.device, s.start_time
        """,
    ];

    /// <summary>
    /// Registers the C# functions and creates the table, view and macros (idempotent; call at every open).
    /// <paramref name="geofence"/> finds a geofence's shape by name for <c>inside_geofence</c> (null: no such geofence).
    /// </summary>
    public static void Install(MetadataConnection connection, Func<string, GeoShape?> geofence)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(geofence);
        RegisterFunctions(connection.Connection, geofence);
        connection.Execute($"""
            CREATE TABLE IF NOT EXISTS {GeofenceTable} (
                name VARCHAR PRIMARY KEY,
                kind VARCHAR NOT NULL,
                geometry VARCHAR NOT NULL,
                properties VARCHAR NOT NULL,
                center_lat DOUBLE,
                center_lon DOUBLE,
                radius_m DOUBLE,
                min_lat DOUBLE NOT NULL,
                min_lon DOUBLE NOT NULL,
                max_lat DOUBLE NOT NULL,
                max_lon DOUBLE NOT NULL,
                created_at TIMESTAMP NOT NULL,
                updated_at TIMESTAMP NOT NULL)
            """);
        connection.Execute($"""
            CREATE OR REPLACE VIEW {GeofenceView} AS
            SELECT name, kind, geometry, json(properties) AS properties, center_lat, center_lon, radius_m,
                   min_lat, min_lon, max_lat, max_lon, created_at, updated_at
            FROM {GeofenceTable}
            """);
        foreach (string macro in Macros)
        {
            connection.Execute(macro);
        }
    }

    /// <summary>Parses (or takes from the cache) the polygon text of a <c>geo_in_polygon</c> call.</summary>
    public static GeoPolygons CachedPolygon(string geojson)
    {
        ArgumentNullException.ThrowIfNull(geojson);
        if (ShapeCache.TryGetValue(geojson, out var cached))
        {
            return cached;
        }

        var parsed = GeoJson.ParsePolygonText(geojson);
        if (ShapeCache.Count >= MaxCachedShapes)
        {
            // Rare (more distinct polygons than the cache holds); starting over is simpler than an LRU and bounded.
            ShapeCache.Clear();
        }

        ShapeCache[geojson] = parsed;
        return parsed;
    }

    private static void RegisterFunctions(DuckDBConnection connection, Func<string, GeoShape?> geofence)
    {
        connection.RegisterScalarFunction<double, double, string, bool>(
            "geo_in_polygon",
            (inputs, output, count) =>
            {
                var lats = inputs[0];
                var lons = inputs[1];
                var texts = inputs[2];
                var strings = StringSlots(texts, count);
                var latValues = Doubles(lats, count);
                var lonValues = Doubles(lons, count);
                var last = default(StringSlot);
                GeoPolygons? shape = null;
                for (ulong i = 0; i < count; i++)
                {
                    if (!lats.IsValid(i) || !lons.IsValid(i) || !texts.IsValid(i))
                    {
                        output.WriteNull(i);
                        continue;
                    }

                    // A constant polygon (the usual case) is the same heap string in every row: decoding and hashing
                    // kilobytes of GeoJSON per row would cost more than the containment test itself.
                    var slot = strings.IsEmpty ? default : strings[(int)i];
                    if (shape is null || !slot.IsHeapString || slot != last)
                    {
                        shape = Polygon(texts.GetValue<string>(i));
                        last = slot;
                    }

                    output.WriteValue(shape.Contains(Value(latValues, lats, i), Value(lonValues, lons, i)), i);
                }
            },
            new ScalarFunctionOptions { IsPureFunction = true, HandlesNulls = true });

        // Not pure: its answer changes when a geofence is added, replaced or removed.
        connection.RegisterScalarFunction<double, double, string, bool>(
            "geo_geofence_contains",
            (inputs, output, count) =>
            {
                var lats = inputs[0];
                var lons = inputs[1];
                var names = inputs[2];
                var latValues = Doubles(lats, count);
                var lonValues = Doubles(lons, count);
                string? lastName = null;
                GeoShape? shape = null;
                for (ulong i = 0; i < count; i++)
                {
                    if (!lats.IsValid(i) || !lons.IsValid(i) || !names.IsValid(i))
                    {
                        output.WriteNull(i);
                        continue;
                    }

                    string name = names.GetValue<string>(i);
                    if (!string.Equals(name, lastName, StringComparison.Ordinal))
                    {
                        shape = geofence(name);
                        lastName = name;
                    }

                    if (shape is null)
                    {
                        output.WriteNull(i);
                        continue;
                    }

                    output.WriteValue(shape.Contains(Value(latValues, lats, i), Value(lonValues, lons, i)), i);
                }
            },
            new ScalarFunctionOptions { IsPureFunction = false, HandlesNulls = true });
    }

    private static GeoPolygons Polygon(string text)
    {
        try
        {
            return CachedPolygon(text);
        }
        catch (GeoJsonException error)
        {
            // DuckDB reports the message as "Invalid Input Error: geo_in_polygon: ...".
            throw new InvalidOperationException($"geo_in_polygon: the GeoJSON is not a valid Polygon or MultiPolygon: {error.Message}", error);
        }
    }

    /// <summary>
    /// The vector's <c>duckdb_string_t</c> slots (16 bytes each: length, then 12 inline bytes or a 4-byte prefix and
    /// a pointer), read through DuckDB.NET's internal data pointer. Null when that is not reachable (another
    /// DuckDB.NET version): every row is then decoded, which is slower but equally right.
    /// </summary>
    private static ReadOnlySpan<StringSlot> StringSlots(object reader, ulong count) => Slots<StringSlot>(reader, count);

    /// <summary>A DOUBLE vector's values, or empty when the data pointer is not reachable (then GetValue is used).</summary>
    private static ReadOnlySpan<double> Doubles(object reader, ulong count) => Slots<double>(reader, count);

    private static unsafe ReadOnlySpan<T> Slots<T>(object reader, ulong count)
        where T : unmanaged
    {
        if (DataPointer is null || !DataPointer.DeclaringType!.IsInstanceOfType(reader) || DataPointer.GetValue(reader) is not { } boxed)
        {
            return default;
        }

        void* data = System.Reflection.Pointer.Unbox(boxed);
        return data is null ? default : new ReadOnlySpan<T>(data, (int)count);
    }

    private static double Value(ReadOnlySpan<double> values, IDuckDBDataReader reader, ulong i) =>
        values.IsEmpty ? reader.GetValue<double>(i) : values[(int)i];

    private static readonly System.Reflection.PropertyInfo? DataPointer = typeof(DuckDBConnection).Assembly
        .GetType("DuckDB.NET.Data.DataChunk.Reader.VectorDataReaderBase")
        ?.GetProperty("DataPointer", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private readonly record struct StringSlot(uint Length, uint Prefix, ulong Pointer)
    {
        /// <summary>Strings of more than 12 bytes are stored elsewhere and the slot holds their address.</summary>
        public bool IsHeapString => Length > 12;
    }

}
