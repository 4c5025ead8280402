using System.Text;
using Plexus.Ingest.State;

namespace Plexus.Ingest.Tests.State;

public sealed class StatePayloadTests
{
    [Fact]
    public void Nested_objects_are_flattened_with_underscores_and_every_kind_keeps_its_text()
    {
        Assert.True(StatePayload.TryDecode(
            """{"firmware": "1.2.0", "battery": 87.50, "charging": false, "net": {"rssi": -70, "lte": {"band": 20}}, "slots": [1, 2], "note": null}"""u8,
            out var properties,
            out long? time,
            out IngestError error),
            error.ToString());

        Assert.Null(time);
        Assert.Equal(
            [
                new StateProperty("firmware", "1.2.0", null, StateValueKind.String),
                new StateProperty("battery", "87.50", 87.5, StateValueKind.Number),
                new StateProperty("charging", "false", 0, StateValueKind.Boolean),
                new StateProperty("net_rssi", "-70", -70, StateValueKind.Number),
                new StateProperty("net_lte_band", "20", 20, StateValueKind.Number),
                new StateProperty("slots", "[1, 2]", null, StateValueKind.Json),
                new StateProperty("note", "null", null, StateValueKind.Null),
            ],
            properties);
    }

    [Theory]
    [InlineData("""{"ts": 1767323045500, "a": 1}""", 1_767_323_045_500_000_000)]
    [InlineData("""{"a": 1, "time": "2026-01-02T04:04:05.5+01:00"}""", 1_767_323_045_500_000_000)]
    public void Ts_or_time_is_the_reports_time_not_a_property(string payload, long expected)
    {
        Assert.True(StatePayload.TryDecode(Encoding.UTF8.GetBytes(payload), out var properties, out long? time, out IngestError error), error.ToString());

        Assert.Equal(expected, time);
        Assert.Equal("a", Assert.Single(properties).Name);
    }

    [Theory]
    [InlineData("[1, 2]", IngestErrorKind.Type, "$: expected a JSON object of properties like {\"firmware\": \"1.2.0\", \"battery\": 87}, not array")]
    [InlineData("{}", IngestErrorKind.Missing, "the message reports no properties")]
    [InlineData("""{"ts": 1}""", IngestErrorKind.Missing, "the message reports no properties")]
    [InlineData("""{"Online": true}""", IngestErrorKind.Name, "$.Online: \"online\" is set by the broker from the device's connections and cannot be reported")]
    [InlineData("""{"": 1}""", IngestErrorKind.Name, "$.: property names must be 1–128 characters without control characters")]
    [InlineData("""{"a\u0001": 1}""", IngestErrorKind.Name, "$.a\u0001: property names must be 1–128 characters without control characters")]
    [InlineData("""{"a": 1e999}""", IngestErrorKind.Range, "$.a: the number is out of range")]
    [InlineData("""{"a": 1, "ts": 99999999999999999}""", IngestErrorKind.Range, "$.ts: epoch milliseconds out of range (1677-09-21 to 2262-04-11)")]
    [InlineData("""{"a": 1, "time": "2026-01-02T03:04:05"}""", IngestErrorKind.Syntax, "$.time: not an ISO 8601 date and time with Z or an offset (like 2026-01-02T03:04:05Z)")]
    [InlineData("""{"a": 1, "ts": true}""", IngestErrorKind.Type, "$.ts: must be epoch milliseconds or an ISO 8601 string, not true")]
    public void Bad_state_names_the_path_and_the_fix(string payload, IngestErrorKind kind, string message)
    {
        Assert.False(StatePayload.TryDecode(Encoding.UTF8.GetBytes(payload), out _, out _, out IngestError error));

        Assert.Equal(kind, error.Kind);
        Assert.Equal(message, error.ToString());
    }

    [Fact]
    public void Invalid_json_names_the_readers_reason()
    {
        Assert.False(StatePayload.TryDecode("""{"a": """u8, out _, out _, out IngestError error));

        Assert.Equal(IngestErrorKind.Syntax, error.Kind);
        Assert.StartsWith("invalid JSON: ", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Limits_on_properties_and_value_length_are_enforced()
    {
        string many = "{" + string.Join(", ", Enumerable.Range(0, StatePayload.MaxProperties + 1).Select(i => $"\"p{i}\": {i}")) + "}";
        Assert.False(StatePayload.TryDecode(Encoding.UTF8.GetBytes(many), out _, out _, out IngestError error));
        Assert.Equal((IngestErrorKind.TooLarge, "more than 256 properties in one message"), (error.Kind, error.ToString()));

        string longValue = $$"""{"a": "{{new string('x', StatePayload.MaxValueLength + 1)}}"}""";
        Assert.False(StatePayload.TryDecode(Encoding.UTF8.GetBytes(longValue), out _, out _, out error));
        Assert.Equal((IngestErrorKind.TooLarge, "$.a: values are at most 4096 characters"), (error.Kind, error.ToString()));

        string deep = """{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": 1}}}}}}}}}}""";
        Assert.False(StatePayload.TryDecode(Encoding.UTF8.GetBytes(deep), out _, out _, out error));
        Assert.StartsWith("invalid JSON: ", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Name_with_an_unpaired_surrogate_is_refused_without_throwing()
    {
        bool decoded = StatePayload.TryDecode("""{"\ud800": 1}"""u8, out _, out _, out IngestError error);

        Assert.False(decoded);
        Assert.Equal(IngestErrorKind.Syntax, error.Kind);
        Assert.StartsWith("invalid JSON: ", error.ToString(), StringComparison.Ordinal);
    }
}
