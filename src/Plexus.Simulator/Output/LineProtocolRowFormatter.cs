using System.Diagnostics;
using System.Text;

namespace Plexus.Simulator;

/// <summary>
/// Line protocol exactly as TSBS's Influx serializer lays it out (<c>pkg/targets/influx/serializer.go</c>): the five
/// string tags, then the three numeric tags as the first fields ("fake tags"), then the measurement's fields, then
/// the nanosecond timestamp. NULL tags and fields are omitted; <c>status</c> gets the <c>i</c> suffix.
/// <code>
/// readings,name=truck_0,fleet=South,driver=Trish,model=H-2,device_version=v2.3 load_capacity=1500,fuel_capacity=150,nominal_fuel_consumption=12,latitude=52.31854,longitude=4.72037,elevation=124,velocity=0,heading=221,grade=0,fuel_consumption=25 1451606400000000000
/// </code>
/// </summary>
internal sealed class LineProtocolRowFormatter : IFleetRowFormatter
{
    private readonly TruckTagText _tags;

    // Per truck and measurement: "readings,<tags> <numeric tags as fields>" for rows without a NULL tag (fast path).
    private readonly byte[][] _readingsHeads;
    private readonly byte[][] _diagnosticsHeads;
    private readonly byte[][] _readingsKeys;
    private readonly byte[][] _diagnosticsKeys;
    private readonly TimestampText _timestamps = new(rfc3339: false);

    public LineProtocolRowFormatter(IReadOnlyList<Truck> trucks)
    {
        _tags = new TruckTagText(trucks);
        _readingsHeads = new byte[trucks.Count][];
        _diagnosticsHeads = new byte[trucks.Count][];
        for (int i = 0; i < trucks.Count; i++)
        {
            _readingsHeads[i] = Head(FleetSchema.ReadingsName, trucks[i]);
            _diagnosticsHeads[i] = Head(FleetSchema.DiagnosticsName, trucks[i]);
        }

        _readingsKeys = FieldKeys(FleetMeasurement.Readings);
        _diagnosticsKeys = FieldKeys(FleetMeasurement.Diagnostics);
        MaxRowBytes = 1024; // The longest row (a readings row of truck_2147483647 at negative coordinates) is under 400 bytes.
    }

    public FleetFormat Format => FleetFormat.LineProtocol;

    public int MaxRowBytes { get; }

    public int WriteHeader(Span<byte> destination) => 0;

    public int WriteRow(in FleetRow row, Span<byte> destination)
    {
        int position;
        bool needComma;
        if (row.NullTag < 0)
        {
            // Fast path: 99 % of rows. The head always ends with a numeric-tag field, so the next field needs a comma.
            var head = row.Measurement == FleetMeasurement.Readings ? _readingsHeads[row.TruckIndex] : _diagnosticsHeads[row.TruckIndex];
            head.CopyTo(destination);
            position = head.Length;
            needComma = true;
        }
        else
        {
            if (!FleetFormatters.HasAnyField(row))
            {
                return 0;
            }

            position = WriteHeadSlow(row, destination, out needComma);
        }

        var fields = FleetSchema.Fields(row.Measurement);
        var keys = row.Measurement == FleetMeasurement.Readings ? _readingsKeys : _diagnosticsKeys;
        int nullField = row.NullField;
        for (int field = 0; field < keys.Length; field++)
        {
            if (field == nullField)
            {
                continue;
            }

            // keys[field] is ",name="; the comma is skipped for the first field of a row whose numeric tags are all NULL.
            var key = keys[field].AsSpan(needComma ? 0 : 1);
            key.CopyTo(destination[position..]);
            position += key.Length;
            needComma = true;
            var definition = fields[field];
            position += Utf8Text.WriteScaled(destination[position..], row.Values[field], definition.Decimals);
            if (definition.Type == FleetFieldType.Integer)
            {
                destination[position++] = (byte)'i';
            }
        }

        Debug.Assert(needComma, "HasAnyField guaranteed at least one field");
        destination[position++] = (byte)' ';
        var timestamp = _timestamps.Get(row.Timestamp);
        timestamp.CopyTo(destination[position..]);
        position += timestamp.Length;
        destination[position++] = (byte)'\n';
        return position;
    }

    /// <summary>The measurement, tags and numeric-tag fields of a row with a NULL tag, which the prebuilt heads cannot serve.</summary>
    private int WriteHeadSlow(in FleetRow row, Span<byte> destination, out bool wroteField)
    {
        int position = Append(destination, 0, FleetSchema.MeasurementName(row.Measurement));
        for (var tag = FleetTag.Name; tag <= FleetTag.DeviceVersion; tag++)
        {
            if (!row.IsTagNull(tag))
            {
                destination[position++] = (byte)',';
                position = Append(destination, position, FleetSchema.TagKeys[(int)tag]);
                destination[position++] = (byte)'=';
                position = Append(destination, position, _tags.Get(row.TruckIndex, tag));
            }
        }

        destination[position++] = (byte)' ';
        wroteField = false;
        for (var tag = FleetTag.LoadCapacity; tag <= FleetTag.NominalFuelConsumption; tag++)
        {
            if (!row.IsTagNull(tag))
            {
                if (wroteField)
                {
                    destination[position++] = (byte)',';
                }

                position = Append(destination, position, FleetSchema.TagKeys[(int)tag]);
                destination[position++] = (byte)'=';
                position = Append(destination, position, _tags.Get(row.TruckIndex, tag));
                wroteField = true;
            }
        }

        return position;
    }

    private static byte[] Head(string measurement, Truck truck)
    {
        var text = new StringBuilder(measurement);
        for (var tag = FleetTag.Name; tag <= FleetTag.DeviceVersion; tag++)
        {
            text.Append(',').Append(FleetSchema.TagKeys[(int)tag]).Append('=').Append(truck.StringTag(tag));
        }

        text.Append(' ');
        for (var tag = FleetTag.LoadCapacity; tag <= FleetTag.NominalFuelConsumption; tag++)
        {
            if (tag != FleetTag.LoadCapacity)
            {
                text.Append(',');
            }

            text.Append(FleetSchema.TagKeys[(int)tag]).Append('=').Append(Utf8Text.FormatFloat32(truck.NumericTag(tag)!.Value));
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static byte[][] FieldKeys(FleetMeasurement measurement) =>
        FleetSchema.Fields(measurement).Select(field => Encoding.UTF8.GetBytes("," + field.Name + "=")).ToArray();

    private static int Append(Span<byte> destination, int position, string ascii) =>
        position + Encoding.UTF8.GetBytes(ascii, destination[position..]);

    private static int Append(Span<byte> destination, int position, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(destination[position..]);
        return position + bytes.Length;
    }
}
