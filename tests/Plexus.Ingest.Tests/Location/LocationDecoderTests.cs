using System.Text;
using Plexus.Core;
using Plexus.Ingest.Location;

namespace Plexus.Ingest.Tests.Location;

public sealed class LocationDecoderTests
{
    [Fact]
    public void Decoding_positions_allocates_nothing_once_the_batch_has_grown()
    {
        byte[] single = Encoding.UTF8.GetBytes("""{"lat": 52.52, "lon": 13.405, "alt": 34.5, "speed": 12.5, "heading": 270, "accuracy": 5, "ts": "2026-01-02T03:04:05.123+01:00"}""");
        byte[] many = Encoding.UTF8.GetBytes("""[{"lat": -33.86, "lon": 151.2, "ts": 1767323046000}, {"lat": 0, "lon": -180, "time": 1767323047000.5}]""");
        var batch = new PointBatch(16);
        for (int i = 0; i < 10; i++)
        {
            Decode(single, many, batch);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            Decode(single, many, batch);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Times_are_epoch_milliseconds_or_iso_8601_with_an_offset_and_the_newest_position_is_reported()
    {
        var batch = new PointBatch(4);
        Assert.True(LocationDecoder.TryDecode(
            """[{"lat": 1, "lon": 2, "ts": "2026-01-02T04:04:05.5+01:00"}, {"lat": 3, "lon": 4, "ts": 1767323044000}]"""u8, new LocationOptions("d1", 7), batch, out var newest, out IngestError error), error.ToString());

        Assert.Equal(1_767_323_045_500_000_000, batch[0].Timestamp);
        Assert.Equal(1_767_323_044_000_000_000, batch[1].Timestamp);
        Assert.Equal(new LocationFix(1, 2, 1_767_323_045_500_000_000), newest);
        Assert.True(LocationDecoder.TryDecode("""{"lat": 1, "lon": 2}"""u8, new LocationOptions("d1", 7), batch, out newest, out _));
        Assert.Equal(7, newest.TimeNs);
    }

    [Theory]
    [InlineData("""{"lat": 95, "lon": 13}""", IngestErrorKind.Range, "$.lat: 95 is outside [-90, 90]")]
    [InlineData("""{"lat": 52, "lon": -181}""", IngestErrorKind.Range, "$.lon: -181 is outside [-180, 180]")]
    [InlineData("""{"lat": "52", "lon": 13}""", IngestErrorKind.Type, "$.lat: must be a number, not a string")]
    [InlineData("""{"lat": 52}""", IngestErrorKind.Missing, "$: lon is required (a position needs lat and lon)")]
    [InlineData("""{"lat": 52, "lon": 13, "speed": true}""", IngestErrorKind.Type, "$.speed: must be a number, not a boolean")]
    [InlineData("""[{"lat": 1, "lon": 2}, {"lat": 1, "lon": 2, "colour": 3}]""", IngestErrorKind.Unsupported, "$[1]: unknown field \"colour\"; a position has lat, lon, alt, speed, heading, accuracy and ts")]
    [InlineData("""[{"lat": 1, "lon": 2}, 5]""", IngestErrorKind.Type, "$[1]: each position must be a JSON object, not a number")]
    [InlineData("""{"lat": 1, "lon": 2, "time": "2026-01-02T03:04:05"}""", IngestErrorKind.Syntax, "$.ts: an ISO 8601 time needs Z or an offset (like 2026-01-02T03:04:05Z)")]
    [InlineData("""{"lat": 1, "lon": 2, "ts": 1e30}""", IngestErrorKind.Range, "$.ts: the time is out of range (1677-09-21 to 2262-04-11)")]
    [InlineData("""[]""", IngestErrorKind.Missing, "the array holds no positions")]
    [InlineData("""true""", IngestErrorKind.Type, "$: expected a JSON object like {\"lat\": 52.52, \"lon\": 13.40} or an array of them, not a boolean")]
    public void Bad_position_names_the_path_and_the_fix(string payload, IngestErrorKind kind, string message)
    {
        var batch = new PointBatch(4);
        Assert.False(LocationDecoder.TryDecode(Encoding.UTF8.GetBytes(payload), new LocationOptions("d1", 7), batch, out IngestError error));

        Assert.Equal(kind, error.Kind);
        Assert.Equal(message, error.ToString());
    }

    [Fact]
    public void Invalid_json_is_reported_with_the_readers_own_words_as_devices_have_always_been_answered()
    {
        var batch = new PointBatch(4);
        Assert.False(LocationDecoder.TryDecode("""{"lat": 1, "lon":"""u8, new LocationOptions("d1", 7), batch, out IngestError error));

        Assert.Equal(IngestErrorKind.Syntax, error.Kind);
        Assert.StartsWith("invalid JSON at byte ", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("LineNumber: 0", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_message_leaves_nothing_of_itself_but_keeps_what_the_batch_held_before()
    {
        var batch = new PointBatch(4);
        Assert.True(LocationDecoder.TryDecode("""{"lat": 1, "lon": 2}"""u8, new LocationOptions("d1", 7), batch, out _));

        Assert.False(LocationDecoder.TryDecode("""[{"lat": 3, "lon": 4}, {"lat": 95, "lon": 4}]"""u8, new LocationOptions("d1", 7), batch, out var newest, out _));

        Assert.Equal(1, batch.Count);
        Assert.Equal(default, newest);
        Assert.True(LocationDecoder.TryDecode("""{"lat": 5, "lon": 6}"""u8, new LocationOptions("d1", 7), batch, out _));
        Assert.Equal(2, batch.Count);
    }

    private static void Decode(byte[] single, byte[] many, PointBatch batch)
    {
        batch.Reset();
        Assert.True(LocationDecoder.TryDecode(single, new LocationOptions("truck-7", 1), batch, out _, out IngestError error), error.ToString());
        Assert.True(LocationDecoder.TryDecode(many, new LocationOptions("truck-7", 1), batch, out _, out error), error.ToString());
    }
}
