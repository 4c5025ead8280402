using System.Globalization;
using System.Text;
using System.Text.Json;
using Plexus.Simulator.Tests.TestSupport;

namespace Plexus.Simulator.Tests.Output;

public sealed class TextFormatsTests
{
    private static readonly string[] s_csvColumns =
    [
        "measurement", "time", "name", "fleet", "driver", "model", "device_version", "load_capacity", "fuel_capacity",
        "nominal_fuel_consumption", "latitude", "longitude", "elevation", "velocity", "heading", "grade", "fuel_consumption",
        "fuel_state", "current_load", "status",
    ];

    [Fact]
    public void Csv_has_one_header_and_one_line_per_row_with_every_column()
    {
        var options = Fleet.Options(trucks: 20, TimeSpan.FromMinutes(30), seed: 9);
        var rows = Fleet.Rows(options);
        var simulator = new FleetSimulator(options);
        var lines = Encoding.UTF8.GetString(Fleet.Bytes(options, FleetFormat.Csv)).Split('\n');

        Assert.Equal(string.Join(',', s_csvColumns), lines[0]);
        Assert.Equal("", lines[^1]); // ends with a line break
        Assert.Equal(rows.Count, lines.Length - 2);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var cells = lines[i + 1].Split(',');
            Assert.Equal(s_csvColumns.Length, cells.Length);
            Assert.Equal(FleetSchema.MeasurementName(row.Measurement), cells[0]);
            Assert.Equal(row.Timestamp, Fleet.UnixNanoseconds(DateTimeOffset.Parse(cells[1], CultureInfo.InvariantCulture)));
            Assert.Equal(row.IsTagNull(FleetTag.Name) ? "" : simulator.Trucks[row.TruckIndex].Name, cells[2]);
            int first = row.Measurement == FleetMeasurement.Readings ? 10 : 17;
            int other = row.Measurement == FleetMeasurement.Readings ? 17 : 10;
            int otherCount = row.Measurement == FleetMeasurement.Readings ? 3 : 7;
            Assert.All(cells.Skip(other).Take(otherCount), cell => Assert.Equal("", cell));
            for (int field = 0; field < row.FieldCount; field++)
            {
                string cell = cells[first + field];
                if (row.IsFieldNull(field))
                {
                    Assert.Equal("", cell);
                }
                else
                {
                    Assert.Equal(row.GetValue(field), double.Parse(cell, CultureInfo.InvariantCulture));
                }
            }
        }
    }

    [Fact]
    public void Json_lines_are_one_object_per_row_with_nulls_for_NULL_values()
    {
        var options = Fleet.Options(trucks: 20, TimeSpan.FromMinutes(30), seed: 9);
        var rows = Fleet.Rows(options);
        var simulator = new FleetSimulator(options);
        var lines = Encoding.UTF8.GetString(Fleet.Bytes(options, FleetFormat.JsonLines)).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(rows.Count, lines.Length);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            var truck = simulator.Trucks[row.TruckIndex];
            using var document = JsonDocument.Parse(lines[i]);
            var json = document.RootElement;
            var fields = FleetSchema.Fields(row.Measurement);
            Assert.Equal(2 + 8 + fields.Count, json.EnumerateObject().Count());
            Assert.Equal(FleetSchema.MeasurementName(row.Measurement), json.GetProperty("measurement").GetString());
            Assert.Equal(row.Timestamp, Fleet.UnixNanoseconds(json.GetProperty("time").GetDateTimeOffset()));
            for (var tag = FleetTag.Name; tag <= FleetTag.NominalFuelConsumption; tag++)
            {
                var value = json.GetProperty(FleetSchema.TagKeys[(int)tag]);
                if (row.IsTagNull(tag))
                {
                    Assert.Equal(JsonValueKind.Null, value.ValueKind);
                }
                else if (tag <= FleetTag.DeviceVersion)
                {
                    Assert.Equal(truck.StringTag(tag), value.GetString());
                }
                else
                {
                    Assert.Equal(truck.NumericTag(tag)!.Value, value.GetSingle());
                }
            }

            for (int field = 0; field < fields.Count; field++)
            {
                var value = json.GetProperty(fields[field].Name);
                if (row.IsFieldNull(field))
                {
                    Assert.Equal(JsonValueKind.Null, value.ValueKind);
                }
                else
                {
                    Assert.Equal(row.GetValue(field), value.GetDouble());
                }
            }
        }
    }

    [Theory]
    [InlineData(FleetFormat.LineProtocol)]
    [InlineData(FleetFormat.Csv)]
    [InlineData(FleetFormat.JsonLines)]
    public void Every_format_writes_the_same_rows_and_counts_the_same_field_values(FleetFormat format)
    {
        var options = Fleet.Options(trucks: 15, TimeSpan.FromMinutes(30), seed: 4);
        var rows = Fleet.Rows(options);
        byte[] bytes = Fleet.Bytes(new FleetSimulator(options), format, out var writer);
        Assert.Equal(rows.Count, writer.Rows);
        Assert.Equal(rows.Sum(row => (long)row.FieldValueCount), writer.FieldValues);
        Assert.Equal(bytes.Length, writer.Bytes);
        Assert.Equal(0, writer.RowsSkipped);
    }

    [Theory]
    [InlineData("lp", FleetFormat.LineProtocol)]
    [InlineData("LP", FleetFormat.LineProtocol)]
    [InlineData("csv", FleetFormat.Csv)]
    [InlineData("jsonl", FleetFormat.JsonLines)]
    [InlineData("ndjson", FleetFormat.JsonLines)]
    public void Format_names_parse(string text, FleetFormat expected)
    {
        Assert.True(FleetFormatters.TryParse(text, out var format));
        Assert.Equal(expected, format);
    }

    [Fact]
    public void Unknown_format_names_do_not_parse() => Assert.False(FleetFormatters.TryParse("parquet", out _));
}
