using System.Text;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;
using Plexus.Ingest.Tests.TestSupport;
using static Plexus.Ingest.Tests.TestSupport.ExpectedPoint;

namespace Plexus.Ingest.Tests.LineProtocol;

public sealed class LineProtocolParserTests
{
    private static void Case(string input, params ExpectedPoint[] points)
    {
        DecodeResult result = Decode.Parse(input);
        Assert.True(result.Errors.Count == 0, $"unexpected errors: {string.Join("; ", result.ErrorTexts)}");
        Assert.Equal(points.Length, result.Points.Count);
        for (int i = 0; i < points.Length; i++)
        {
            points[i].AssertMatches(result.Points[i]);
        }
    }

    private static LineError Rejected(string input)
    {
        DecodeResult result = Decode.Parse(input);
        return result.SingleError();
    }

    // ---- the basic shape -------------------------------------------------------------------------------------

    [Fact]
    public void Full_line_decodes_measurement_tags_fields_and_timestamp()
        => Case(
            "weather,location=us-midwest,season=summer temperature=82,humidity=71i,raining=false,note=\"dry\" 1465839830100400200",
            Point("weather").Tag("location", "us-midwest").Tag("season", "summer")
                .Float("temperature", 82).Integer("humidity", 71).Boolean("raining", false).String("note", "dry")
                .At(1465839830100400200));

    [Fact]
    public void Line_without_timestamp_gets_the_default_time()
        => Case("cpu value=1", Point("cpu").Float("value", 1).At(Decode.DefaultTime));

    [Fact]
    public void Tags_come_out_sorted_by_key()
        => Case("cpu,zone=z,host=h,arch=a v=1", Point("cpu").Tag("arch", "a").Tag("host", "h").Tag("zone", "z").Float("v", 1));

    [Fact]
    public void Many_tags_in_reverse_order_come_out_sorted()
    {
        string tags = string.Join(",", Enumerable.Range(0, 40).Reverse().Select(i => $"t{i:D2}=v{i}"));
        DecodedPoint point = Decode.Parse($"m,{tags} v=1").Single();
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"t{i:D2}"), point.Tags.Select(t => t.Key));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => $"v{i}"), point.Tags.Select(t => t.Value));
    }

    [Fact]
    public void Fields_keep_their_written_order()
        => Case("m z=1,a=2,m=3", Point("m").Float("z", 1).Float("a", 2).Float("m", 3));

    [Fact]
    public void Duplicate_field_key_keeps_the_last_value()
        => Case("m a=1,b=2,a=3", Point("m").Float("b", 2).Float("a", 3));

    [Fact]
    public void Duplicate_field_key_may_change_the_type_and_the_last_one_wins()
        => Case("m a=1i,a=\"x\",a=true", Point("m").Boolean("a", true));

    [Fact]
    public void Duplicate_field_keys_among_many_fields_keep_the_last_values_in_order()
    {
        string fields = string.Join(",", Enumerable.Range(0, 40).Select(i => $"f{i}={i}"));
        DecodedPoint point = Decode.Parse($"m {fields},f5=500,f0=100,f5=555").Single();
        var expected = Enumerable.Range(0, 40).Where(i => i is not (0 or 5)).Select(i => $"f{i}").Concat(["f0", "f5"]);
        Assert.Equal(expected, point.Fields.Select(f => f.Key));
        Assert.Equal(100.0, point.Fields.Single(f => f.Key == "f0").Value);
        Assert.Equal(555.0, point.Fields.Single(f => f.Key == "f5").Value);
    }

    [Theory]
    [InlineData("cpu    value=1    17", 17)]
    [InlineData("cpu value=1 17   ", 17)]
    [InlineData("   cpu value=1", Decode.DefaultTime)]
    [InlineData("cpu value=1 ", Decode.DefaultTime)]
    public void Runs_of_spaces_between_sections_and_around_the_line_are_allowed(string input, long timestamp)
        => Case(input, Point("cpu").Float("value", 1).At(timestamp));

    [Fact]
    public void Utf8_names_and_values_are_kept_as_written()
        => Case("温度,ville=Zürich wert=21.5,note=\"ça va 👍\"", Point("温度").Tag("ville", "Zürich").Float("wert", 21.5).String("note", "ça va 👍"));

    [Fact]
    public void Control_characters_are_allowed_in_tag_values_and_string_values()
        => Case(
            "m,k=a\u0001b,n=\u0000x\u0000,t=a\tb v=\"x\u0002y\u0000\"",
            Point("m").Tag("k", "a\u0001b").Tag("n", "\u0000x\u0000").Tag("t", "a\tb").String("v", "x\u0002y\u0000"));

    // ---- escapes ---------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(@"c\,pu v=1", "c,pu")]
    [InlineData(@"c\ pu v=1", "c pu")]
    [InlineData(@"c\=pu v=1", @"c\=pu")]
    [InlineData(@"c\\pu v=1", @"c\\pu")]
    [InlineData(@"c\\,pu v=1", @"c\,pu")]
    [InlineData(@"c\pu v=1", @"c\pu")]
    [InlineData(@"cpu=load v=1", "cpu=load")]
    [InlineData("\"cpu\" v=1", "\"cpu\"")]
    [InlineData(@"\, v=1", ",")]
    [InlineData(@"#cpu v=1", null)]
    public void Measurement_escapes_comma_and_space_only(string input, string? measurement)
    {
        if (measurement is null)
        {
            // A leading '#' makes a comment, never a measurement.
            Assert.Empty(Decode.Parse(input).Points);
            return;
        }

        Assert.Equal(measurement, Decode.Parse(input).Single().Measurement);
    }

    [Theory]
    [InlineData(@"m,a\,b=c v=1", "a,b", "c")]
    [InlineData(@"m,a\=b=c v=1", "a=b", "c")]
    [InlineData(@"m,a\ b=c v=1", "a b", "c")]
    [InlineData(@"m,a\b=c v=1", @"a\b", "c")]
    [InlineData(@"m,a\\=c v=1", @"a\=c", null)]
    [InlineData(@"m,k=b\,c v=1", "k", "b,c")]
    [InlineData(@"m,k=b\=c v=1", "k", "b=c")]
    [InlineData(@"m,k=b\ c v=1", "k", "b c")]
    [InlineData(@"m,k=b\\c v=1", "k", @"b\\c")]
    [InlineData(@"m,k=b\\ c v=1", "k", @"b\ c")]
    [InlineData(@"m,k=b\c v=1", "k", @"b\c")]
    [InlineData(@"m,k=\, v=1", "k", ",")]
    [InlineData(@"m,k=\  v=1", "k", " ")]
    [InlineData("m,k=\"q\" v=1", "k", "\"q\"")]
    [InlineData(@"m,\ =x v=1", " ", "x")]
    public void Tag_keys_and_values_escape_comma_equals_and_space(string input, string key, string? value)
    {
        DecodeResult result = Decode.Parse(input);
        if (value is null)
        {
            // m,a\\=c: the first backslash is literal, the second escapes '=', so the key never ends.
            Assert.Contains("missing '='", result.SingleError().Reason, StringComparison.Ordinal);
            return;
        }

        (string Key, string Value) tag = Assert.Single(result.Single().Tags);
        Assert.Equal(key, tag.Key);
        Assert.Equal(value, tag.Value);
    }

    [Theory]
    [InlineData(@"m a\,b=1", "a,b")]
    [InlineData(@"m a\=b=1", "a=b")]
    [InlineData(@"m a\ b=1", "a b")]
    [InlineData(@"m a\b=1", @"a\b")]
    [InlineData(@"m a\\b=1", @"a\\b")]
    [InlineData("m \"a\"=1", "\"a\"")]
    [InlineData(@"m a\ =1", "a ")]
    public void Field_keys_escape_comma_equals_and_space(string input, string key)
        => Assert.Equal(key, Assert.Single(Decode.Parse(input).Single().Fields).Key);

    [Theory]
    [InlineData(@"m s=""a\""b""", "a\"b")]
    [InlineData(@"m s=""a\\b""", @"a\b")]
    [InlineData(@"m s=""a\\\""b""", "a\\\"b")]
    [InlineData(@"m s=""a\\""", @"a\")]
    [InlineData(@"m s=""a\nb""", @"a\nb")]
    [InlineData(@"m s=""a\tb""", @"a\tb")]
    [InlineData(@"m s=""a\,b""", @"a\,b")]
    [InlineData(@"m s=""a,b c=d""", "a,b c=d")]
    [InlineData(@"m s=""""", "")]
    [InlineData(@"m s="" """, " ")]
    [InlineData("m s=\"line1\nline2\"", "line1\nline2")]
    [InlineData("m s=\"cr\r\"", "cr\r")]
    public void String_values_escape_quote_and_backslash_only(string input, string value)
        => Assert.Equal(value, Assert.Single(Decode.Parse(input).Single().Fields).Value);

    // ---- value types and boundaries --------------------------------------------------------------------------

    [Theory]
    [InlineData("1", 1.0)]
    [InlineData("-1.5", -1.5)]
    [InlineData("1.", 1.0)]
    [InlineData(".5", 0.5)]
    [InlineData("-.5", -0.5)]
    [InlineData("0", 0.0)]
    [InlineData("00012.5", 12.5)]
    [InlineData("1e4", 1e4)]
    [InlineData("1E4", 1e4)]
    [InlineData("1e-4", 1e-4)]
    [InlineData("1.5e+10", 1.5e10)]
    [InlineData("-1.5E+10", -1.5e10)]
    [InlineData("1e-400", 0.0)]
    [InlineData("0.1", 0.1)]
    [InlineData("72.45", 72.45)]
    [InlineData("1.7976931348623157e308", double.MaxValue)]
    [InlineData("-1.7976931348623157e308", double.MinValue)]
    [InlineData("4.9406564584124654e-324", double.Epsilon)]
    [InlineData("123456789012345678901234567890", 1.2345678901234568E+29)]
    [InlineData("9007199254740993", 9007199254740992.0)]
    public void Float_values_parse_to_the_nearest_double(string token, double expected)
    {
        DecodedField field = Assert.Single(Decode.Parse($"m v={token}").Single().Fields);
        Assert.Equal(FieldType.Float, field.Type);
        Assert.Equal(expected, (double)field.Value);
    }

    [Fact]
    public void Negative_zero_float_keeps_its_sign()
    {
        double value = (double)Assert.Single(Decode.Parse("m v=-0.0").Single().Fields).Value;
        Assert.True(double.IsNegative(value) && value == 0);
    }

    [Fact]
    public void Float_parsing_agrees_with_the_runtime_on_random_values()
    {
        var random = new Random(20240611);
        var text = new StringBuilder();
        var expected = new List<double>();
        for (int i = 0; i < 5000; i++)
        {
            double value = (i % 4) switch
            {
                0 => BitConverter.Int64BitsToDouble(random.NextInt64()),
                1 => Math.Round((random.NextDouble() - 0.5) * 2000, random.Next(0, 8)),
                2 => random.NextDouble() * Math.Pow(10, random.Next(-30, 30)),
                _ => random.Next(-100000, 100000) / 100.0,
            };
            if (!double.IsFinite(value))
            {
                continue;
            }

            string token = (i % 3) switch
            {
                0 => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                1 => value.ToString("E10", System.Globalization.CultureInfo.InvariantCulture),
                _ => value.ToString("F6", System.Globalization.CultureInfo.InvariantCulture),
            };
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"m v={token}\n");
            expected.Add(double.Parse(token, System.Globalization.CultureInfo.InvariantCulture));
        }

        DecodeResult result = Decode.Parse(text.ToString());
        Assert.Empty(result.Errors);
        Assert.Equal(expected, result.Points.Select(p => (double)p.Fields[0].Value));
    }

    [Theory]
    [InlineData("1i", 1L)]
    [InlineData("-1i", -1L)]
    [InlineData("0i", 0L)]
    [InlineData("-0i", 0L)]
    [InlineData("0009i", 9L)]
    [InlineData("9223372036854775807i", long.MaxValue)]
    [InlineData("-9223372036854775808i", long.MinValue)]
    [InlineData("-0009223372036854775808i", long.MinValue)]
    public void Integer_values_cover_the_signed_64_bit_range(string token, long expected)
    {
        DecodedField field = Assert.Single(Decode.Parse($"m v={token}").Single().Fields);
        Assert.Equal(FieldType.Integer, field.Type);
        Assert.Equal(expected, (long)field.Value);
    }

    [Theory]
    [InlineData("0u", 0UL)]
    [InlineData("42u", 42UL)]
    [InlineData("0000u", 0UL)]
    [InlineData("18446744073709551615u", ulong.MaxValue)]
    [InlineData("00018446744073709551615u", ulong.MaxValue)]
    public void Unsigned_values_cover_the_unsigned_64_bit_range(string token, ulong expected)
    {
        DecodedField field = Assert.Single(Decode.Parse($"m v={token}").Single().Fields);
        Assert.Equal(FieldType.UInteger, field.Type);
        Assert.Equal(expected, (ulong)field.Value);
    }

    [Theory]
    [InlineData("t", true)]
    [InlineData("T", true)]
    [InlineData("true", true)]
    [InlineData("True", true)]
    [InlineData("TRUE", true)]
    [InlineData("f", false)]
    [InlineData("F", false)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("FALSE", false)]
    public void Boolean_values_accept_the_ten_spellings(string token, bool expected)
    {
        DecodedField field = Assert.Single(Decode.Parse($"m v={token}").Single().Fields);
        Assert.Equal(FieldType.Boolean, field.Type);
        Assert.Equal(expected, (bool)field.Value);
    }

    [Theory]
    [InlineData("9223372036854775808i", "integer value \"9223372036854775808i\" is out of the 64-bit signed range")]
    [InlineData("-9223372036854775809i", "integer value \"-9223372036854775809i\" is out of the 64-bit signed range")]
    [InlineData("99999999999999999999999i", "is out of the 64-bit signed range")]
    [InlineData("18446744073709551616u", "unsigned value \"18446744073709551616u\" is out of the 64-bit unsigned range")]
    [InlineData("-1u", "invalid unsigned value \"-1u\"")]
    [InlineData("+1u", "invalid unsigned value \"+1u\"")]
    [InlineData("1.0i", "invalid integer value \"1.0i\"")]
    [InlineData("9e10i", "invalid integer value \"9e10i\"")]
    [InlineData("+1i", "invalid integer value \"+1i\"")]
    [InlineData("1ii", "invalid integer value \"1ii\"")]
    [InlineData("i", "invalid value \"i\"; string values must be in double quotes")]
    [InlineData("-i", "invalid integer value \"-i\"")]
    [InlineData("u", "invalid value \"u\"; string values must be in double quotes")]
    [InlineData("1e309", "float value \"1e309\" is out of the 64-bit floating-point range")]
    [InlineData("-1e309", "float value \"-1e309\" is out of the 64-bit floating-point range")]
    [InlineData("1.2.3", "invalid float value \"1.2.3\"")]
    [InlineData("1..2", "invalid float value \"1..2\"")]
    [InlineData(".", "invalid float value \".\"")]
    [InlineData("-", "invalid float value \"-\"")]
    [InlineData("-.", "invalid float value \"-.\"")]
    [InlineData("1e", "invalid float value \"1e\"")]
    [InlineData("1e+", "invalid float value \"1e+\"")]
    [InlineData("0x10", "invalid float value \"0x10\"")]
    [InlineData("1_000", "invalid float value \"1_000\"")]
    [InlineData("--1", "invalid float value \"--1\"")]
    [InlineData("42+3", "invalid float value \"42+3\"")]
    [InlineData("+1", "invalid float value \"+1\"")]
    [InlineData("+Inf", "\"+Inf\" is not supported")]
    [InlineData("NaN", "\"NaN\" is not supported: NaN and infinite values are rejected")]
    [InlineData("nan", "\"nan\" is not supported")]
    [InlineData("Inf", "\"Inf\" is not supported")]
    [InlineData("-Inf", "\"-Inf\" is not supported")]
    [InlineData("infinity", "\"infinity\" is not supported")]
    [InlineData("tru", "invalid boolean value \"tru\"")]
    [InlineData("yes", "invalid value \"yes\"; string values must be in double quotes")]
    [InlineData("hello", "invalid value \"hello\"; string values must be in double quotes")]
    public void Out_of_range_and_malformed_values_are_rejected_with_the_field_and_value_named(string token, string reason)
    {
        LineError error = Rejected($"m v={token}");
        Assert.StartsWith("field \"v\": ", error.Reason, StringComparison.Ordinal);
        Assert.Contains(reason, error.Reason, StringComparison.Ordinal);
        Assert.EndsWith("at column 5", error.Reason, StringComparison.Ordinal);
    }

    // ---- bad lines -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("cpu", "missing field set (a point needs at least one field, e.g. value=1) at column 4")]
    [InlineData("cpu ", "missing field set")]
    [InlineData("cpu,host=a", "missing field set")]
    [InlineData("cpu,host=a ", "missing field set")]
    [InlineData("cpu,host=a\r", "missing field set")]
    [InlineData(@"cpu\ v=1", "missing field set")]
    [InlineData("cpu value", "field \"value\": missing '=' and value at column 10")]
    [InlineData("cpu value 1", "field \"value\": missing '=' and value")]
    [InlineData("cpu value=", "field \"value\": missing value at column 11")]
    [InlineData("cpu value= 1", "field \"value\": missing value")]
    [InlineData("cpu value=,x=1", "field \"value\": missing value")]
    [InlineData("cpu value=1,", "missing field key after ','")]
    [InlineData("cpu value=1, x=2", "missing field key after ','")]
    [InlineData("cpu value=1,,x=2", "missing field key after ','")]
    [InlineData("cpu =1", "missing field key before '=' at column 5")]
    [InlineData("cpu,host v=1", "tag \"host\": missing '=' after the key at column 9")]
    [InlineData("cpu,host", "tag \"host\": missing '=' after the key")]
    [InlineData("cpu,host= v=1", "tag \"host\": missing value at column 10")]
    [InlineData("cpu,host=,a=b v=1", "tag \"host\": missing value")]
    [InlineData("cpu,host== v=1", "tag \"host\": missing value")]
    [InlineData("cpu,=a v=1", "missing tag key after ','")]
    [InlineData("cpu, v=1", "missing tag key after ','")]
    [InlineData("cpu,", "missing tag key after ','")]
    [InlineData("cpu,,a=b v=1", "missing tag key after ','")]
    [InlineData("cpu,b=x,a=b,c=y,a=c v=1", "duplicate tag \"a\"")]
    [InlineData("cpu,a=b,a=b v=1", "duplicate tag \"a\"")]
    [InlineData(@"cpu,a\ b=1,a\ b=2 v=1", "duplicate tag \"a b\"")]
    [InlineData("cpu,a=b=c v=1", @"tag ""a"": unescaped '=' after value ""b""; write it as \= at column 8")]
    [InlineData("cpu,time=x v=1", "tag \"time\": the key \"time\" is reserved for the timestamp; rename the tag")]
    [InlineData("cpu time=1", "field \"time\": the key \"time\" is reserved for the timestamp; rename the field")]
    [InlineData("cpu a=1,time=1", "field \"time\": the key \"time\" is reserved")]
    [InlineData("cpu s=\"abc", "field \"s\": string value has no closing '\"' at column 7")]
    [InlineData("cpu s=\"abc\\\"", "field \"s\": string value has no closing '\"'")]
    [InlineData("cpu s=\"abc\"x", "field \"s\": unexpected 'x' after the value at column 12")]
    [InlineData("cpu s=\"abc\"\"", "field \"s\": unexpected '\"' after the value; escape quotes inside strings as \\\"")]
    [InlineData("cpu s=\"a\"=1", "field \"s\": unexpected '=' after the value")]
    [InlineData("cpu v=1\rcpu v=2", "field \"v\": unexpected a carriage return (0x0D) after the value")]
    [InlineData("cpu v=1 x", "timestamp \"x\" is not an integer at column 9")]
    [InlineData("cpu v=1 1.5", "timestamp \"1.5\" is not an integer")]
    [InlineData("cpu v=1 -", "timestamp \"-\" is not an integer")]
    [InlineData("cpu v=1 +1", "timestamp \"+1\" is not an integer")]
    [InlineData("cpu v=1 1-", "timestamp \"1-\" is not an integer")]
    [InlineData(@"cpu v=1 0\", @"timestamp ""0\"" is not an integer")]
    [InlineData("cpu v=1 9223372036854775808", "timestamp \"9223372036854775808\" is out of the 64-bit range")]
    [InlineData("cpu v=1 -9223372036854775809", "timestamp \"-9223372036854775809\" is out of the 64-bit range")]
    [InlineData("cpu v=1 123 456", "unexpected text \"456\" after the timestamp at column 13")]
    [InlineData("cpu v=1 123 456 789", "unexpected text \"456\" after the timestamp")]
    [InlineData("\tcpu v=1", "measurement name cannot start with a tab (0x09) at column 1")]
    [InlineData("\rcpu v=1", "measurement name cannot start with a carriage return (0x0D)")]
    [InlineData(",cpu v=1", "missing measurement name before ','")]
    [InlineData("cpu\u000bx v=1", "measurement \"cpu\": names cannot contain control character 0x0B at column 4")]
    [InlineData("cpu\tv=1", "measurement \"cpu\": names cannot contain a tab (0x09)")]
    [InlineData("cpu,a\u0001b=c v=1", "tag \"a\": keys cannot contain control character 0x01 at column 6")]
    [InlineData("cpu,\u0001=c v=1", "tag key cannot start with control character 0x01")]
    [InlineData("cpu a\u0001b=1", "field \"a\": keys cannot contain control character 0x01")]
    [InlineData("cpu \u0001=1", "field key cannot start with control character 0x01")]
    [InlineData("cpu\u00a0v=1", "missing field set")]
    [InlineData("# bell \u0007", "comment contains control character 0x07 at column 8")]
    public void Bad_line_is_rejected_with_a_reason_that_names_the_problem(string input, string reason)
        => Assert.Contains(reason, Rejected(input).Reason, StringComparison.Ordinal);

    [Theory]
    [InlineData(new byte[] { (byte)'b', 0xFF, (byte)' ', (byte)'v', (byte)'=', (byte)'1' }, "invalid UTF-8 (byte 0xFF) at column 2")]
    [InlineData(new byte[] { (byte)'m', (byte)',', (byte)'k', (byte)'=', 0xC3, (byte)' ', (byte)'v', (byte)'=', (byte)'1' }, "invalid UTF-8 (byte 0xC3) at column 5")]
    [InlineData(new byte[] { (byte)'m', (byte)' ', 0xE2, 0x82, (byte)'=', (byte)'1' }, "invalid UTF-8 (byte 0xE2) at column 3")]
    [InlineData(new byte[] { (byte)'m', (byte)' ', (byte)'s', (byte)'=', (byte)'"', 0xED, 0xA0, 0x80, (byte)'"' }, "invalid UTF-8 (byte 0xED) at column 6")]
    public void Invalid_utf8_anywhere_in_a_line_is_rejected(byte[] input, string reason)
    {
        DecodeResult result = Decode.Parse(input);
        Assert.Equal(reason, result.SingleError().Reason);
    }

    [Fact]
    public void Error_text_is_the_line_without_its_line_ending()
    {
        LineError error = Decode.Parse("ok v=1\r\nbad v=x\r\nok v=2\r\n").Errors.Single();
        Assert.Equal(new LineError(2, "bad v=x", "field \"v\": invalid value \"x\"; string values must be in double quotes at column 7"), error);
    }

    [Fact]
    public void Long_bad_line_is_quoted_as_a_shortened_excerpt()
    {
        string line = "m v=" + new string('x', 500);
        LineError error = Rejected(line);
        Assert.Equal(LineError.MaxTextLength + 1, error.Text.Length);
        Assert.EndsWith("…", error.Text, StringComparison.Ordinal);
        Assert.Contains("\"xxxx", error.Reason, StringComparison.Ordinal);
        Assert.True(error.Reason.Length < 200, error.Reason);
    }

    [Fact]
    public void Line_with_missing_field_value_is_rejected_with_line_number()
    {
        DecodeResult result = Decode.Parse("cpu v=1\ncpu v=\ncpu v=3\n");
        LineError error = Assert.Single(result.Errors);
        Assert.Equal(2, error.Line);
        Assert.Equal("cpu v=", error.Text);
        Assert.Equal("field \"v\": missing value at column 7", error.Reason);
    }

    // ---- precision -------------------------------------------------------------------------------------------

    [Theory]
    [InlineData(TimePrecision.Nanoseconds, "1", 1L)]
    [InlineData(TimePrecision.Microseconds, "1", 1_000L)]
    [InlineData(TimePrecision.Milliseconds, "1", 1_000_000L)]
    [InlineData(TimePrecision.Seconds, "1", 1_000_000_000L)]
    [InlineData(TimePrecision.Seconds, "-1", -1_000_000_000L)]
    [InlineData(TimePrecision.Seconds, "0", 0L)]
    [InlineData(TimePrecision.Nanoseconds, "9223372036854775807", long.MaxValue)]
    [InlineData(TimePrecision.Nanoseconds, "-9223372036854775808", long.MinValue)]
    [InlineData(TimePrecision.Microseconds, "9223372036854775", 9_223_372_036_854_775_000L)]
    [InlineData(TimePrecision.Milliseconds, "9223372036854", 9_223_372_036_854_000_000L)]
    [InlineData(TimePrecision.Seconds, "9223372036", 9_223_372_036_000_000_000L)]
    [InlineData(TimePrecision.Seconds, "-9223372036", -9_223_372_036_000_000_000L)]
    public void Timestamp_is_scaled_to_nanoseconds_by_precision(TimePrecision precision, string timestamp, long expected)
        => Assert.Equal(expected, Decode.Parse($"m v=1 {timestamp}", precision).Single().Timestamp);

    [Theory]
    [InlineData(TimePrecision.Microseconds, "9223372036854776", "us")]
    [InlineData(TimePrecision.Milliseconds, "9223372036855", "ms")]
    [InlineData(TimePrecision.Seconds, "9223372037", "s")]
    [InlineData(TimePrecision.Seconds, "-9223372037", "s")]
    public void Timestamp_that_overflows_nanoseconds_at_its_precision_is_rejected(TimePrecision precision, string timestamp, string unit)
    {
        DecodeResult result = Decode.Parse($"m v=1 {timestamp}", precision);
        Assert.Equal($"timestamp \"{timestamp}\" at precision {unit} does not fit in 64-bit nanoseconds at column 7", result.SingleError().Reason);
    }

    [Theory]
    [InlineData(TimePrecision.Nanoseconds, 1_700_000_000_123_456_789L, 1_700_000_000_123_456_789L)]
    [InlineData(TimePrecision.Microseconds, 1_700_000_000_123_456_789L, 1_700_000_000_123_456_000L)]
    [InlineData(TimePrecision.Milliseconds, 1_700_000_000_123_456_789L, 1_700_000_000_123_000_000L)]
    [InlineData(TimePrecision.Seconds, 1_700_000_000_123_456_789L, 1_700_000_000_000_000_000L)]
    [InlineData(TimePrecision.Seconds, -1L, -1_000_000_000L)]
    [InlineData(TimePrecision.Seconds, long.MinValue, -9_223_372_036_000_000_000L)]
    public void Default_time_is_cut_to_the_precision_the_client_writes_in(TimePrecision precision, long defaultTime, long expected)
        => Assert.Equal(expected, Decode.Parse("m v=1", precision, defaultTime).Single().Timestamp);

    // ---- comments, blank lines, line endings -----------------------------------------------------------------

    [Fact]
    public void Comments_and_blank_lines_count_as_lines_but_make_no_points()
    {
        DecodeResult result = Decode.Parse("# header\ncpu v=1\n\n   \n  # indented comment\r\n\r\ncpu v=2\n#last");
        Assert.Empty(result.Errors);
        Assert.Equal([2, 7], result.Points.Select(p => p.Line));
        Assert.Equal(8, result.Lines);
    }

    [Theory]
    [InlineData("cpu v=1\r\n")]
    [InlineData("cpu v=1 5\r\n")]
    [InlineData("cpu v=1 5 \r\n")]
    [InlineData("cpu v=1\r")]
    [InlineData("cpu s=\"x\"\r\n")]
    [InlineData("cpu b=t\r\n")]
    public void Crlf_line_endings_are_accepted(string input)
    {
        DecodedPoint point = Decode.Parse(input).Single();
        Assert.Equal("cpu", point.Measurement);
    }

    [Theory]
    [InlineData("", 0)]
    [InlineData("\n", 1)]
    [InlineData("\n\n\n", 3)]
    [InlineData("\r\n\r\n", 2)]
    [InlineData("   ", 1)]
    [InlineData("cpu v=1", 1)]
    [InlineData("cpu v=1\n", 1)]
    [InlineData("cpu v=1\ncpu v=2", 2)]
    [InlineData("# only a comment", 1)]
    [InlineData("bad\nbad\n", 2)]
    public void Parse_returns_the_number_of_physical_lines_consumed(string input, int lines)
        => Assert.Equal(lines, Decode.Parse(input).Lines);

    [Fact]
    public void String_with_newlines_spans_physical_lines_and_numbering_continues_after_it()
    {
        DecodeResult result = Decode.Parse("m s=\"one\ntwo\nthree\"\nm v=2\n");
        Assert.Empty(result.Errors);
        Assert.Equal([1, 4], result.Points.Select(p => p.Line));
        Assert.Equal("one\ntwo\nthree", result.Points[0].Fields[0].Value);
        Assert.Equal(4, result.Lines);
    }

    [Fact]
    public void Error_after_a_multi_line_string_names_the_physical_line_and_column()
    {
        DecodeResult result = Decode.Parse("m s=\"a\nbc\" x\nm v=2\n");
        LineError error = Assert.Single(result.Errors);
        Assert.Equal(1, error.Line);
        Assert.Equal("timestamp \"x\" is not an integer at line 2, column 5", error.Reason);
        Assert.Equal(3, Assert.Single(result.Points).Line);
    }

    [Fact]
    public void Unterminated_string_is_rejected_and_decoding_resumes_on_the_next_line()
    {
        DecodeResult result = Decode.Parse("m s=\"oops\nm v=2\n");
        Assert.Equal(1, Assert.Single(result.Errors).Line);
        Assert.Equal(2, Assert.Single(result.Points).Line);
        Assert.Equal(2, result.Lines);
    }

    // ---- partial batches -------------------------------------------------------------------------------------

    [Fact]
    public void Good_lines_are_kept_and_bad_lines_reported_with_their_line_numbers()
    {
        DecodeResult result = Decode.Parse(
            "cpu,host=a v=1 1\n" +
            "cpu,host=b v= 2\n" +
            "\n" +
            "cpu,host=c v=3 3\n" +
            "cpu,host=d,host=e v=4 4\n" +
            "# comment\n" +
            "cpu,host=f v=5,w=\"x\" 5\n" +
            "cpu,host=g v=NaN 6\n" +
            "cpu,host=h v=7 7");

        Assert.Equal(
            [(1, "a"), (4, "c"), (7, "f"), (9, "h")],
            result.Points.Select(p => (p.Line, p.Tags[0].Value)));
        Assert.Equal([2, 5, 8], result.Errors.Select(e => e.Line));
        Assert.Equal(3, result.ErrorCount);
        Assert.Equal(9, result.Lines);
    }

    [Fact]
    public void A_bad_line_leaves_no_partial_point_or_text_behind()
    {
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();
        var options = new LineProtocolOptions(TimePrecision.Nanoseconds, 0);

        LineProtocolParser.Parse("good,t=x v=1 1\n"u8, 1, options, batch, errors);
        int textAfterGood = batch.TextBytes;
        int fieldsAfterGood = batch.FieldValueCount;

        LineProtocolParser.Parse("bad,t=verylongvalue a=1,b=2,c=3,d=oops 2\n"u8, 2, options, batch, errors);

        Assert.Equal(1, batch.Count);
        Assert.Equal(textAfterGood, batch.TextBytes);
        Assert.Equal(fieldsAfterGood, batch.FieldValueCount);
        Assert.Equal(1, errors.Count);
    }

    [Fact]
    public void First_line_number_carries_numbering_across_calls()
    {
        DecodeResult result = Decode.Parse("cpu v=1\nbad\n", firstLine: 41);
        Assert.Equal(41, result.Points[0].Line);
        Assert.Equal(42, result.Errors[0].Line);
    }

    [Fact]
    public void Only_the_first_errors_are_kept_but_all_are_counted()
    {
        var batch = new PointBatch(16);
        var errors = new LineErrorSink(capacity: 3);
        byte[] input = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("bad\ncpu v=1\n", 10)));
        for (int run = 0; run < 2; run++)
        {
            batch.Reset();
            errors.Reset();
            LineProtocolParser.Parse(input, 1, new LineProtocolOptions(TimePrecision.Nanoseconds, 0), batch, errors);

            Assert.Equal(10, errors.Count);
            Assert.Equal([1, 3, 5], errors.Errors.Select(e => e.Line));
            Assert.True(errors.IsTruncated);
            Assert.Equal(10, batch.Count);
        }
    }

    // ---- incremental use -------------------------------------------------------------------------------------

    [Theory]
    [InlineData("cpu v=1\ncpu v=2", 8, 1, 1)]
    [InlineData("cpu v=1\ncpu v=2\n", 16, 2, 2)]
    [InlineData("cpu v=1\ncpu v=", 8, 1, 1)]
    [InlineData("cpu v=1\n# comm", 8, 1, 1)]
    [InlineData("cpu v=1\n   ", 8, 1, 1)]
    [InlineData("cpu v=1\r", 0, 0, 0)]
    [InlineData("cpu v=1 12", 0, 0, 0)]
    [InlineData("cpu,a\\", 0, 0, 0)]
    [InlineData("cpu s=\"a\nb", 0, 0, 0)]
    [InlineData("cpu s=\"a\nb\"\n", 12, 2, 1)]
    [InlineData("bad\nbad", 4, 1, 1)]
    public void Block_that_is_not_final_leaves_its_unterminated_entry_unconsumed(string input, int consumed, int lines, int entries)
    {
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();
        for (int run = 0; run < 2; run++)
        {
            batch.Reset();
            errors.Reset();
            int parsedLines = LineProtocolParser.Parse(
                Encoding.UTF8.GetBytes(input), isFinalBlock: false, 1, new LineProtocolOptions(TimePrecision.Nanoseconds, 0), batch, errors, out int bytesConsumed);

            Assert.Equal(consumed, bytesConsumed);
            Assert.Equal(lines, parsedLines);
            Assert.Equal(entries, batch.Count + errors.Count);
        }
    }

    // ---- one message, one unit (MQTT) ------------------------------------------------------------------------

    [Fact]
    public void TryDecode_adds_every_point_of_a_good_message_after_what_the_batch_held()
    {
        var batch = new PointBatch(16);
        var options = new LineProtocolOptions(TimePrecision.Nanoseconds, Decode.DefaultTime);
        Assert.True(LineProtocolParser.TryDecode("before v=0 1"u8, options, batch, out _));

        Assert.True(LineProtocolParser.TryDecode("cpu,host=a v=1 2\n# a comment\n\ncpu v=2i"u8, options, batch, out IngestError error, out int rejected));

        Assert.Equal(default, error);
        Assert.Equal(0, rejected);
        Assert.Equal(["before", "cpu", "cpu"], DecodedPoint.From(batch).Select(p => p.Measurement));
    }

    [Fact]
    public void TryDecode_of_a_message_with_bad_lines_adds_none_of_its_points_and_names_the_first_bad_line()
    {
        var batch = new PointBatch(16);
        var options = new LineProtocolOptions(TimePrecision.Nanoseconds, Decode.DefaultTime);
        Assert.True(LineProtocolParser.TryDecode("before v=0 1"u8, options, batch, out _));
        BatchMark before = batch.Mark();
        byte[] message = Encoding.UTF8.GetBytes("cpu v=1\ncpu,host v=2\ncpu v=\ncpu time=1\ncpu v=3\n");

        Assert.False(LineProtocolParser.TryDecode(message, options, batch, out IngestError error, out int rejected));

        Assert.Equal(before, batch.Mark());
        Assert.Equal(3, rejected);
        LineError first = Decode.Parse(message).Errors[0];
        Assert.Equal(new IngestError(IngestErrorKind.Syntax, null, 2, first.Reason), error);
        Assert.Equal($"line 2: {first.Reason}", error.ToString());

        // The thread's error collector starts clean for the next message.
        Assert.False(LineProtocolParser.TryDecode("m v="u8, options, batch, out error, out rejected));
        Assert.Equal((1, IngestErrorKind.Missing), (rejected, error.Kind));
        Assert.True(LineProtocolParser.TryDecode("m v=1"u8, options, batch, out error));
        Assert.Equal(default, error);
    }
}
