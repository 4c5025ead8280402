using System.Buffers.Binary;
using System.Text;
using Plexus.Core;
using Plexus.Storage.Schema;

namespace Plexus.Storage.Writing;

/// <summary>
/// Counts what one request would add to the schema — new measurements, new columns, new series — from the points
/// that do not fit the catalog, before any of it is created, and names the per-write limit it passes. Only points
/// that bring something new reach it, so it allocates for new names only.
/// </summary>
/// <remarks>
/// A point that will be refused anyway for a total (its measurement would pass the column limit, the namespace is full,
/// its name collides with another's letter case) is not counted: the request is then answered line by line, and a
/// line of 5,000 fields is reported as over the column limit, not as too many new columns for one write.
/// </remarks>
internal sealed class SchemaGrowth(SchemaLimits limits)
{
    // Per measurement the request creates or widens: the column names it adds.
    private readonly Utf8Map<Utf8Map<bool>> _measurements = new();
    private readonly Utf8Map<bool> _pointColumns = new();
    private readonly Utf8Map<bool> _series = new();
    private byte[] _seriesKey = new byte[256];
    private string _namespace = "";
    private NamespaceSchema? _ns;
    private int _newMeasurements;
    private int _newColumns;

    public void Start(string ns, NamespaceSchema? schema)
    {
        _namespace = ns;
        _ns = schema;
        _newMeasurements = 0;
        _newColumns = 0;
        if (_measurements.Count > 0)
        {
            _measurements.Clear();
        }

        if (_series.Count > 0)
        {
            _series.Clear();
        }
    }

    /// <summary>Counts a point that does not fit the catalog; the refusal when the request passes a limit with it.</summary>
    public SchemaLimitException? Add(PointBatch batch, in PointEntry point, MeasurementSchema? measurement)
    {
        var name = batch.Text(point.Measurement);
        _measurements.TryGetValue(name, out var pending);
        _pointColumns.Clear();
        foreach (ref readonly var tag in batch.Tags(point))
        {
            var key = batch.Text(tag.Key);
            if (measurement?.FindTag(key) is null)
            {
                AddPointColumn(key, pending);
            }
        }

        foreach (ref readonly var field in batch.Fields(point))
        {
            var key = batch.Text(field.Key);
            if (measurement?.FindField(key) is null)
            {
                AddPointColumn(key, pending);
            }
        }

        int columns = (measurement is null ? 0 : measurement.Tags.Count + measurement.Fields.Count) + (pending?.Count ?? 0);
        if (columns + _pointColumns.Count > limits.MaxColumnsPerMeasurement)
        {
            return null;
        }

        if (measurement is null && pending is null)
        {
            string text = Encoding.UTF8.GetString(name);
            if (_ns?.FindFolded(text) is not null || (_ns?.Count ?? 0) + _newMeasurements >= limits.MaxMeasurementsPerNamespace)
            {
                return null;
            }

            if (++_newMeasurements > limits.MaxNewMeasurementsPerWrite)
            {
                return new SchemaLimitException(SchemaLimits.MaxNewMeasurementsPerWriteOption, limits.MaxNewMeasurementsPerWrite, _newMeasurements, perWrite: true,
                    $"this write would create more than {limits.MaxNewMeasurementsPerWrite} new measurements in namespace \"{_namespace}\" (\"{text}\" on line {point.LineNumber} would be number {_newMeasurements}); " +
                    $"at most {limits.MaxNewMeasurementsPerWrite} per write (--{SchemaLimits.MaxNewMeasurementsPerWriteOption}): split it into smaller writes or raise the limit; nothing of it was stored");
            }

            pending = new Utf8Map<bool>();
            _measurements.Set(name, pending);
        }

        if (_pointColumns.Count == 0)
        {
            return null;
        }

        if (pending is null)
        {
            pending = new Utf8Map<bool>();
            _measurements.Set(name, pending);
        }

        foreach (var (column, _) in _pointColumns.Entries)
        {
            pending.Set(column, true);
        }

        _newColumns += _pointColumns.Count;
        return _newColumns <= limits.MaxNewColumnsPerWrite
            ? null
            : new SchemaLimitException(SchemaLimits.MaxNewColumnsPerWriteOption, limits.MaxNewColumnsPerWrite, _newColumns, perWrite: true,
                $"this write would create more than {limits.MaxNewColumnsPerWrite} new columns (tags and fields) in namespace \"{_namespace}\" ({_newColumns} by line {point.LineNumber}, measurement \"{Encoding.UTF8.GetString(name)}\"); " +
                $"at most {limits.MaxNewColumnsPerWrite} per write (--{SchemaLimits.MaxNewColumnsPerWriteOption}): write fewer new tags and fields per request or raise the limit; nothing of it was stored");
    }

    /// <summary>Counts a series not in the catalog (once per request); the refusal when the request passes the limit with it.</summary>
    public SchemaLimitException? AddSeries(PointBatch batch, in PointEntry point, ReadOnlySpan<byte> seriesKey)
    {
        // Series are per measurement: the same tag set in two measurements is two series.
        var name = batch.Text(point.Measurement);
        int length = 4 + name.Length + seriesKey.Length;
        if (_seriesKey.Length < length)
        {
            Array.Resize(ref _seriesKey, Math.Max(length, _seriesKey.Length * 2));
        }

        BinaryPrimitives.WriteInt32LittleEndian(_seriesKey, name.Length);
        name.CopyTo(_seriesKey.AsSpan(4));
        seriesKey.CopyTo(_seriesKey.AsSpan(4 + name.Length));
        var key = _seriesKey.AsSpan(0, length);
        if (_series.TryGetValue(key, out _))
        {
            return null;
        }

        _series.Set(key, true);
        return _series.Count <= limits.MaxNewSeriesPerWrite
            ? null
            : new SchemaLimitException(SchemaLimits.MaxNewSeriesPerWriteOption, limits.MaxNewSeriesPerWrite, _series.Count, perWrite: true,
                $"this write would create more than {limits.MaxNewSeriesPerWrite} new series (distinct tag sets) in namespace \"{_namespace}\" (reached on line {point.LineNumber}); " +
                $"at most {limits.MaxNewSeriesPerWrite} per write (--{SchemaLimits.MaxNewSeriesPerWriteOption}): split it into smaller writes or raise the limit; nothing of it was stored");
    }

    private void AddPointColumn(ReadOnlySpan<byte> key, Utf8Map<bool>? pending)
    {
        if (pending?.TryGetValue(key, out _) != true && !_pointColumns.TryGetValue(key, out _))
        {
            _pointColumns.Set(key, true);
        }
    }
}
