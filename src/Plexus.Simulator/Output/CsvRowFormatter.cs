using System.Text;

namespace Plexus.Simulator;

/// <summary>
/// One CSV file for both measurements: a <c>measurement</c> column, the time in RFC 3339 UTC, the eight tags, then
/// the union of the two measurements' fields; a row leaves the other measurement's columns empty. NULL tags and
/// fields are empty cells. No value ever needs quoting (the value sets hold no commas, quotes or line breaks).
/// <code>
/// measurement,time,name,fleet,driver,model,device_version,load_capacity,fuel_capacity,nominal_fuel_consumption,latitude,longitude,elevation,velocity,heading,grade,fuel_consumption,fuel_state,current_load,status
/// readings,2016-01-01T00:00:00Z,truck_0,South,Trish,H-2,v2.3,1500,150,12,52.31854,4.72037,124,0,221,0,25,,,
/// diagnostics,2016-01-01T00:00:00Z,truck_0,South,Trish,H-2,v2.3,1500,150,12,,,,,,,,1,0,0
/// </code>
/// </summary>
internal sealed class CsvRowFormatter : IFleetRowFormatter
{
    private static readonly byte[] s_header = Encoding.UTF8.GetBytes(string.Join(
        ',',
        new[] { "measurement", "time" }
            .Concat(FleetSchema.TagKeys)
            .Concat(FleetSchema.ReadingsFields.Select(field => field.Name))
            .Concat(FleetSchema.DiagnosticsFields.Select(field => field.Name))) + "\n");

    private static readonly byte[] s_readings = Encoding.UTF8.GetBytes(FleetSchema.ReadingsName + ",");
    private static readonly byte[] s_diagnostics = Encoding.UTF8.GetBytes(FleetSchema.DiagnosticsName + ",");

    private readonly TruckTagText _tags;
    private readonly byte[][] _tagCells; // ",truck_0,South,...,12" for rows without a NULL tag
    private readonly TimestampText _timestamps = new(rfc3339: true);

    public CsvRowFormatter(IReadOnlyList<Truck> trucks)
    {
        _tags = new TruckTagText(trucks);
        _tagCells = new byte[trucks.Count][];
        for (int i = 0; i < trucks.Count; i++)
        {
            var cells = new List<byte>();
            for (var tag = FleetTag.Name; tag <= FleetTag.NominalFuelConsumption; tag++)
            {
                cells.Add((byte)',');
                cells.AddRange(_tags.Get(i, tag));
            }

            _tagCells[i] = [.. cells];
        }
    }

    public FleetFormat Format => FleetFormat.Csv;

    public int MaxRowBytes => 1024;

    public int WriteHeader(Span<byte> destination)
    {
        s_header.CopyTo(destination);
        return s_header.Length;
    }

    public int WriteRow(in FleetRow row, Span<byte> destination)
    {
        if (!FleetFormatters.HasAnyField(row))
        {
            return 0;
        }

        bool readings = row.Measurement == FleetMeasurement.Readings;
        int position = Append(destination, 0, readings ? s_readings : s_diagnostics);
        position = Append(destination, position, _timestamps.Get(row.Timestamp));
        if (row.NullTag < 0)
        {
            position = Append(destination, position, _tagCells[row.TruckIndex]);
        }
        else
        {
            for (var tag = FleetTag.Name; tag <= FleetTag.NominalFuelConsumption; tag++)
            {
                destination[position++] = (byte)',';
                if (!row.IsTagNull(tag))
                {
                    position = Append(destination, position, _tags.Get(row.TruckIndex, tag));
                }
            }
        }

        if (!readings)
        {
            position = Append(destination, position, ",,,,,,,"u8); // the seven readings columns
        }

        var fields = FleetSchema.Fields(row.Measurement);
        for (int field = 0; field < fields.Count; field++)
        {
            destination[position++] = (byte)',';
            if (field != row.NullField)
            {
                position += Utf8Text.WriteScaled(destination[position..], row.Values[field], fields[field].Decimals);
            }
        }

        if (readings)
        {
            position = Append(destination, position, ",,,"u8); // the three diagnostics columns
        }

        destination[position++] = (byte)'\n';
        return position;
    }

    private static int Append(Span<byte> destination, int position, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[position..]);
        return position + bytes.Length;
    }
}
