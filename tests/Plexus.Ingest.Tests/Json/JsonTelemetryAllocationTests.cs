using System.Text;
using Plexus.Core;
using Plexus.Ingest.Json;

namespace Plexus.Ingest.Tests.Json;

/// <summary>
/// Allocation budget: once a batch has grown, decoding good messages allocates nothing. Bytes allocated by the
/// current thread are deterministic, unlike timings, so this is a test rather than a benchmark.
/// </summary>
public sealed class JsonTelemetryAllocationTests
{
    private static readonly byte[] Single = Encoding.UTF8.GetBytes(
        """
        {"ts": "2023-11-14T22:13:20.123456789+01:00", "temp": 21.5, "hum": 40, "on": true, "mode": "eco",
         "note": "caf\u00e9 \"q\"", "engine": {"rpm": 3000, "oil": {"pressure": 3.2, "ok": false}}, "gone": null,
         "dup": 1, "dup": 2, "k\u0065y": 7}
        """);

    private static readonly byte[] Array = Encoding.UTF8.GetBytes(
        "[" + string.Join(", ", Enumerable.Range(0, 20).Select(i =>
            $$$"""{"ts": {{{1_700_000_000_000L + i}}}.5, "temp": {{{i}}}.5, "status": "ok", "gps": {"lat": 52.1, "lon": 4.3}}""")) + "]");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decoding_typical_messages_into_a_warm_batch_allocates_nothing(bool integersAsIntegers)
    {
        var options = new JsonTelemetryOptions("telemetry", "dev-1", 1_700_000_000_000_000_000) { IntegersAsIntegers = integersAsIntegers };
        var batch = new PointBatch(16);

        // Warm up: grow the batch's arrays and get every path compiled.
        for (int i = 0; i < 3; i++)
        {
            batch.Reset();
            DecodeAll(options, batch);
        }

        batch.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        DecodeAll(options, batch);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(100 * 21, batch.Count);
        Assert.Equal(0, allocated);
    }

    private static void DecodeAll(in JsonTelemetryOptions options, PointBatch batch)
    {
        for (int i = 0; i < 100; i++)
        {
            Assert.True(JsonTelemetryDecoder.TryDecode(Single, options, batch, out _));
            Assert.True(JsonTelemetryDecoder.TryDecode(Array, options, batch, out _));
        }
    }
}
