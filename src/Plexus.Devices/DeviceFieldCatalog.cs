using DuckDB.NET.Data;
using Plexus.Storage;

namespace Plexus.Devices;

/// <summary>
/// <see cref="DeviceLastValues.DeviceFieldColumns"/> read once per schema version of the store instead of on every
/// device page: the query joins DuckDB's whole catalog (<c>duckdb_columns()</c>, every table of every schema), which
/// took 5–9 ms alone and up to 372 ms while a browser started the page on the same two cores, on the path of the
/// page's first chart.
/// </summary>
/// <remarks>
/// <see cref="StoreWriter.SchemaVersion"/> moves after the commit of every write that created a measurement or a
/// column and every delete that dropped one, so a list read after seeing a version holds at least that version's
/// columns; one read while a newer change commits is cached under the older number and replaced on the next call.
/// </remarks>
public sealed class DeviceFieldCatalog(PlexusStore store)
{
    private readonly PlexusStore _store = store ?? throw new ArgumentNullException(nameof(store));
    private volatile Snapshot? _snapshot;

    /// <summary>The device measurements' field columns, by measurement name then column order.</summary>
    public IReadOnlyList<(int MeasurementId, string Measurement, string Column, string DataType)> Columns(DuckDBConnection connection)
    {
        long version = _store.Writer.SchemaVersion;
        if (_snapshot is { } cached && cached.Version == version)
        {
            return cached.Columns;
        }

        var columns = DeviceLastValues.DeviceFieldColumns(connection);
        _snapshot = new Snapshot(version, columns);
        return columns;
    }

    private sealed record Snapshot(long Version, IReadOnlyList<(int MeasurementId, string Measurement, string Column, string DataType)> Columns);
}
