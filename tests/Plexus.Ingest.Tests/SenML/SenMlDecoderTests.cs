using System.Text;
using Plexus.Core;
using Plexus.Ingest.SenML;
using Plexus.Ingest.Tests.Json;
using Plexus.Ingest.Tests.TestSupport;
using static Plexus.Ingest.Tests.TestSupport.ExpectedPoint;

namespace Plexus.Ingest.Tests.SenML;

public sealed class SenMlDecoderTests
{
    private const string Measurement = "senml";
    private const string Device = "dev-1";

    /// <summary>The receive time: "now" for relative times (2023-11-14T22:13:20.123456789Z).</summary>
    private const long Now = Decode.DefaultTime;

    private const long Second = 1_000_000_000;

    private static readonly SenMlOptions Options = new(Measurement, Device, Now);

    // RFC 8428 §5.1.1 to §5.1.5, as printed.
    private const string SingleDatapoint = """
        [
          {"n":"urn:dev:ow:10e2073a01080063","u":"Cel","v":23.1}
        ]
        """;

    private const string MultipleDatapoints = """
        [
          {"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120.1},
          {"n":"current","u":"A","v":1.2}
        ]
        """;

    private const string MultipleDatapointsWithTime = """
        [
          {"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,
           "bu":"A","bver":5,
           "n":"voltage","u":"V","v":120.1},
          {"n":"current","t":-5,"v":1.2},
          {"n":"current","t":-4,"v":1.3},
          {"n":"current","t":-3,"v":1.4},
          {"n":"current","t":-2,"v":1.5},
          {"n":"current","t":-1,"v":1.6},
          {"n":"current","v":1.7}
        ]
        """;

    private const string MultipleMeasurements = """
        [
          {"bn":"urn:dev:ow:10e2073a01080063","bt":1.320067464e+09,
           "bu":"%RH","v":20},
          {"u":"lon","v":24.30621},
          {"u":"lat","v":60.07965},
          {"t":60,"v":20.3},
          {"u":"lon","t":60,"v":24.30622},
          {"u":"lat","t":60,"v":60.07965},
          {"t":120,"v":20.7},
          {"u":"lon","t":120,"v":24.30623},
          {"u":"lat","t":120,"v":60.07966},
          {"u":"%EL","t":150,"v":98},
          {"t":180,"v":21.2},
          {"u":"lon","t":180,"v":24.30628},
          {"u":"lat","t":180,"v":60.07967}
        ]
        """;

    private const string ResolvedMultipleDatapointsWithTime = """
        [
          {"n":"urn:dev:ow:10e2073a0108006:voltage","u":"V","t":1.276020076001e+09,"v":120.1},
          {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","t":1.276020071001e+09,"v":1.2},
          {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","t":1.276020072001e+09,"v":1.3},
          {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","t":1.276020073001e+09,"v":1.4},
          {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","t":1.276020074001e+09,"v":1.5},
          {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","t":1.276020075001e+09,"v":1.6},
          {"n":"urn:dev:ow:10e2073a0108006:current","u":"A","t":1.276020076001e+09,"v":1.7}
        ]
        """;

    private const string MultipleDataTypes = """
        [
          {"bn":"urn:dev:ow:10e2073a01080063:","n":"temp","u":"Cel","v":23.1},
          {"n":"label","vs":"Machine Room"},
          {"n":"open","vb":false},
          {"n":"nfc-reader","vd":"aGkgCg"}
        ]
        """;

    private static DeviceDecodeResult Run(string json, SenMlOptions? options = null) => Run(Encoding.UTF8.GetBytes(json), options);

    private static DeviceDecodeResult Run(byte[] payload, SenMlOptions? options = null)
    {
        SenMlOptions chosen = options ?? Options;
        return DeviceDecode.Run(payload, (ReadOnlySpan<byte> bytes, PointBatch batch, out IngestError error) => SenMlDecoder.TryDecode(bytes, chosen, batch, out error));
    }

    private static void Case(string json, params ExpectedPoint[] points) => Run(json).AssertPoints(points);

    private static string Rejected(string json) => Run(json).AssertError();

    private static ExpectedPoint SenMl(long time) => Point(Measurement).Tag("device", Device).At(time);

    // ---- the RFC's examples ----------------------------------------------------------------------------------------

    [Fact]
    public void Rfc_single_datapoint_named_only_by_the_device_is_named_by_its_unit()
        => Case(SingleDatapoint, SenMl(Now).Float("Cel", 23.1));

    [Fact]
    public void Rfc_multiple_datapoints_without_times_share_one_point_at_the_receive_time()
        => Case(MultipleDatapoints, SenMl(Now).Float("voltage", 120.1).Float("current", 1.2));

    [Fact]
    public void Rfc_multiple_datapoints_with_relative_times_give_one_point_per_time_in_time_order()
    {
        DeviceDecodeResult result = Run(MultipleDatapointsWithTime);
        result.AssertPoints(
            SenMl(1_276_020_071_001_000_000).Float("current", 1.2),
            SenMl(1_276_020_072_001_000_000).Float("current", 1.3),
            SenMl(1_276_020_073_001_000_000).Float("current", 1.4),
            SenMl(1_276_020_074_001_000_000).Float("current", 1.5),
            SenMl(1_276_020_075_001_000_000).Float("current", 1.6),
            SenMl(1_276_020_076_001_000_000).Float("voltage", 120.1).Float("current", 1.7));

        // A point's line is the position (from 1) of its first record in the pack.
        Assert.Equal([2, 3, 4, 5, 6, 1], result.Points.Select(p => p.Line));
    }

    [Fact]
    public void Rfc_resolved_records_decode_to_the_same_points_as_the_pack_they_resolve()
    {
        DeviceDecodeResult resolved = Run(ResolvedMultipleDatapointsWithTime);
        DeviceDecodeResult pack = Run(MultipleDatapointsWithTime);
        Assert.True(resolved.Ok, resolved.Error);
        Assert.Equal(
            pack.Points.Select(p => p with { Line = 0 }).Select(p => p.ToString()),
            resolved.Points.Select(p => p with { Line = 0 }).Select(p => p.ToString()));
    }

    [Fact]
    public void Rfc_multiple_measurements_told_apart_by_unit_become_one_field_per_unit()
        => Case(
            MultipleMeasurements,
            SenMl(1_320_067_464 * Second).Float("%RH", 20).Float("lon", 24.30621).Float("lat", 60.07965),
            SenMl(1_320_067_524 * Second).Float("%RH", 20.3).Float("lon", 24.30622).Float("lat", 60.07965),
            SenMl(1_320_067_584 * Second).Float("%RH", 20.7).Float("lon", 24.30623).Float("lat", 60.07966),
            SenMl(1_320_067_614 * Second).Float("%EL", 98),
            SenMl(1_320_067_644 * Second).Float("%RH", 21.2).Float("lon", 24.30628).Float("lat", 60.07967));

    [Fact]
    public void Rfc_multiple_data_types_map_to_float_string_boolean_and_base64_string_fields()
        => Case(
            MultipleDataTypes,
            SenMl(Now).Float("temp", 23.1).String("label", "Machine Room").Boolean("open", false).String("nfc-reader", "aGkgCg"));

    // ---- units and sums --------------------------------------------------------------------------------------------

    [Fact]
    public void Units_are_left_out_by_default()
        => Case("""[{"n":"temp","u":"Cel","v":21}]""", SenMl(Now).Float("temp", 21));

    [Fact]
    public void With_include_units_each_record_with_a_unit_adds_a_name_unit_string_field()
        => Run(
                """[{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"A","n":"voltage","u":"V","v":120.1},{"n":"current","t":-5,"v":1.2}]""",
                Options with { IncludeUnits = true })
            .AssertPoints(
                SenMl(1_276_020_071_001_000_000).Float("current", 1.2).String("current_unit", "A"),
                SenMl(1_276_020_076_001_000_000).Float("voltage", 120.1).String("voltage_unit", "V"));

    [Fact]
    public void With_include_units_a_record_without_unit_adds_no_unit_field()
        => Run("""[{"n":"count","v":3},{"n":"temp","u":"Cel","v":21}]""", Options with { IncludeUnits = true })
            .AssertPoints(SenMl(Now).Float("count", 3).Float("temp", 21).String("temp_unit", "Cel"));

    [Fact]
    public void Empty_unit_is_no_unit_and_the_base_unit_applies()
        => Run("""[{"bu":"Cel","n":"a","u":"","v":1}]""", Options with { IncludeUnits = true })
            .AssertPoints(SenMl(Now).Float("a", 1).String("a_unit", "Cel"));

    [Fact]
    public void Sum_becomes_a_name_sum_float_field_beside_the_value()
        => Case(
            """[{"bn":"meter:","bs":1000,"n":"energy","u":"J","v":5,"s":20},{"n":"water","s":3.5}]""",
            SenMl(Now).Float("meter:energy", 5).Float("meter:energy_sum", 1020).Float("meter:water_sum", 1003.5));

    [Fact]
    public void Sums_units_and_base_values_together_as_the_docs_show_them()
        => Run(
                """[{"bn":"urn:dev:ow:10e2073a01080063:","bs":1000,"bv":10,"n":"energy","u":"J","v":5,"s":20},{"n":"water","u":"m3","s":3.5}]""",
                Options with { IncludeUnits = true })
            .AssertPoints(
                SenMl(Now).Float("energy", 15).Float("energy_sum", 1020).String("energy_unit", "J").Float("water_sum", 1003.5).String("water_unit", "m3"));

    // ---- base values -----------------------------------------------------------------------------------------------

    [Fact]
    public void Base_value_is_added_to_each_value_and_carries_forward_until_replaced()
        => Case(
            """[{"bv":100,"n":"a","v":1},{"n":"b","v":-2},{"bv":0.5,"n":"c","v":0.25},{"n":"d","vs":"text"}]""",
            SenMl(Now).Float("a", 101).Float("b", 98).Float("c", 0.75).String("d", "text"));

    [Fact]
    public void Base_name_carries_forward_until_replaced()
        => Case(
            """[{"bn":"room1/","n":"temp","v":1},{"n":"hum","v":2},{"bn":"room2/","n":"temp","v":3}]""",
            SenMl(Now).Float("room1/temp", 1).Float("room1/hum", 2).Float("room2/temp", 3));

    [Fact]
    public void Base_time_carries_forward_and_times_add_to_it()
        => Case(
            """[{"bt":1700000000,"n":"a","v":1},{"n":"a","t":10,"v":2},{"bt":1700000100.5,"n":"a","v":3}]""",
            SenMl(1_700_000_000 * Second).Float("a", 1),
            SenMl(1_700_000_010 * Second).Float("a", 2),
            SenMl(1_700_000_100_500_000_000).Float("a", 3));

    [Fact]
    public void Fields_in_a_record_apply_in_any_order_and_base_fields_apply_to_their_own_record()
        => Case("""[{"v":1,"n":"a","bv":10,"bn":"x:"}]""", SenMl(Now).Float("x:a", 11));

    [Fact]
    public void Version_10_and_earlier_versions_are_accepted()
        => Case("""[{"bver":10,"n":"a","v":1},{"bver":10,"n":"b","v":2}]""", SenMl(Now).Float("a", 1).Float("b", 2));

    [Fact]
    public void Unknown_labels_are_ignored_whatever_their_value()
        => Case("""[{"n":"a","v":1,"x":{"y":[1,{"z":null}]},"note":"hi","ut":60}]""", SenMl(Now).Float("a", 1));

    // ---- times -----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("\"t\":0", Now)]
    [InlineData("\"t\":-10", Now - (10 * Second))]
    [InlineData("\"t\":-0.5", Now - (Second / 2))]
    [InlineData("\"t\":5", Now + (5 * Second))]
    [InlineData("\"t\":268435455", Now + (268_435_455 * Second))]
    [InlineData("\"t\":268435456", 268_435_456 * Second)]
    [InlineData("\"bt\":-60,\"t\":30", Now - (30 * Second))]
    [InlineData("\"bt\":1700000000,\"t\":-1699999990", Now + (10 * Second))]
    [InlineData("\"t\":1.7e9", 1_700_000_000 * Second)]
    [InlineData("\"t\":1700000000.123456789", 1_700_000_000_123_456_789)]
    [InlineData("\"bt\":1700000000,\"t\":0.000000001", 1_700_000_000_000_000_001)]
    [InlineData("\"t\":-9000000000", Now - (9_000_000_000 * Second))]
    public void Times_below_2_to_the_28_seconds_are_relative_to_the_receive_time(string time, long expected)
        => Case($$"""[{"n":"a","v":1,{{time}}}]""", SenMl(expected).Float("a", 1));

    [Fact]
    public void Records_at_the_same_time_anywhere_in_the_pack_share_a_point_in_pack_order()
        => Case(
            """[{"bt":1700000000,"n":"a","t":1,"v":1},{"n":"b","v":2},{"n":"c","t":1,"v":3},{"n":"d","v":4}]""",
            SenMl(1_700_000_000 * Second).Float("b", 2).Float("d", 4),
            SenMl(1_700_000_001 * Second).Float("a", 1).Float("c", 3));

    [Fact]
    public void Same_name_twice_at_the_same_time_keeps_the_last_record()
        => Case("""[{"n":"a","v":1},{"n":"b","v":2},{"n":"a","vs":"last"}]""", SenMl(Now).Float("b", 2).String("a", "last"));

    [Fact]
    public void Empty_pack_is_accepted_and_adds_nothing()
    {
        DeviceDecodeResult result = Run("[]");
        Assert.True(result.Ok);
        Assert.Empty(result.Points);
    }

    // ---- field names -----------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("\"bn\":\"urn:dev:ow:10e2073a01080063:\",\"n\":\"temp\"", "temp")]
    [InlineData("\"n\":\"urn:dev:mac:0024befffe804ff1:temp\"", "temp")]
    [InlineData("\"n\":\"URN:DEV:ow:abc:temp\"", "temp")]
    [InlineData("\"bn\":\"urn:dev:ow:abc:\",\"n\":\"engine:temp\"", "engine:temp")]
    [InlineData("\"n\":\"urn:dev:ow:\"", "urn:dev:ow:")]
    [InlineData("\"n\":\"urn:devices:x:temp\"", "urn:devices:x:temp")]
    [InlineData("\"bn\":\"dev-1:\",\"n\":\"temp\"", "temp")]
    [InlineData("\"bn\":\"dev-1/\",\"n\":\"temp\"", "temp")]
    [InlineData("\"n\":\"dev-1.temp\"", "dev-1.temp")]
    [InlineData("\"n\":\"dev-10:temp\"", "dev-10:temp")]
    [InlineData("\"bn\":\"sensor1/\",\"n\":\"temp\"", "sensor1/temp")]
    [InlineData("\"n\":\"temp\"", "temp")]
    [InlineData("\"n\":\"3303/0/5700\"", "3303/0/5700")]
    [InlineData("\"n\":\"dev-1\"", "value")]
    [InlineData("\"n\":\"dev-1\",\"u\":\"W\"", "W")]
    [InlineData("\"bn\":\"urn:dev:ow:abc\",\"bu\":\"m/s\"", "m/s")]
    [InlineData("\"n\":\"te\\u006dp\"", "temp")]
    [InlineData("\"n\":\"a\\/b\"", "a/b")]
    public void Field_name_is_the_resolved_name_without_its_device_prefix(string name, string field)
        => Case($$"""[{{{name}},"v":1}]""", SenMl(Now).Float(field, 1));

    // ---- errors ----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"n":"a","v":1}""", "$: a SenML pack is a JSON array of records, found an object")]
    [InlineData("""[{"n":"a","v":1},2]""", "$[1]: expected a record (an object), found a number")]
    [InlineData("""[{"n":"a"}]""", "$[0]: the record has no value: give one of v, vs, vb or vd, or a sum s")]
    [InlineData("""[{"n":"a","v":1},{"bn":"x","bv":1}]""", "$[1]: the record has no value: give one of v, vs, vb or vd, or a sum s")]
    [InlineData("""[{"n":"a","v":1,"vs":"x"}]""", "$[0]: the record has 2 values (v and vs); a record carries exactly one of v, vs, vb or vd")]
    [InlineData("""[{"n":"a","vb":true,"vd":"AA","v":1}]""", "$[0]: the record has 3 values (v, vb, vd); a record carries exactly one of v, vs, vb or vd")]
    [InlineData("""[{"v":1}]""", "$[0]: the record has no name: give n, or a base name bn in this or an earlier record")]
    [InlineData("""[{"n":"","v":1}]""", "$[0].n: the record has no name: give n, or a base name bn in this or an earlier record")]
    [InlineData("""[{"n":"te mp","v":1}]""", "$[0].n: name \"te mp\" contains ' '; SenML names may only use A-Z a-z 0-9 - : . / _ (RFC 8428 §4.5.1)")]
    [InlineData("""[{"bn":"urn:dev:ow:1:","n":"température","v":1}]""", "$[0].n: name \"urn:dev:ow:1:température\" contains 'é'; SenML names may only use A-Z a-z 0-9 - : . / _ (RFC 8428 §4.5.1)")]
    [InlineData("""[{"bn":"a+","v":1}]""", "$[0]: name \"a+\" contains '+'; SenML names may only use A-Z a-z 0-9 - : . / _ (RFC 8428 §4.5.1)")]
    [InlineData("""[{"n":"a\u0001","v":1}]""", "$[0].n: name \"a\u0001\" contains byte 0x01; SenML names may only use A-Z a-z 0-9 - : . / _ (RFC 8428 §4.5.1)")]
    [InlineData("""[{"n":"-temp","v":1}]""", "$[0].n: name \"-temp\" must start with a letter or a digit (RFC 8428 §4.5.1)")]
    [InlineData("""[{"n":"/3303/0/5700","v":1}]""", "$[0].n: name \"/3303/0/5700\" must start with a letter or a digit (RFC 8428 §4.5.1)")]
    [InlineData("""[{"n":"time","v":1}]""", "$[0].n: the field name \"time\" is reserved for the time column; rename the sensor")]
    [InlineData("""[{"bn":"dev-1:","n":"Device","v":1}]""", "$[0].n: the field name \"Device\" is reserved for the device tag; rename the sensor")]
    [InlineData("""[{"n":"a","vd":"a b"}]""", "$[0].vd: \"a b\" is not base64 (RFC 8428 §4.3 uses the URL-safe alphabet, without padding)")]
    [InlineData("""[{"n":"a","vd":"abcde"}]""", "$[0].vd: \"abcde\" is not base64 (RFC 8428 §4.3 uses the URL-safe alphabet, without padding)")]
    [InlineData("""[{"n":"a","vd":"ab+-"}]""", "$[0].vd: \"ab+-\" is not base64 (RFC 8428 §4.3 uses the URL-safe alphabet, without padding)")]
    [InlineData("""[{"n":"a","vd":"abc=="}]""", "$[0].vd: \"abc==\" is not base64 (RFC 8428 §4.3 uses the URL-safe alphabet, without padding)")]
    [InlineData("""[{"n":"a","v":"12"}]""", "$[0].v: expected a number, found a string")]
    [InlineData("""[{"n":"a","vb":1}]""", "$[0].vb: expected true or false, found a number")]
    [InlineData("""[{"n":"a","vs":null}]""", "$[0].vs: expected a string, found null")]
    [InlineData("""[{"n":5,"v":1}]""", "$[0].n: expected a string, found a number")]
    [InlineData("""[{"n":"a","t":"now","v":1}]""", "$[0].t: expected a number of seconds, found a string")]
    [InlineData("""[{"n":"a","v":1e400}]""", "$[0].v: 1e400 is outside the 64-bit floating-point range")]
    [InlineData("""[{"bv":1e308,"n":"a","v":1e308}]""", "$[0].v: bv + v is outside the 64-bit floating-point range")]
    [InlineData("""[{"bs":-1e308,"n":"a","s":-1e308}]""", "$[0].s: bs + s is outside the 64-bit floating-point range")]
    [InlineData("""[{"n":"a","v":1,"t":1e10}]""", "$[0].t: 1e10 seconds is outside the supported range (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)")]
    [InlineData("""[{"bt":9223372036,"n":"a","v":1,"t":1}]""", "$[0]: the resolved time (bt + t, relative to the receive time below 2^28 s) is outside the supported range (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)")]
    [InlineData("""[{"n":"a","u":"C\u0000","v":1}]""", "$[0].u: units cannot contain control characters")]
    [InlineData("""[{"n":"a","vs":"\udfff"}]""", "$[0].vs: the string is not valid UTF-8 or has an escaped unpaired surrogate")]
    [InlineData("""[{"bver":11,"n":"a","v":1}]""", "$[0].bver: SenML version 11 is newer than the supported version 10")]
    [InlineData("""[{"bver":1.5,"n":"a","v":1}]""", "$[0].bver: expected a positive integer version, found 1.5")]
    [InlineData("""[{"bver":0,"n":"a","v":1}]""", "$[0].bver: expected a positive integer version, found 0")]
    [InlineData("""[{"bver":10,"n":"a","v":1},{"bver":5,"n":"b","v":1}]""", "$[1].bver: version 5 differs from version 10 earlier in the pack; all records of a pack have one version")]
    [InlineData("""[{"n":"a","v":1,"foo_":1}]""", "$[0]: label \"foo_\" ends with '_', so it must be understood, and it is not a label of RFC 8428 (§4.4)")]
    [InlineData("""[{"n":"a","v":1},]""", "invalid JSON at byte 17: The JSON array contains a trailing comma at the end which is not supported in this mode. Change the reader options.")]
    [InlineData("", "invalid JSON at byte 0: The input does not contain any JSON tokens. Expected the input to start with a valid JSON token, when isFinalBlock is true.")]
    public void Invalid_pack_is_rejected_with_the_record_label_and_reason(string json, string error)
        => Assert.Equal(error, Rejected(json));

    [Fact]
    public void Bad_record_late_in_a_pack_leaves_nothing_of_the_pack_in_the_batch()
    {
        var batch = new PointBatch(16);
        Assert.True(SenMlDecoder.TryDecode("""[{"n":"before","v":1}]"""u8, Options, batch, out _));
        int fields = batch.FieldValueCount;
        int text = batch.TextBytes;

        bool ok = SenMlDecoder.TryDecode("""[{"n":"a","v":1,"t":-2},{"n":"b","vs":"x","t":-1},{"n":"c","v":1},{"n":"d"}]"""u8, Options, batch, out IngestError error);

        Assert.False(ok);
        Assert.Equal(new IngestError(IngestErrorKind.Missing, "$[3]", 0, "the record has no value: give one of v, vs, vb or vd, or a sum s"), error);
        Assert.Equal("$[3]: the record has no value: give one of v, vs, vb or vd, or a sum s", error.ToString());
        Assert.Equal(1, batch.Count);
        Assert.Equal(fields, batch.FieldValueCount);
        Assert.Equal(text, batch.TextBytes);
    }

    [Fact]
    public void Without_a_device_id_the_point_has_no_tags_and_only_device_urns_are_stripped()
        => Run("""[{"n":"dev-1:a","v":1},{"n":"urn:dev:ow:1:b","v":2}]""", new SenMlOptions("m", null, 7))
            .AssertPoints(Point("m").Float("dev-1:a", 1).Float("b", 2).At(7));

    [Fact]
    public void Bad_measurement_from_the_topic_is_rejected()
        => Assert.Equal("the measurement name is empty", Run("""[{"n":"a","v":1}]""", new SenMlOptions("", Device, Now)).AssertError());
}
