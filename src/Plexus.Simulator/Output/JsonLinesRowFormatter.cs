using System.Text;

namespace Plexus.Simulator;

/// <summary>
/// One JSON object per line with the row's own keys only: measurement, time (RFC 3339 UTC), the eight tags (the
/// numeric ones as numbers), then the measurement's fields. A NULL tag or field is written as <c>null</c>, so
/// every row of a measurement has the same keys.
/// <code>
/// {"measurement":"diagnostics","time":"2016-01-01T00:00:00Z","name":"truck_0","fleet":"South","driver":"Trish","model":"H-2","device_version":"v2.3","load_capacity":1500,"fuel_capacity":150,"nominal_fuel_consumption":12,"fuel_state":1,"current_load":0,"status":0}
/// </code>
/// </summary>
internal sealed class JsonLinesRowFormatter : IFleetRowFormatter
{
    private static readonly byte[] s_readings = Encoding.UTF8.GetBytes("{\"measurement\":\"readings\",\"time\":\"");
    private static readonly byte[] s_diagnostics = Encoding.UTF8.GetBytes("{\"measurement\":\"diagnostics\",\"time\":\"");
    private static readonly byte[][] s_tagKeys = FleetSchema.TagKeys.Select(key => Encoding.UTF8.GetBytes(",\"" + key + "\":")).ToArray();
    private static readonly byte[][] s_readingsKeys = Keys(FleetSchema.ReadingsFields);
    private static readonly byte[][] s_diagnosticsKeys = Keys(FleetSchema.DiagnosticsFields);

    private readonly TruckTagText _tags;
    private readonly byte[][] _tagMembers; // ",\"name\":\"truck_0\",...,\"nominal_fuel_consumption\":12" without NULL tags
    private readonly TimestampText _timestamps = new(rfc3339: true);

    public JsonLinesRowFormatter(IReadOnlyList<Truck> trucks)
    {
        _tags = new TruckTagText(trucks);
        _tagMembers = new byte[trucks.Count][];
        Span<byte> buffer = stackalloc byte[1024];
        for (int i = 0; i < trucks.Count; i++)
        {
            _tagMembers[i] = buffer[..WriteTags(i, nullTag: -1, buffer)].ToArray();
        }
    }

    public FleetFormat Format => FleetFormat.JsonLines;

    public int MaxRowBytes => 1024;

    public int WriteHeader(Span<byte> destination) => 0;

    public int WriteRow(in FleetRow row, Span<byte> destination)
    {
        if (!FleetFormatters.HasAnyField(row))
        {
            return 0;
        }

        bool readings = row.Measurement == FleetMeasurement.Readings;
        int position = Append(destination, 0, readings ? s_readings : s_diagnostics);
        position = Append(destination, position, _timestamps.Get(row.Timestamp));
        destination[position++] = (byte)'"';
        position += row.NullTag < 0
            ? Append(destination[position..], 0, _tagMembers[row.TruckIndex])
            : WriteTags(row.TruckIndex, row.NullTag, destination[position..]);

        var fields = FleetSchema.Fields(row.Measurement);
        var keys = readings ? s_readingsKeys : s_diagnosticsKeys;
        for (int field = 0; field < keys.Length; field++)
        {
            position = Append(destination, position, keys[field]);
            position = field == row.NullField
                ? Append(destination, position, "null"u8)
                : position + Utf8Text.WriteScaled(destination[position..], row.Values[field], fields[field].Decimals);
        }

        destination[position++] = (byte)'}';
        destination[position++] = (byte)'\n';
        return position;
    }

    private int WriteTags(int truck, int nullTag, Span<byte> destination)
    {
        int position = 0;
        for (var tag = FleetTag.Name; tag <= FleetTag.NominalFuelConsumption; tag++)
        {
            position = Append(destination, position, s_tagKeys[(int)tag]);
            if ((int)tag == nullTag)
            {
                position = Append(destination, position, "null"u8);
            }
            else if (tag <= FleetTag.DeviceVersion)
            {
                // The string tag value sets need no JSON escaping (letters, digits, '_', '-', '.').
                destination[position++] = (byte)'"';
                position = Append(destination, position, _tags.Get(truck, tag));
                destination[position++] = (byte)'"';
            }
            else
            {
                position = Append(destination, position, _tags.Get(truck, tag));
            }
        }

        return position;
    }

    private static byte[][] Keys(IReadOnlyList<FleetField> fields) =>
        fields.Select(field => Encoding.UTF8.GetBytes(",\"" + field.Name + "\":")).ToArray();

    private static int Append(Span<byte> destination, int position, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[position..]);
        return position + bytes.Length;
    }
}
