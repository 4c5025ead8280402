namespace Plexus.Simulator;

/// <summary>
/// The trucks' readings as rows of <c>main.positions</c>, the measurement devices' location messages fill:
/// <c>positions,device=truck_7 lat=…,lon=…,alt=…,speed=…,heading=… &lt;ns&gt;</c>, so that the geo functions, tracks and
/// the cookbook's as-of-position examples see the simulated fleet. Diagnostics rows, and readings without a name or
/// without both coordinates, give no line.
/// </summary>
internal sealed class PositionsRowFormatter(IReadOnlyList<Truck> trucks) : IFleetRowFormatter
{
    // Readings fields in schema order: latitude, longitude, elevation, velocity, heading.
    private static readonly byte[][] Keys = [" lat="u8.ToArray(), ",lon="u8.ToArray(), ",alt="u8.ToArray(), ",speed="u8.ToArray(), ",heading="u8.ToArray()];

    private readonly TruckTagText _tags = new(trucks);
    private readonly TimestampText _timestamps = new(rfc3339: false);

    public FleetFormat Format => FleetFormat.LineProtocol;

    public int MaxRowBytes => 256;

    public int WriteHeader(Span<byte> destination) => 0;

    public int WriteRow(in FleetRow row, Span<byte> destination)
    {
        if (row.Measurement != FleetMeasurement.Readings || row.IsTagNull(FleetTag.Name) || row.IsFieldNull(0) || row.IsFieldNull(1))
        {
            return 0;
        }

        int position = Append(destination, 0, "positions,device="u8);
        position = Append(destination, position, _tags.Get(row.TruckIndex, FleetTag.Name));
        var fields = FleetSchema.ReadingsFields;
        for (int field = 0; field < Keys.Length; field++)
        {
            if (row.IsFieldNull(field))
            {
                continue;
            }

            position = Append(destination, position, Keys[field]);
            position += Utf8Text.WriteScaled(destination[position..], row.Values[field], fields[field].Decimals);
        }

        destination[position++] = (byte)' ';
        position = Append(destination, position, _timestamps.Get(row.Timestamp));
        destination[position++] = (byte)'\n';
        return position;
    }

    private static int Append(Span<byte> destination, int position, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[position..]);
        return position + bytes.Length;
    }
}
