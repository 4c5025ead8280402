using System.Text;
using Plexus.Core;
using Plexus.Ingest;
using Plexus.Ingest.LineProtocol;
using Plexus.Simulator.Tests.TestSupport;

namespace Plexus.Simulator.Tests.Output;

public sealed class LineProtocolOutputTests
{
    [Fact]
    public void Output_parses_as_line_protocol_without_a_single_error_and_carries_every_value_exactly()
    {
        var options = Fleet.Options(trucks: 30, TimeSpan.FromHours(1), seed: 3); // ~19,000 rows with TSBS chaos
        var rows = Fleet.Rows(options);
        byte[] output = Fleet.Bytes(options, FleetFormat.LineProtocol);
        var simulator = new FleetSimulator(options);

        var batch = new PointBatch();
        var errors = new LineErrorSink();
        int lines = LineProtocolParser.Parse(output, 1, new LineProtocolOptions(TimePrecision.Nanoseconds, 0), batch, errors);

        Assert.Equal(0, errors.Count);
        Assert.Equal(rows.Count, lines);
        Assert.Equal(rows.Count, batch.Count);
        Assert.Contains(rows, row => row.NullField >= 0);
        Assert.Contains(rows, row => row.NullTag >= 0);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var truck = simulator.Trucks[row.TruckIndex];
            ref readonly var point = ref batch[i];
            Assert.Equal(FleetSchema.MeasurementName(row.Measurement), Text(batch, point.Measurement));
            Assert.Equal(row.Timestamp, point.Timestamp);

            var tags = batch.Tags(point).ToArray().ToDictionary(tag => Text(batch, tag.Key), tag => Text(batch, tag.Value));
            var expectedTags = Enumerable.Range(0, 5).Select(tag => (FleetTag)tag).Where(tag => !row.IsTagNull(tag))
                .ToDictionary(tag => FleetSchema.TagKeys[(int)tag], tag => truck.StringTag(tag)!);
            Assert.Equal(expectedTags, tags);

            var fields = batch.Fields(point).ToArray().ToDictionary(field => Text(batch, field.Key));
            var definitions = FleetSchema.Fields(row.Measurement);
            int expectedFieldCount = row.FieldValueCount + Enumerable.Range(5, 3).Count(tag => !row.IsTagNull((FleetTag)tag));
            Assert.Equal(expectedFieldCount, fields.Count);
            for (int field = 0; field < definitions.Count; field++)
            {
                if (row.IsFieldNull(field))
                {
                    Assert.False(fields.ContainsKey(definitions[field].Name));
                    continue;
                }

                var parsed = fields[definitions[field].Name];
                if (definitions[field].Type == FleetFieldType.Integer)
                {
                    Assert.Equal(FieldType.Integer, parsed.Type);
                    Assert.Equal(row.GetScaledValue(field), parsed.IntegerValue);
                }
                else
                {
                    Assert.Equal(FieldType.Float, parsed.Type);
                    Assert.Equal(row.GetValue(field), parsed.FloatValue); // bit-exact round trip
                }
            }

            if (!row.IsTagNull(FleetTag.LoadCapacity))
            {
                Assert.Equal(truck.LoadCapacity, fields["load_capacity"].FloatValue);
            }
        }
    }

    [Fact]
    public void Rows_look_like_TSBS_influx_rows()
    {
        var options = Fleet.Options(trucks: 1, TimeSpan.FromSeconds(10), FleetChaosOptions.None);
        var simulator = new FleetSimulator(options);
        string text = Encoding.UTF8.GetString(Fleet.Bytes(options, FleetFormat.LineProtocol));
        var truck = simulator.Trucks[0];
        string tags = $"name=truck_0,fleet={truck.Fleet},driver={truck.Driver},model={truck.Model.Name},device_version={truck.DeviceVersion}";
        string numeric = $"load_capacity={truck.LoadCapacity},fuel_capacity={truck.FuelCapacity},nominal_fuel_consumption={truck.NominalFuelConsumption}";
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith($"readings,{tags} {numeric},latitude=", lines[0], StringComparison.Ordinal);
        Assert.Matches(@",velocity=0,heading=\d+,grade=0,fuel_consumption=25 1451685600000000000$", lines[0]);
        Assert.Equal($"diagnostics,{tags} {numeric},fuel_state=1,current_load=0,status=0i 1451685600000000000", lines[1]);
    }

    [Fact]
    public void A_NULL_field_or_tag_is_left_out_of_the_line()
    {
        var options = Fleet.Options(trucks: 30, TimeSpan.FromHours(1), seed: 3);
        var rows = Fleet.Rows(options);
        var lines = Encoding.UTF8.GetString(Fleet.Bytes(options, FleetFormat.LineProtocol)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        int nullName = rows.FindIndex(row => row.NullTag == (int)FleetTag.Name);
        int nullLoad = rows.FindIndex(row => row.NullTag == (int)FleetTag.LoadCapacity);
        int nullLatitude = rows.FindIndex(row => row.Measurement == FleetMeasurement.Readings && row.NullField == 0);
        Assert.True(nullName >= 0 && nullLoad >= 0 && nullLatitude >= 0, "the run holds each kind of NULL");

        Assert.DoesNotContain("name=", lines[nullName], StringComparison.Ordinal);
        Assert.Matches(@"^(readings|diagnostics),fleet=", lines[nullName]);
        Assert.Matches(@"^\S+ fuel_capacity=", lines[nullLoad]);
        Assert.DoesNotContain("latitude=", lines[nullLatitude], StringComparison.Ordinal);
        Assert.Contains(",longitude=", lines[nullLatitude], StringComparison.Ordinal);
    }

    private static string Text(PointBatch batch, TextSlice slice) => Encoding.UTF8.GetString(batch.Text(slice));
}
