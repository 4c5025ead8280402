using System.Globalization;
using System.Text;
using DuckDB.NET.Data;
using Plexus.Query;
using Plexus.Storage;
using Plexus.TestKit;

namespace Plexus.Geo.Tests;

/// <summary>A real store in a temporary folder with the geo SQL installed, queried through the real query service.</summary>
public sealed class GeoStoreFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _directory = new("plexus-geo");
    private int _tables;

    public PlexusStore Store { get; private set; } = null!;

    public GeofenceRegistry Geofences { get; private set; } = null!;

    public SqlQueryService Queries { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Store = PlexusStore.Open(new StorageOptions { DataDirectory = _directory.Path, Threads = 2 });
        Geofences = GeofenceRegistry.Open(Store);
        Queries = new SqlQueryService(Store, new QueryOptions { Timeout = TimeSpan.FromSeconds(60), MaxRows = 1_000_000 });
        Execute("CREATE SCHEMA IF NOT EXISTS fleet");
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Geofences.Dispose();
        await Store.DisposeAsync();
    }

    public void Dispose() => _directory.Dispose();

    public void Execute(string sql)
    {
        using var connection = Store.OpenMetadataConnection();
        connection.Execute(sql);
    }

    /// <summary>Creates a table main.points_n(id, lat, lon) holding the points; returns its name.</summary>
    public string PointsTable(IReadOnlyList<(double Lat, double Lon)> points)
    {
        string name = $"main.points_{Interlocked.Increment(ref _tables)}";
        using var connection = Store.OpenMetadataConnection();
        connection.Execute($"CREATE TABLE {name} (id INTEGER, lat DOUBLE, lon DOUBLE)");
        using var appender = connection.Connection.CreateAppender("main", name["main.".Length..]);
        for (int i = 0; i < points.Count; i++)
        {
            appender.CreateRow().AppendValue(i).AppendValue(points[i].Lat).AppendValue(points[i].Lon).EndRow();
        }

        return name;
    }

    /// <summary>Runs SQL through the query service, by default with namespace fleet as the default schema (USE fleet).</summary>
    public async Task<IReadOnlyList<object?[]>> RowsAsync(string sql, string? defaultNamespace = "fleet") =>
        (await Queries.ExecuteAsync(sql, defaultNamespace, CancellationToken.None)).Rows;

    public static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static string PolygonJson(params double[][][][] polygons)
    {
        var text = new StringBuilder();
        text.Append(polygons.Length == 1 ? "{\"type\":\"Polygon\",\"coordinates\":" : "{\"type\":\"MultiPolygon\",\"coordinates\":[");
        for (int p = 0; p < polygons.Length; p++)
        {
            text.Append(p > 0 ? "," : "").Append('[');
            text.AppendJoin(',', polygons[p].Select(ring => "[" + string.Join(',', ring.Select(position => $"[{Number(position[0])},{Number(position[1])}]")) + "]"));
            text.Append(']');
        }

        text.Append(polygons.Length == 1 ? "}" : "]}");
        return text.ToString();
    }
}
