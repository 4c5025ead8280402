using System.Globalization;
using System.Text;
using Plexus.Core;
using Plexus.Ingest.LineProtocol;

namespace Plexus.Ingest.Tests.LineProtocol;

/// <summary>
/// Allocation budget: once a batch has grown, decoding good lines allocates nothing. Bytes allocated by the
/// current thread are deterministic, unlike timings, so this is a test rather than a benchmark.
/// </summary>
public sealed class LineProtocolAllocationTests
{
    [Fact]
    public void Parsing_ten_thousand_good_lines_into_a_warm_batch_allocates_nothing()
    {
        byte[] input = TenThousandVariedLines();
        var batch = new PointBatch(16);
        var errors = new LineErrorSink();
        var options = new LineProtocolOptions(TimePrecision.Nanoseconds, 1_700_000_000_000_000_000);

        // Warm up: grow the batch's arrays and get every path compiled.
        for (int i = 0; i < 3; i++)
        {
            batch.Reset();
            LineProtocolParser.Parse(input, 1, options, batch, errors);
        }

        batch.Reset();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int lines = LineProtocolParser.Parse(input, 1, options, batch, errors);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(10_000, lines);
        Assert.Equal(10_000, batch.Count);
        Assert.Equal(0, errors.Count);
        Assert.Equal(0, allocated);
    }

    private static byte[] TenThousandVariedLines()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 10_000; i++)
        {
            // TSBS-like readings, plus the slower paths: escapes, strings, unsigned, booleans, duplicate
            // fields, unsorted tags, CRLF, exponent floats and values beyond the fast float path.
            string line = (i % 5) switch
            {
                0 => $"readings,name=truck_{i},fleet=South,driver=Trish,model=H-2,device_version=v2.3 latitude=72.45,longitude=68.83,elevation=1239,velocity=0,heading=221,grade=0,fuel_consumption=25 {1451606400000000000L + i}",
                1 => $"diagnostics,name=truck_{i},fleet=East fuel_state=0.{i},current_load={i}i,status=0i,ok=true {1451606400000000000L + i}",
                2 => $"esc\\ aped\\,m,k\\=ey=v\\ al\\,ue,a=1 s=\"quote \\\" and \\\\ ok\",u={i}u,f=-1.5e-3,f=2.5E+10\r",
                3 => $"m,z=1,y=2,x=3 v=0.12345678901234567890123,w={i}.{i}",
                _ => $"ünïcödé,ключ=значение поле=\"текст {i}\",b=F",
            };
            text.Append(line).Append('\n');
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
