using System.Text;
using Plexus.Core;
using Plexus.Ingest.Json;
using Plexus.Ingest.Tests.TestSupport;
using static Plexus.Ingest.Tests.TestSupport.ExpectedPoint;

namespace Plexus.Ingest.Tests.Json;

public sealed class JsonTelemetryDecoderTests
{
    private const string Measurement = "telemetry";
    private const string Device = "dev-1";

    private static readonly JsonTelemetryOptions Options = new(Measurement, Device, Decode.DefaultTime);

    private static DeviceDecodeResult Run(string json, JsonTelemetryOptions? options = null) => Run(Encoding.UTF8.GetBytes(json), options);

    private static DeviceDecodeResult Run(byte[] payload, JsonTelemetryOptions? options = null)
    {
        JsonTelemetryOptions chosen = options ?? Options;
        return DeviceDecode.Run(payload, (ReadOnlySpan<byte> bytes, PointBatch batch, out IngestError error) => JsonTelemetryDecoder.TryDecode(bytes, chosen, batch, out error));
    }

    private static void Case(string json, params ExpectedPoint[] points) => Run(json).AssertPoints(points);

    private static string Rejected(string json, JsonTelemetryOptions? options = null) => Run(json, options).AssertError();

    private static ExpectedPoint Telemetry() => Point(Measurement).Tag("device", Device);

    // ---- values ----------------------------------------------------------------------------------------------------

    [Fact]
    public void Object_of_fields_becomes_one_point_with_the_device_tag_and_the_default_time()
        => Case(
            """{"temp": 21.5, "on": true, "mode": "eco"}""",
            Telemetry().Float("temp", 21.5).Boolean("on", true).String("mode", "eco").At(Decode.DefaultTime));

    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("21", 21.0)]
    [InlineData("-1.5e3", -1500.0)]
    [InlineData("0.1", 0.1)]
    [InlineData("-0.0", -0.0)]
    [InlineData("1E-5", 0.00001)]
    [InlineData("12345678901234567890", 12345678901234567890.0)]
    [InlineData("1.7976931348623157e308", double.MaxValue)]
    public void Every_number_is_a_float_by_default(string number, double expected)
        => Case($$"""{"v": {{number}}}""", Telemetry().Float("v", expected));

    [Theory]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void Booleans_are_booleans(string literal, bool expected)
        => Case($$"""{"v": {{literal}}}""", Telemetry().Boolean("v", expected));

    [Theory]
    [InlineData(@"""eco""", "eco")]
    [InlineData(@"""""", "")]
    [InlineData(@"""caf\u00e9 \""q\"" a\\b\/c""", "café \"q\" a\\b/c")]
    [InlineData(@"""line\nbreak\ttab""", "line\nbreak\ttab")]
    [InlineData(@"""😀 \ud83d\ude00""", "😀 😀")]
    [InlineData(@"""ça va 温度""", "ça va 温度")]
    public void Strings_are_strings_unescaped(string literal, string expected)
        => Case($$"""{"v": {{literal}}}""", Telemetry().String("v", expected));

    [Theory]
    [InlineData("21", FieldType.Integer, 21L)]
    [InlineData("-0", FieldType.Integer, 0L)]
    [InlineData("-9223372036854775808", FieldType.Integer, long.MinValue)]
    [InlineData("9223372036854775807", FieldType.Integer, long.MaxValue)]
    [InlineData("9223372036854775808", FieldType.Float, 9223372036854775808.0)]
    [InlineData("21.0", FieldType.Float, 21.0)]
    [InlineData("2.1e1", FieldType.Float, 21.0)]
    [InlineData("21.5", FieldType.Float, 21.5)]
    public void With_integers_as_integers_only_integer_literals_that_fit_in_64_bits_are_integers(string number, FieldType type, object expected)
    {
        DecodedPoint point = Assert.Single(Run($$"""{"v": {{number}}}""", Options with { IntegersAsIntegers = true }).Points);
        DecodedField field = Assert.Single(point.Fields);
        Assert.Equal(type, field.Type);
        Assert.Equal(Convert.ToString(expected, System.Globalization.CultureInfo.InvariantCulture), DecodedField.Render(type, field.Value));
    }

    [Fact]
    public void Null_members_are_left_out()
        => Case("""{"a": null, "b": 1, "c": {"d": null}}""", Telemetry().Float("b", 1));

    [Fact]
    public void Null_after_a_value_of_the_same_name_leaves_that_value()
        => Case("""{"a": 1, "a": null}""", Telemetry().Float("a", 1));

    [Fact]
    public void Utf8_and_escaped_member_names_are_kept_unescaped()
        => Case(
            """{"温度": 1, "a\u0062": 2, "x y": 3, "k\"q": 4}""",
            Telemetry().Float("温度", 1).Float("ab", 2).Float("x y", 3).Float("k\"q", 4));

    [Fact]
    public void Without_a_device_id_the_point_has_no_tags()
        => Run("""{"v": 1}""", new JsonTelemetryOptions("m", null, 7)).AssertPoints(Point("m").Float("v", 1).At(7));

    [Fact]
    public void White_space_around_the_message_and_a_utf8_byte_order_mark_are_allowed()
    {
        byte[] payload = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(" \r\n\t{ \"v\" : 1 }\n ")];
        Run(payload).AssertPoints(Telemetry().Float("v", 1));
    }

    // ---- nesting ---------------------------------------------------------------------------------------------------

    [Fact]
    public void Nested_objects_are_flattened_with_underscores_in_the_order_written()
        => Case(
            """{"speed": 50, "engine": {"temp": 90, "oil": {"pressure": 3.2, "ok": true}}, "mode": "eco"}""",
            Telemetry().Float("speed", 50).Float("engine_temp", 90).Float("engine_oil_pressure", 3.2).Boolean("engine_oil_ok", true).String("mode", "eco"));

    [Fact]
    public void Eight_levels_of_objects_are_accepted_by_default()
        => Case(
            """{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}""",
            Telemetry().Float("a_b_c_d_e_f_g_h", 1));

    [Fact]
    public void An_empty_nested_object_adds_nothing()
        => Case("""{"a": {}, "b": 1}""", Telemetry().Float("b", 1));

    [Fact]
    public void Timestamp_names_inside_nested_objects_are_ordinary_fields()
        => Case(
            """{"gps": {"ts": 5, "time": "noon"}, "ts": 1000}""",
            Telemetry().Float("gps_ts", 5).String("gps_time", "noon").At(1_000_000_000));

    // ---- duplicates ------------------------------------------------------------------------------------------------

    [Fact]
    public void Duplicate_keys_keep_the_last_value()
        => Case("""{"a": 1, "b": 2, "a": 3}""", Telemetry().Float("b", 2).Float("a", 3));

    [Fact]
    public void Duplicate_key_may_change_the_type_and_the_last_one_wins()
        => Case("""{"a": 1, "a": "x", "a": false}""", Telemetry().Boolean("a", false));

    [Fact]
    public void A_flattened_name_equal_to_a_written_one_is_a_duplicate_and_the_last_wins()
        => Case("""{"engine_temp": 1, "engine": {"temp": 2}}""", Telemetry().Float("engine_temp", 2));

    [Fact]
    public void Duplicate_keys_among_many_fields_keep_the_last_values_in_order()
    {
        string fields = string.Join(", ", Enumerable.Range(0, 40).Select(i => $"\"f{i}\": {i}"));
        DecodedPoint point = Assert.Single(Run($$"""{ {{fields}}, "f5": 500, "f0": 100, "f5": 555 }""").Points);
        var expected = Enumerable.Range(0, 40).Where(i => i is not (0 or 5)).Select(i => $"f{i}").Concat(["f0", "f5"]);
        Assert.Equal(expected, point.Fields.Select(f => f.Key));
        Assert.Equal(100.0, point.Fields.Single(f => f.Key == "f0").Value);
        Assert.Equal(555.0, point.Fields.Single(f => f.Key == "f5").Value);
    }

    [Fact]
    public void Duplicate_timestamp_member_keeps_the_last_value()
        => Case("""{"ts": 1, "v": 1, "ts": 2}""", Telemetry().Float("v", 1).At(2_000_000));

    // ---- arrays of points ------------------------------------------------------------------------------------------

    [Fact]
    public void Array_of_objects_gives_one_point_each_numbered_from_one()
    {
        DeviceDecodeResult result = Run("""[{"temp": 1, "ts": 1700000000000}, {"temp": 2, "ts": 1700000001000}, {"hum": 40}]""");
        result.AssertPoints(
            Telemetry().Float("temp", 1).At(1_700_000_000_000_000_000),
            Telemetry().Float("temp", 2).At(1_700_000_001_000_000_000),
            Telemetry().Float("hum", 40).At(Decode.DefaultTime));
        Assert.Equal([1, 2, 3], result.Points.Select(p => p.Line));
    }

    [Fact]
    public void Empty_array_is_accepted_and_adds_nothing()
    {
        DeviceDecodeResult result = Run("[]");
        Assert.True(result.Ok);
        Assert.Empty(result.Points);
    }

    // ---- timestamps ------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("1700000000123", 1_700_000_000_123_000_000)]
    [InlineData("1700000000123.456789", 1_700_000_000_123_456_789)]
    [InlineData("1700000000123.4567894", 1_700_000_000_123_456_789)]
    [InlineData("1700000000123.4567895", 1_700_000_000_123_456_790)]
    [InlineData("1.700000000123e12", 1_700_000_000_123_000_000)]
    [InlineData("17000000001230E-1", 1_700_000_000_123_000_000)]
    [InlineData("0", 0)]
    [InlineData("-1000", -1_000_000_000)]
    [InlineData("-0.5", -500_000)]
    [InlineData("0.0000001", 0)]
    [InlineData("9223372036854.775807", long.MaxValue)]
    [InlineData("-9223372036854.775808", long.MinValue)]
    [InlineData(@"""2023-11-14T22:13:20Z""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-14T22:13:20.123Z""", 1_700_000_000_123_000_000)]
    [InlineData(@"""2023-11-14T22:13:20.123456789Z""", 1_700_000_000_123_456_789)]
    [InlineData(@"""2023-11-14T22:13:20,5Z""", 1_700_000_000_500_000_000)]
    [InlineData(@"""2023-11-14T23:13:20.5+01:00""", 1_700_000_000_500_000_000)]
    [InlineData(@"""2023-11-14T17:13:20-05:00""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-15T03:43:20+0530""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-14T23:13:20+01""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-14t22:13:20z""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-14 22:13:20Z""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-14T22:13:20-00:00""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2023-11-14T22:13:20\u005A""", 1_700_000_000_000_000_000)]
    [InlineData(@"""2024-02-29T00:00:00Z""", 1_709_164_800_000_000_000)]
    [InlineData(@"""2016-12-31T23:59:60Z""", 1_483_228_800_000_000_000)]
    [InlineData(@"""1970-01-01T00:00:00Z""", 0)]
    [InlineData(@"""1969-12-31T23:59:59.999999999Z""", -1)]
    [InlineData(@"""1677-09-21T00:12:43.145224192Z""", long.MinValue)]
    [InlineData(@"""2262-04-11T23:47:16.854775807Z""", long.MaxValue)]
    [InlineData("null", Decode.DefaultTime)]
    public void Ts_is_epoch_milliseconds_or_an_iso_8601_time(string value, long expected)
        => Case($$"""{"v": 1, "ts": {{value}}}""", Telemetry().Float("v", 1).At(expected));

    [Fact]
    public void Time_is_the_other_name_for_the_timestamp()
        => Case("""{"time": "2023-11-14T22:13:20Z", "v": 1}""", Telemetry().Float("v", 1).At(1_700_000_000_000_000_000));

    [Fact]
    public void Point_without_ts_or_time_gets_the_default_time()
        => Case("""{"v": 1}""", Telemetry().Float("v", 1).At(Decode.DefaultTime));

    // ---- errors ----------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("42", "$: expected an object of fields or an array of such objects, found a number")]
    [InlineData(@"""x""", "$: expected an object of fields or an array of such objects, found a string")]
    [InlineData("null", "$: expected an object of fields or an array of such objects, found null")]
    [InlineData("[1]", "$[0]: expected an object of fields, found a number")]
    [InlineData("""[{"a": 1}, [{"a": 1}]]""", "$[1]: expected an object of fields, found an array")]
    [InlineData("""{"a": [1, 2]}""", "$.a: arrays are not supported as field values; send an array of objects at the top level for several points, or give each value its own member")]
    [InlineData("""[{"a": 1}, {"a": 1}, {"engine": {"temp": [1]}}]""", "$[2].engine.temp: arrays are not supported as field values; send an array of objects at the top level for several points, or give each value its own member")]
    [InlineData("""{"a b": {"c'd": []}}""", @"$['a b']['c\'d']: arrays are not supported as field values; send an array of objects at the top level for several points, or give each value its own member")]
    [InlineData("""{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}""", "$.a.b.c.d.e.f.g.h: objects are nested more than 8 levels deep (MaxDepth)")]
    [InlineData("{}", "$: the point has no fields (every member is null, an empty object or the timestamp)")]
    [InlineData("""{"ts": 1}""", "$: the point has no fields (every member is null, an empty object or the timestamp)")]
    [InlineData("""{"a": null, "b": {}}""", "$: the point has no fields (every member is null, an empty object or the timestamp)")]
    [InlineData("""[{"a": 1}, {"b": null}]""", "$[1]: the point has no fields (every member is null, an empty object or the timestamp)")]
    [InlineData("""{"a": 1e400}""", "$.a: 1e400 is outside the 64-bit floating-point range")]
    [InlineData("""{"a": -1e309}""", "$.a: -1e309 is outside the 64-bit floating-point range")]
    [InlineData("""{"": 1}""", "$['']: empty member names are not supported")]
    [InlineData("""{"a": {"": 1}}""", "$.a['']: empty member names are not supported")]
    [InlineData("""{"a\u0001b": 1}""", @"$['a\u0001b']: member names cannot contain control characters")]
    [InlineData("""{"Time": 1}""", "$.Time: \"Time\" is reserved for the time column; send the timestamp as \"ts\" or \"time\" (lower case), or rename the member")]
    [InlineData("""{"TIME": 1}""", "$.TIME: \"TIME\" is reserved for the time column; send the timestamp as \"ts\" or \"time\" (lower case), or rename the member")]
    [InlineData("""{"device": "abc", "v": 1}""", "$.device: \"device\" is reserved for the device tag, which comes from the topic; rename the member")]
    [InlineData("""{"Device": 1}""", "$.Device: \"Device\" is reserved for the device tag, which comes from the topic; rename the member")]
    [InlineData("""{"a": "\ud800"}""", "$.a: the string is not valid UTF-8 or has an escaped unpaired surrogate")]
    [InlineData("""{"\udc00": 1}""", @"$['\\udc00']: the string is not valid UTF-8 or has an escaped unpaired surrogate")]
    public void Bad_message_is_rejected_with_the_path_and_the_reason(string json, string error)
        => Assert.Equal(error, Rejected(json));

    [Theory]
    [InlineData(@"""yesterday""", @"$.ts: ""yesterday"" is not epoch milliseconds or an ISO 8601 time (e.g. 1700000000000 or ""2023-11-14T22:13:20Z"")")]
    [InlineData(@"""1700000000000""", @"$.ts: ""1700000000000"" is not epoch milliseconds or an ISO 8601 time (e.g. 1700000000000 or ""2023-11-14T22:13:20Z"")")]
    [InlineData(@"""2023-11-14""", @"$.ts: ""2023-11-14"" is not epoch milliseconds or an ISO 8601 time (e.g. 1700000000000 or ""2023-11-14T22:13:20Z"")")]
    [InlineData(@"""2023-11-14T22:13:20.Z""", @"$.ts: ""2023-11-14T22:13:20.Z"" is not epoch milliseconds or an ISO 8601 time (e.g. 1700000000000 or ""2023-11-14T22:13:20Z"")")]
    [InlineData(@"""2023-11-14T22:13:20Z trailing""", @"$.ts: ""2023-11-14T22:13:20Z trailing"" is not epoch milliseconds or an ISO 8601 time (e.g. 1700000000000 or ""2023-11-14T22:13:20Z"")")]
    [InlineData(@"""2023-11-14T22:13:20""", @"$.ts: ""2023-11-14T22:13:20"" has no UTC offset; end it with Z or an offset such as +02:00")]
    [InlineData(@"""2023-02-29T00:00:00Z""", @"$.ts: ""2023-02-29T00:00:00Z"" is not a valid date and time")]
    [InlineData(@"""2023-11-14T24:00:00Z""", @"$.ts: ""2023-11-14T24:00:00Z"" is not a valid date and time")]
    [InlineData(@"""2023-11-14T22:13:20+24:00""", @"$.ts: ""2023-11-14T22:13:20+24:00"" is not a valid date and time")]
    [InlineData(@"""2023-11-14T22:13:20.1234567891Z""", @"$.ts: ""2023-11-14T22:13:20.1234567891Z"" has more than 9 fractional digits (nanoseconds are the finest unit)")]
    [InlineData(@"""2263-01-01T00:00:00Z""", @"$.ts: ""2263-01-01T00:00:00Z"" is outside the supported range (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)")]
    [InlineData("1e30", "$.ts: 1e30 milliseconds is outside the supported range (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)")]
    [InlineData("9223372036854.775808", "$.ts: 9223372036854.775808 milliseconds is outside the supported range (1677-09-21T00:12:43.145224192Z to 2262-04-11T23:47:16.854775807Z)")]
    [InlineData("true", "$.ts: expected epoch milliseconds (a number) or an ISO 8601 time (a string), found true")]
    [InlineData("""{"ms": 1}""", "$.ts: expected epoch milliseconds (a number) or an ISO 8601 time (a string), found an object")]
    public void Bad_timestamp_is_rejected_with_the_reason(string value, string error)
        => Assert.Equal(error, Rejected($$"""{"v": 1, "ts": {{value}}}"""));

    [Fact]
    public void Point_with_both_ts_and_time_is_rejected()
        => Assert.Equal("$[0].time: the point has both \"ts\" and \"time\"; send only one", Rejected("""[{"ts": 1, "v": 1, "time": 2}]"""));

    [Theory]
    [InlineData("", "invalid JSON at byte 0: The input does not contain any JSON tokens. Expected the input to start with a valid JSON token, when isFinalBlock is true.")]
    [InlineData("""{"a": 1,}""", "invalid JSON at byte 8: The JSON object contains a trailing comma at the end which is not supported in this mode. Change the reader options.")]
    [InlineData("""{"a": 1} x""", "invalid JSON at byte 9: 'x' is invalid after a single JSON value. Expected end of data.")]
    [InlineData("[{\"a\": 1},\n {\"b\": tru}]", "invalid JSON at byte 21: 'tru}]' is an invalid JSON literal. Expected the literal 'true'.")]
    [InlineData("""{"a": NaN}""", "invalid JSON at byte 6: 'N' is an invalid start of a value.")]
    [InlineData("""{"a": 1 // note""", "invalid JSON at byte 8: '/' is invalid after a value. Expected either ',', '}', or ']'.")]
    public void Invalid_json_is_rejected_with_the_byte_offset(string json, string error)
        => Assert.Equal(error, Rejected(json));

    [Fact]
    public void Truncated_array_is_rejected_and_its_complete_points_are_not_kept()
        => Assert.StartsWith("invalid JSON at byte ", Rejected("""[{"a": 1}, {"b": 2}, {"c": """));

    [Fact]
    public void Invalid_utf8_in_a_string_value_is_rejected()
    {
        byte[] payload = [.. "{\"v\": \""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.Equal("$.v: the string is not valid UTF-8 or has an escaped unpaired surrogate", Run(payload).AssertError());
    }

    [Fact]
    public void Invalid_utf8_in_a_member_name_is_rejected()
    {
        byte[] payload = [.. "[{\"a\": 1}, {\""u8, 0xFF, .. "\": 1}]"u8];
        Assert.Equal("$[1]['\uFFFD']: the string is not valid UTF-8 or has an escaped unpaired surrogate", Run(payload).AssertError());
    }

    [Fact]
    public void Bad_point_late_in_an_array_leaves_nothing_of_the_message_in_the_batch()
    {
        var batch = new PointBatch(16);
        Assert.True(JsonTelemetryDecoder.TryDecode("""{"before": 1}"""u8, Options, batch, out _));
        int fields = batch.FieldValueCount;
        int text = batch.TextBytes;

        bool ok = JsonTelemetryDecoder.TryDecode("""[{"a": 1}, {"b": "x"}, {"c": [3]}]"""u8, Options, batch, out IngestError error);

        Assert.False(ok);
        Assert.Equal(IngestErrorKind.Type, error.Kind);
        Assert.Equal("$[2].c", error.Path);
        Assert.StartsWith("$[2].c: arrays are not supported", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, batch.Count);
        Assert.Equal(fields, batch.FieldValueCount);
        Assert.Equal(text, batch.TextBytes);
        Assert.True(JsonTelemetryDecoder.TryDecode("""{"after": 2}"""u8, Options, batch, out _));
        Assert.Equal(["before", "after"], DecodedPoint.From(batch).Select(p => p.Fields.Single().Key));
    }

    [Fact]
    public void Max_depth_is_configurable()
    {
        JsonTelemetryOptions flat = Options with { MaxDepth = 1 };
        Run("""{"a": 1}""", flat).AssertPoints(Telemetry().Float("a", 1));
        Assert.Equal("$.a: objects are nested more than 1 level deep (MaxDepth)", Rejected("""{"a": {"b": 1}}""", flat));
    }

    [Fact]
    public void Objects_nested_far_beyond_max_depth_are_rejected_at_the_first_level_too_deep_not_as_invalid_json()
    {
        string json = string.Concat(Enumerable.Repeat("{\"a\": ", 200)) + "1" + new string('}', 200);
        Assert.Equal("$.a.a.a.a.a.a.a.a: objects are nested more than 8 levels deep (MaxDepth)", Rejected(json));
    }

    [Fact]
    public void Point_with_twenty_thousand_members_decodes_and_keeps_the_last_of_duplicates()
    {
        string members = string.Join(", ", Enumerable.Range(0, 20_000).Select(i => $"\"f{i % 15_000}\": {i}"));
        DecodedPoint point = Assert.Single(Run("{" + members + "}").Points);
        Assert.Equal(15_000, point.Fields.Count);
        Assert.Equal(19_999.0, point.Fields.Single(f => f.Key == "f4999").Value);
        Assert.Equal(5_000.0, point.Fields.Single(f => f.Key == "f5000").Value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    public void Max_depth_outside_1_to_64_is_a_programming_error(int depth)
        => Assert.Throws<ArgumentOutOfRangeException>(() => JsonTelemetryDecoder.TryDecode("{}"u8, Options with { MaxDepth = depth }, new PointBatch(), out _));

    [Theory]
    [InlineData("", Device, "the measurement name is empty")]
    [InlineData("a\nb", Device, "measurement \"a\nb\": names cannot contain control characters")]
    [InlineData(Measurement, "", "the device id is empty")]
    [InlineData(Measurement, "d\u0000", "device id \"d\u0000\": ids cannot contain control characters")]
    public void Bad_measurement_or_device_id_from_the_topic_is_rejected(string measurement, string device, string error)
        => Assert.Equal(error, Rejected("""{"v": 1}""", new JsonTelemetryOptions(measurement, device, 0)));
}
