using System.Text;
using Plexus.Core;
using Plexus.Ingest.SenML;

namespace Plexus.Ingest.Tests.SenML;

/// <summary>
/// Allocation budget: once the batch and the shared array pools have warmed up, decoding good packs allocates
/// nothing. Bytes allocated by the current thread are deterministic, unlike timings.
/// </summary>
public sealed class SenMlAllocationTests
{
    private static readonly byte[][] Packs =
    [
        // RFC 8428 §5.1.2: relative times, so records are sorted into points.
        Encoding.UTF8.GetBytes(
            """
            [{"bn":"urn:dev:ow:10e2073a0108006:","bt":1.276020076001e+09,"bu":"A","bver":5,"n":"voltage","u":"V","v":120.1},
             {"n":"current","t":-5,"v":1.2},{"n":"current","t":-4,"v":1.3},{"n":"current","t":-3,"v":1.4},
             {"n":"current","t":-2,"v":1.5},{"n":"current","t":-1,"v":1.6},{"n":"current","v":1.7}]
            """),

        // Every value type, a sum, escapes, an ignored extension label and a name that is only the device.
        Encoding.UTF8.GetBytes(
            """
            [{"bn":"urn:dev:ow:10e2073a01080063:","bs":10,"n":"temp","u":"Cel","v":23.1},
             {"n":"label","vs":"Machine \"Room\" \u00e9"},{"n":"open","vb":false},{"n":"nfc-reader","vd":"aGkgCg"},
             {"n":"energy","u":"J","s":5.5,"ext":{"a":[1,2]}},{"n":"a\/b","v":1},
             {"bn":"urn:dev:ow:10e2073a01080063","u":"%RH","v":40}]
            """),

        // A larger pack: 40 records over 8 times, more than the pool's first 16-record array holds.
        Encoding.UTF8.GetBytes(
            "[" + string.Join(",", Enumerable.Range(0, 40).Select(i => $$$"""{"bn":"dev-1:","bt":1700000000,"n":"s{{{i % 5}}}","t":{{{i / 5}}},"v":{{{i}}}}""")) + "]"),
    ];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decoding_typical_packs_into_a_warm_batch_allocates_nothing(bool includeUnits)
    {
        var options = new SenMlOptions("senml", "dev-1", 1_700_000_000_000_000_000) { IncludeUnits = includeUnits };
        var batch = new PointBatch(16);

        // Warm up: grow the batch's arrays, fill the array pools and get every path compiled.
        for (int i = 0; i < 3; i++)
        {
            batch.Reset();
            DecodeAll(options, batch);
        }

        batch.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        DecodeAll(options, batch);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(100 * (6 + 1 + 8), batch.Count);
        Assert.Equal(0, allocated);
    }

    private static void DecodeAll(in SenMlOptions options, PointBatch batch)
    {
        for (int i = 0; i < 100; i++)
        {
            foreach (byte[] pack in Packs)
            {
                Assert.True(SenMlDecoder.TryDecode(pack, options, batch, out IngestError error), error.ToString());
            }
        }
    }
}
